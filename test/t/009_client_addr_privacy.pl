# 009_client_addr_privacy.pl: connections and pools show another role's
# client_addr only to members of pg_read_all_stats, as pg_stat_activity
# does; a role always sees its own.  pg_monitor includes pg_read_all_stats,
# so the role that must not see is granted the views directly.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PoolMonitorTest;
use PoolMonitorBench qw(hold_idle_sessions release_held);

my $node = pm_node('privacy', conf => "listen_addresses = '127.0.0.1'\n");
$node->append_conf('pg_hba.conf', "host all all 127.0.0.1/32 trust\n");
$node->reload;
$node->safe_psql('postgres', q{
	CREATE ROLE alice LOGIN IN ROLE pg_monitor;
	CREATE ROLE bob LOGIN;
	GRANT USAGE ON SCHEMA pool_monitor TO bob;
	GRANT SELECT ON pool_monitor.connections, pool_monitor.pools TO bob;
	GRANT EXECUTE ON FUNCTION pool_monitor.get_connections(),
	                          pool_monitor.get_pools_exact() TO bob;
	CREATE ROLE carol LOGIN IN ROLE pg_monitor});

my $held = hold_idle_sessions($node, 2, seconds => 120, user => 'alice',
	host => '127.0.0.1', appname => 'alice_app');
$node->poll_query_until('postgres', q{
	SELECT pool_monitor.sample_now() IS NOT NULL AND
	       (SELECT count(*) = 2 FROM pool_monitor.connections
	         WHERE application_name = 'alice_app' AND state = 'idle')})
  or die 'alice never connected';

my $seen = q{
	SELECT (SELECT string_agg(coalesce(host(client_addr), 'hidden'), ',')
	          FROM pool_monitor.connections WHERE application_name = 'alice_app') || '|' ||
	       (SELECT coalesce(host(client_addr), 'hidden')
	          FROM pool_monitor.pools WHERE application_name = 'alice_app')};
for my $case ([ 'bob', 'hidden,hidden|hidden', 'a role granted the views but not pg_read_all_stats' ],
	[ 'carol', '127.0.0.1,127.0.0.1|127.0.0.1', 'a pg_monitor member (so pg_read_all_stats)' ],
	[ 'alice', '127.0.0.1,127.0.0.1|127.0.0.1', 'the role itself' ],
	[ 'postgres', '127.0.0.1,127.0.0.1|127.0.0.1', 'a superuser' ])
{
	my ($role, $expected, $who) = @$case;
	is($node->safe_psql('postgres', "SET ROLE $role; $seen"), $expected,
		"$who sees: $expected");
}

release_held($held);
$node->stop;
done_testing();

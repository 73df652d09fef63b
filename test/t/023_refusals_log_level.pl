# 023_refusals_log_level.pl: refusals (SQLSTATE 53300) are counted as their
# FATAL is logged, which it is at every log_min_messages but "panic".  At
# "panic" they cannot be counted, and whoever reads summary or rejections
# is told so with a WARNING; at "fatal" they are counted and nothing is
# said.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PoolMonitorTest;

my $node = pm_node('refusals_log_level', conf => "log_min_messages = panic\n");
$node->safe_psql('postgres', 'CREATE ROLE limited LOGIN CONNECTION LIMIT 1');

# the second session of a role limited to one is refused with 53300
sub refuse_one
{
	my $held = hold_session($node, 'held', 'idle', user => 'limited');
	my ($ret, $out, $err) = $node->psql('postgres', 'SELECT 1',
		extra_params => [ '-U', 'limited' ]);
	release_sessions($node, $held);
	return $err;
}

like(refuse_one(), qr/too many connections for role "limited"/,
	'a second session of the role is refused');
my ($ret, $out, $err) = $node->psql('postgres',
	'SELECT connections_rejected FROM pool_monitor.summary');
is($out, '0', 'at log_min_messages = panic the refusal is not counted');
like($err,
	qr/WARNING:  pool_monitor does not count refused connections while log_min_messages is "panic"/,
	'and reading summary says so');
like($err, qr/HINT:  Set log_min_messages to "fatal" or a lower level\./,
	'with what to do');
($ret, $out, $err) = $node->psql('postgres',
	'SELECT sum(rejected) FROM pool_monitor.rejections');
like($err, qr/does not count refused connections/, 'so does reading rejections');

$node->safe_psql('postgres', q{
	ALTER SYSTEM SET log_min_messages = fatal;
	SELECT pg_reload_conf()});
$node->poll_query_until('postgres', 'SHOW log_min_messages', 'fatal')
  or die 'log_min_messages was not reloaded';
refuse_one();
($ret, $out, $err) = $node->psql('postgres',
	'SELECT connections_rejected FROM pool_monitor.summary');
is($out, '1', 'at log_min_messages = fatal the next refusal is counted');
is($err, '', 'and nothing is said');

$node->stop;
done_testing();

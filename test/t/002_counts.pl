# 002_counts.pl: with ten sessions held idle, active, waiting on a lock and
# idle in transaction, summary, pools and connections agree exactly with
# pg_stat_activity at the same sample.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PoolMonitorTest;

my $node = pm_node('counts');
$node->safe_psql('postgres', 'CREATE TABLE locked (id int)');

my @held;
push @held, hold_session($node, 'app_idle', 'idle') for 1 .. 4;
push @held, hold_session($node, 'app_xact', 'idle in transaction',
	sql => 'LOCK TABLE locked');
push @held, hold_session($node, 'app_xact', 'idle in transaction') for 1 .. 2;
push @held, hold_session($node, 'app_aborted', 'aborted');
push @held, hold_session($node, 'app_active', 'active');
push @held, hold_session($node, 'app_active', 'active', sql => 'SELECT count(*) FROM locked');

# the lock waiter shows as waiting in pg_stat_activity before we sample
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
  or die 'lock waiter never waited';

# One session samples and reads pg_stat_activity; the held sessions do not
# change state in between, and this session is active in both.
my $activity = q{
	SELECT count(*), count(*) FILTER (WHERE state IN ('active', 'fastpath function call')),
	       count(*) FILTER (WHERE state = 'idle'),
	       count(*) FILTER (WHERE state = 'idle in transaction'),
	       count(*) FILTER (WHERE state = 'idle in transaction (aborted)'),
	       count(*) FILTER (WHERE state = 'active' AND wait_event_type = 'Lock')
	  FROM pg_stat_activity WHERE backend_type = 'client backend'};
my $summary = q{
	SELECT total, active, idle, idle_in_transaction,
	       idle_in_transaction_aborted, waiting FROM pool_monitor.summary};
my ($sampled, $ours, $theirs) = split /\n/,
  $node->safe_psql('postgres',
	"SELECT pool_monitor.sample_now() IS NOT NULL; $summary; $activity");

is($ours, $theirs, 'summary counts equal pg_stat_activity');
is($ours, '11|3|4|3|1|1',
	'summary: 11 sessions, 3 active, 4 idle, 3 idle in transaction, 1 aborted, 1 waiting');

my $pools = q{
	SELECT application_name, total, active, idle, idle_in_transaction + idle_in_transaction_aborted, waiting
	  FROM pool_monitor.pools WHERE total > 0 ORDER BY 1};
my $pools_activity = q{
	SELECT application_name, count(*),
	       count(*) FILTER (WHERE state = 'active'),
	       count(*) FILTER (WHERE state = 'idle'),
	       count(*) FILTER (WHERE state LIKE 'idle in transaction%'),
	       count(*) FILTER (WHERE state = 'active' AND wait_event_type = 'Lock')
	  FROM pg_stat_activity WHERE backend_type = 'client backend'
	 GROUP BY datname, usename, application_name, client_addr ORDER BY 1};
my ($pool_rows, $activity_rows) = split /\n---\n/,
  $node->safe_psql('postgres',
	"SELECT pool_monitor.sample_now() IS NULL; $pools; SELECT '---'; $pools_activity");
$pool_rows =~ s/^f\n//;
is($pool_rows, $activity_rows, 'pools agree with pg_stat_activity grouped by pool');
like($pool_rows, qr/^app_xact\|3\|0\|0\|3\|0$/m, 'app_xact pool: 3 idle in transaction');

my $conn_check = q{
	SELECT count(*) FROM pool_monitor.connections c
	  FULL JOIN (SELECT * FROM pg_stat_activity
	              WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()) a
	    ON a.pid = c.pid AND a.backend_start = c.backend_start
	   AND a.state = c.state AND a.state_change = c.state_since
	   AND a.application_name = c.application_name
	 WHERE (a.pid IS NULL OR c.pid IS NULL) AND c.pid IS DISTINCT FROM pg_backend_pid()};
# this session's own state_change moves with each statement: left out
is( $node->safe_psql('postgres',
		"SELECT pool_monitor.sample_now() IS NULL; $conn_check"),
	"f\n0", 'connections match pg_stat_activity row for row');

is( $node->safe_psql('postgres', q{
	SELECT pool_monitor.sample_now() IS NULL;
	SELECT count(*) FROM pool_monitor.connections
	 WHERE (state LIKE 'idle%') <> (idle_for IS NOT NULL)}),
	"f\n0", 'idle_for is set exactly for idle sessions');

is( $node->safe_psql('postgres',
		'SELECT peak_total FROM pool_monitor.pools WHERE application_name = $$app_idle$$'),
	'4', 'peak_total of a pool');

release_sessions($node, @held);
sample_now($node);
is( $node->safe_psql('postgres', q{
	SELECT total || '|' || peak_total FROM pool_monitor.pools WHERE application_name = 'app_idle'}),
	'0|4', 'a pool whose sessions ended keeps its row and peak');

# names: sessions of two roles in two databases, interleaved, so that the
# connections view's per-call name lookups serve each row its own names
$node->safe_psql('postgres', 'CREATE ROLE other LOGIN; CREATE DATABASE otherdb');
my $superuser = $node->safe_psql('postgres', 'SELECT current_user');
my @mixed;
for my $i (1 .. 3)
{
	push @mixed, hold_session($node, 'names', 'idle');
	push @mixed, hold_session($node, 'names', 'idle', user => 'other');
	push @mixed, hold_session($node, 'names', 'idle', db => 'otherdb');
	push @mixed, hold_session($node, 'names', 'idle', db => 'otherdb', user => 'other');
}
is( $node->safe_psql('postgres', q{
	SELECT pool_monitor.sample_now() IS NULL;
	SELECT count(*) FROM pool_monitor.connections c
	  FULL JOIN (SELECT * FROM pg_stat_activity WHERE application_name = 'names') a
	    ON a.pid = c.pid AND a.datname = c.database AND a.usename = c.role
	 WHERE c.application_name = 'names' AND (a.pid IS NULL OR c.pid IS NULL)
	    OR c.pid IS NULL}),
	"f\n0", 'each connection has its own database and role name');
is( $node->safe_psql('postgres', q{
	SELECT string_agg(database || '/' || role || '=' || total, ' ' ORDER BY database, role)
	  FROM pool_monitor.pools WHERE application_name = 'names'}),
	join(' ', map { "$_=3" } sort "otherdb/other", "otherdb/$superuser",
		"postgres/other", "postgres/$superuser"),
	'four pools of three, one per database and role');
release_sessions($node, @mixed);

$node->stop;
done_testing();

# 080_exact_busy.pl: the exact busy figures (src/busy.h).  A barrier of
# sessions held inside one statement gives the exact peak.  A 40-way load
# of 2 ms statements, each recorded by its client, gives the peak and,
# within 5%, the mean concurrency of the statements as they ran, and no
# more than the client had in flight by its own clock.  And the edge
# cases: transaction blocks, errors and aborts, subtransactions, two-phase
# commit, a backend that exits while busy, a session that changes
# application_name, parallel workers, and the extension dropped and
# created again while a session is busy.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PoolMonitorTest;
use StatementLoad qw(run_statement_load concurrency);

my $node = pm_node('busy',
	conf => "max_connections = 80\nmax_prepared_transactions = 2\nlog_statement = none\n");
my $n = 6;

# a pool's exact figures: busy now, busy peak
sub pool_busy
{
	my ($app) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT busy || '|' || busy_peak FROM pool_monitor.pools
		 WHERE application_name = '$app'});
}

# wait until pool $app has $busy sessions busy now
sub wait_busy
{
	my ($app, $busy) = @_;
	return $node->poll_query_until('postgres', qq{
		SELECT busy = $busy FROM pool_monitor.pools
		 WHERE application_name = '$app'});
}

# --- the barrier: $n sessions held inside one statement each
my @held = map { hold_session($node, 'barrier', 'none', connect_as_app => 1) } 1 .. $n;
sample_now($node);    # gives the pool its slot
$node->safe_psql('postgres', 'SELECT pool_monitor.reset()');
is(pool_busy('barrier'), '0|0', 'no barrier session busy before the barrier');

my $gate = $node->background_psql('postgres');
$gate->query_safe('SELECT pg_advisory_lock(14)');
for my $s (@held)
{
	$s->{stdin} .= "\\echo running\nSELECT pg_advisory_xact_lock_shared(14);\n";
	$s->{run}->pump until $s->{stdout} =~ /running/;
	$s->{stdout} = '';
}
ok(wait_busy('barrier', $n), "all $n sessions busy inside their statement");
my ($secs_before) = $node->safe_psql('postgres',
	q{SELECT busy_seconds FROM pool_monitor.pools WHERE application_name = 'barrier'});
$gate->query_safe('SELECT pg_advisory_unlock(14)');
ok(wait_busy('barrier', 0), 'all of them idle once the barrier opens');
is(pool_busy('barrier'), "0|$n", "the exact busy peak is $n");
my $server_peak = $node->safe_psql('postgres',
	'SELECT busy_peak FROM pool_monitor.summary');
cmp_ok($server_peak, '>=', $n, "the server's busy peak counts them too");
cmp_ok($secs_before, '>', 0, 'busy time accrues while the sessions are held');

# pool_advice sizes from the exact peak: 6 busy plus 2 headroom
sample_now($node);
is($node->safe_psql('postgres', q{
	SELECT suggested_max_pool_size || '|' || busy_peak FROM pool_monitor.pool_advice
	 WHERE application_name = 'barrier'}), '8|6',
	'pool_advice suggests the exact busy peak plus headroom');
like($node->safe_psql('postgres', q{
	SELECT advice FROM pool_monitor.pool_advice WHERE application_name = 'barrier'}),
	qr/^Set Maximum Pool Size to 8: at most 6 sessions were busy at once \(counted at every transaction, not sampled\), plus 2 headroom\./,
	'and says the figure is exact');

# --- one session through the edge cases, in pool 'edge'
my $e = hold_session($node, 'edge', 'none', connect_as_app => 1);
sample_now($node);
$e->query_safe('BEGIN');
ok(wait_busy('edge', 1), 'a transaction block is busy while idle in it');
$e->query_safe('COMMIT');
ok(wait_busy('edge', 0), 'and idle after COMMIT');

$e->query('SELECT 1/0');
$e->{stderr} = '';
ok(wait_busy('edge', 0), 'an autocommit statement that fails ends its busy period');

$e->query_safe('BEGIN');
ok(wait_busy('edge', 1), 'a transaction block is busy');
$e->query('SELECT 1/0');
$e->{stderr} = '';
ok(wait_busy('edge', 0), 'an error in the block ends its busy period');
$e->query_safe('ROLLBACK');
ok(wait_busy('edge', 0), 'and the ROLLBACK of the failed block starts none');
$e->query_safe('SELECT 1');
ok(wait_busy('edge', 0), 'nor does it leave one open for the next statement');

$e->query_safe('BEGIN');
$e->query_safe('SAVEPOINT s');
$e->query('SELECT 1/0');
$e->{stderr} = '';
$e->query_safe('ROLLBACK TO SAVEPOINT s');
$e->query_safe('RELEASE SAVEPOINT s');
ok(wait_busy('edge', 1), 'a subtransaction rolled back leaves the block busy');
$e->query_safe('COMMIT');
ok(wait_busy('edge', 0), 'COMMIT of the block ends it');

$e->query_safe('BEGIN');
$e->query_safe('CREATE TABLE prepared_here (i int)');
$e->query_safe(q{PREPARE TRANSACTION 'busy14'});
ok(wait_busy('edge', 0), 'after PREPARE TRANSACTION the session is not busy');
$e->query_safe(q{COMMIT PREPARED 'busy14'});
ok(wait_busy('edge', 0), 'COMMIT PREPARED is one autocommit statement');

# application_name changes: the session still counts in the pool it opened into
$e->query_safe(q{SET application_name = 'edge_renamed'});
$e->query_safe('BEGIN');
ok(wait_busy('edge', 1), 'a renamed session counts in the pool it opened into');
sample_now($node);
is($node->safe_psql('postgres', q{
	SELECT coalesce(sum(busy), 0) FROM pool_monitor.pools
	 WHERE application_name = 'edge_renamed'}), '0',
	'and not in the pool of its new name');

# reset() while a session is busy: the peak restarts from it, the time from 0
$node->safe_psql('postgres', 'SELECT pool_monitor.reset()');
is($node->safe_psql('postgres', q{
	SELECT busy_peak || '|' || (busy_seconds >= 0 AND busy_seconds < 60)::int
	  FROM pool_monitor.pools WHERE application_name = 'edge'}), '1|1',
	'reset() during a busy period: peak 1, busy time counted from the reset');

# the extension dropped and created again while the session is busy
$node->safe_psql('postgres', 'DROP EXTENSION pool_monitor');
$node->safe_psql('postgres', 'CREATE EXTENSION pool_monitor');
ok(wait_busy('edge', 1), 'DROP and CREATE EXTENSION keep the count of a busy session');

# a backend that exits while busy
$e->quit;
ok(wait_busy('edge', 0), 'a backend that exits in a transaction is no longer busy');

my $k = hold_session($node, 'edge', 'idle in transaction', connect_as_app => 1);
ok(wait_busy('edge', 1), 'a new session of the pool idle in a transaction');
$node->safe_psql('postgres', "SELECT pg_terminate_backend($k->{pm_pid})");
ok(wait_busy('edge', 0), 'a terminated busy backend is no longer busy');

# parallel workers are not sessions: one session's parallel query is one busy
my $p = $node->background_psql('postgres');
$p->query_safe(q{CREATE TABLE big AS SELECT g AS i FROM generate_series(1, 200000) g});
$p->query_safe(q{SET max_parallel_workers_per_gather = 4; SET parallel_setup_cost = 0;
	SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0});
$p->query_safe('SELECT pool_monitor.reset()');
my $plan = $p->query_safe('EXPLAIN (ANALYZE, COSTS OFF) SELECT count(*) FROM big');
like($plan, qr/Workers Launched: [1-9]/, 'the query ran with parallel workers');
is($p->query_safe('SELECT busy_peak FROM pool_monitor.summary'), '1',
	'the busy peak counts the session once, not its workers');
$p->quit;

# --- 40 clients of 2 ms statements, each statement recorded by its client
# twice: when it was in flight (the client's clock) and when it ran (its
# own start and end, which the statement returns)
my $t0;
my $load = run_statement_load(
	node => $node, app => 'load40', clients => 40, sleep => 0.002,
	rate => 50, seconds => 4,
	start => sub {
		# the pool gets its slot, then the figures start from zero
		sample_now($node);
		$node->safe_psql('postgres', 'SELECT pool_monitor.reset()');
		$t0 = $node->safe_psql('postgres',
			'SELECT extract(epoch FROM stats_reset) FROM pool_monitor.summary');
	});
my ($busy_s, $peak, $t1) = split /\|/, $node->safe_psql('postgres', q{
	SELECT busy_seconds, busy_peak, extract(epoch FROM clock_timestamp())
	  FROM pool_monitor.pools WHERE application_name = 'load40'});
my ($ran_mean, $ran_peak) = concurrency($t0, $t1, map { [ $_->[2], $_->[3] ] } @$load);
my ($flight_mean, $flight_peak) = concurrency($t0, $t1, map { [ $_->[0], $_->[1] ] } @$load);
my $server_mean = $busy_s / ($t1 - $t0);
my $outside_us = 1e6 * ($flight_mean - $server_mean) * ($t1 - $t0) / @$load;
note(sprintf('40-way 2 ms load, %d statements: server mean %.3f peak %d; '
	  . 'statements ran mean %.3f peak %d; in flight at the client mean %.3f peak %d; '
	  . '%.0f us a statement in flight outside the server',
	scalar @$load, $server_mean, $peak, $ran_mean, $ran_peak, $flight_mean,
	$flight_peak, $outside_us));
cmp_ok(scalar @$load, '>', 4000, 'the load ran its statements');
# a busy period holds its statement: from before it runs to its commit
cmp_ok($server_mean, '>=', $ran_mean * 0.9999,
	'the exact mean busy is no less than the statements\' own mean concurrency');
cmp_ok(($server_mean - $ran_mean) / $ran_mean, '<', 0.05,
	'and within 5% of it');
cmp_ok($peak, '>=', $ran_peak, 'the exact peak is no less than the statements\' own peak');
# the client's interval holds the busy period, and the round trip besides
cmp_ok($server_mean, '<=', $flight_mean,
	'the exact mean busy is no more than the client\'s own mean in flight');
cmp_ok($peak, '<=', $flight_peak,
	'nor the exact peak than the client had in flight at once');

$_->quit for @held;
$gate->quit;
done_testing();

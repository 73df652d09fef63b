# 080_exact_busy.pl: the exact busy figures (src/busy.h): a barrier of
# sessions held inside one statement gives the exact peak, a 40-way load of
# 2 ms statements gives the client's own mean concurrency within 5%, and
# the edge cases: transaction blocks, errors and aborts, subtransactions,
# two-phase commit, a backend that exits while busy, a session that
# changes application_name, parallel workers, and the extension dropped
# and created again while a session is busy.
use strict;
use warnings;
use File::Temp qw(tempdir);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PoolMonitorTest;

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

# --- 40 clients of 2 ms statements: the client's own concurrency
$node->safe_psql('postgres', 'SELECT pool_monitor.reset()');
my $dir = tempdir(CLEANUP => 1);
PostgreSQL::Test::Utils::append_to_file("$dir/sleep.sql", "SELECT pg_sleep(0.002);\n");
{
	# the pool gets its slot at the first sample after pgbench connects
	# paced (-R, transactions per second across the clients) so that the
	# machine has CPU to spare: time a client waits for a CPU lies outside
	# any statement, where the server cannot see it
	my @cmd = ('pgbench', '-n', '-c', 40, '-j', 8, '-T', 6, '-R', 1000, '-l',
		"--log-prefix=$dir/tx", '-f', "$dir/sleep.sql",
		'-h', $node->host, '-p', $node->port, 'postgres');
	my ($out, $err);
	my $h = do
	{
		local $ENV{PGAPPNAME} = 'load40';
		IPC::Run::start(\@cmd, '>', \$out, '2>', \$err);
	};
	$node->poll_query_until('postgres', q{
		SELECT pool_monitor.sample_now() IS NOT NULL
		   AND EXISTS (SELECT FROM pool_monitor.pools
		                WHERE application_name = 'load40' AND total = 40)})
	  or do {
		$h->kill_kill;
		BAIL_OUT("pgbench did not connect: $err $out");
	  };
	$node->safe_psql('postgres', 'SELECT pool_monitor.reset()');
	my $t0 = $node->safe_psql('postgres', q{SELECT extract(epoch FROM stats_reset) FROM pool_monitor.summary});
	# the window: from reset() to a moment well inside the run
	$node->poll_query_until('postgres', qq{
		SELECT extract(epoch FROM clock_timestamp()) > $t0 + 2});
	my ($busy_s, $peak, $t1) = split /\|/, $node->safe_psql('postgres', q{
		SELECT busy_seconds, busy_peak, extract(epoch FROM clock_timestamp())
		  FROM pool_monitor.pools WHERE application_name = 'load40'});
	$h->finish or die "pgbench failed: $err";

	# the client's own record: each transaction's interval, from its log
	my @iv;
	for my $file (glob("$dir/tx.*"))
	{
		open my $fh, '<', $file or die $!;
		while (<$fh>)
		{
			my @f = split;
			next unless @f >= 7;
			# latency counts from the scheduled start; the lag is how late
			# the transaction actually started
			my $end = $f[4] + $f[5] / 1e6;
			push @iv, [ $end - ($f[2] - $f[6]) / 1e6, $end ];
		}
	}
	my $client_s = 0;
	my @events;
	for (@iv)
	{
		my ($a, $b) = ($_->[0] < $t0 ? $t0 : $_->[0], $_->[1] > $t1 ? $t1 : $_->[1]);
		next if $b <= $a;
		$client_s += $b - $a;
		push @events, [ $a, 1 ], [ $b, -1 ];
	}
	my ($cur, $client_peak) = (0, 0);
	for (sort { $a->[0] <=> $b->[0] || $a->[1] <=> $b->[1] } @events)
	{
		$cur += $_->[1];
		$client_peak = $cur if $cur > $client_peak;
	}
	my $server_mean = $busy_s / ($t1 - $t0);
	my $client_mean = $client_s / ($t1 - $t0);
	note(sprintf('40-way 2 ms load: server mean %.2f peak %d; client mean %.2f peak %d',
		$server_mean, $peak, $client_mean, $client_peak));
	# the client's intervals hold the server's, plus the round trip and the
	# client's own work: the server's mean is the smaller, and close
	cmp_ok($server_mean, '<=', $client_mean,
		'the exact mean busy is no more than the client\'s own mean in flight');
	cmp_ok(($client_mean - $server_mean) / $client_mean, '<', 0.10,
		'and within 10% of it: the difference is time outside the server');
	cmp_ok($peak, '<=', $client_peak,
		'the exact peak is no more than the client had in flight at once');
	cmp_ok($peak, '>=', $client_peak - 2,
		'and no fewer than the client had in flight, less those in transit');
}

$_->quit for @held;
$gate->quit;
done_testing();

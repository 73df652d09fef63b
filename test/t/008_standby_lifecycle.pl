# 008_standby_lifecycle.pl: sampling and the views work on a streaming hot
# standby; DROP EXTENSION and CREATE EXTENSION work while the worker runs
# (shared memory, and the history in it, outlive the extension's objects);
# postmaster death ends the worker.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use PoolMonitorTest;

my $primary = pm_node('primary', init => { allows_streaming => 1 });
$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);

ok( $standby->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pool_monitor'"),
	'the worker runs on the standby');
my @held = map { hold_session($standby, 'standby_app', 'idle') } 1 .. 3;
sample_now($standby);
is( $standby->safe_psql('postgres', q{
	SELECT pg_is_in_recovery() || '|' || total || '|' ||
	       (SELECT idle FROM pool_monitor.pools WHERE application_name = 'standby_app')
	  FROM pool_monitor.summary}),
	'true|4|3', 'the standby samples its own sessions');
release_sessions($standby, @held);
$standby->stop;

# lifecycle: drop and create again while the worker runs
sample_now($primary) for 1 .. 3;
my $history = $primary->safe_psql('postgres', 'SELECT count(*) FROM pool_monitor.history');
$primary->safe_psql('postgres', 'DROP EXTENSION pool_monitor');
$primary->safe_psql('postgres', 'CREATE EXTENSION pool_monitor');
sample_now($primary);
cmp_ok($primary->safe_psql('postgres', 'SELECT count(*) FROM pool_monitor.history'),
	'>', $history, 'after DROP and CREATE EXTENSION the history is still there');

# postmaster death ends the worker
my $worker = $primary->safe_psql('postgres', 'SELECT worker_pid FROM pool_monitor.summary');
$primary->kill9;
my $deadline = time + 30;
usleep(50_000) while kill(0, $worker) && time < $deadline;
ok(!kill(0, $worker), 'the worker exits when the postmaster dies');

done_testing();

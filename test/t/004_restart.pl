# 004_restart.pl: SIGTERM to the worker brings it back within its restart
# time, with history and counters intact since shared memory outlives it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PoolMonitorTest;

my $node = pm_node('restart');

sample_now($node) for 1 .. 3;
my ($pid, $samples, $history) = worker_progress($node);
ok($samples >= 4, "samples before the kill: $samples");

kill 'TERM', $pid;
ok( $node->poll_query_until('postgres', qq{
		SELECT count(*) = 1 FROM pg_stat_activity
		 WHERE backend_type = 'pool_monitor' AND pid <> $pid}),
	'the worker is back with a new pid');
ok($node->log_contains(qr/background worker "pool_monitor" \(PID $pid\) exited with exit code 1/),
	'it exited with code 1, so the postmaster restarted it');
ok(!$node->log_contains(qr/terminating any other active server processes/),
	'no crash-restart of the server');

sample_now($node);
my ($new_pid, $new_samples, $new_history) = worker_progress($node);
isnt($new_pid, $pid, 'summary shows the new worker');
cmp_ok($new_samples, '>', $samples, 'the sample counter went on');
cmp_ok($new_history, '>', $history, 'the history was kept and grew');

$node->stop;
done_testing();

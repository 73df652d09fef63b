# 012_cycle_error.pl: an ERROR inside a worker cycle ends the worker with
# exit code 1, and the postmaster restarts only the worker, never the
# whole server; the history and counters in shared memory outlive it.
# The ERROR comes from the hidden test setting pool_monitor.debug_fail_cycle
# (see docs/hardening.md).  Then an ERROR while the worker holds its lock,
# from pool_monitor.debug_fail_under_lock: the worker still exits, and a
# session that needs the lock meanwhile still starts.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PoolMonitorTest;

# cycles run on their own every 100 ms, so the failing one needs no request
my $node = pm_node('cycle_error', conf => "pool_monitor.sample_interval = '100ms'");

sample_now($node) for 1 .. 3;
my ($pid, $samples, $history) = worker_progress($node);
ok($samples >= 4, "samples before the failure: $samples");

# the setting is hidden from pg_settings
is($node->safe_psql('postgres',
	q{SELECT count(*) FROM pg_settings WHERE name = 'pool_monitor.debug_fail_cycle'}),
	'0', 'pg_settings does not list the test setting');
my $postmaster_pid = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');

my $offset = -s $node->logfile;
$node->safe_psql('postgres', 'ALTER SYSTEM SET pool_monitor.debug_fail_cycle = on');
$node->reload;
ok($node->wait_for_log(qr/background worker "pool_monitor" \(PID $pid\) exited with exit code 1/, $offset),
	'the worker exited with code 1');
my $log = substr(slurp_file($node->logfile), $offset);
like($log, qr/ERROR:  pool_monitor cycle failed on purpose\n(?:.*\n)*?.*DETAIL:  pool_monitor\.debug_fail_cycle is on\./,
	'the log shows the ERROR and its detail');
unlike($log, qr/terminating any other active server processes/,
	'no crash-restart of the server');
unlike($log, qr/server process .* was terminated by signal|all server processes terminated/,
	'no other process was ended');

# Reset a failure setting and wait until a worker other than $old_pid runs.
sub recover_from
{
	my ($setting, $old_pid) = @_;
	$node->safe_psql('postgres', "ALTER SYSTEM RESET $setting");
	$node->reload;
	return $node->poll_query_until('postgres', qq{
		SELECT count(*) = 1 FROM pg_stat_activity
		 WHERE backend_type = 'pool_monitor' AND pid <> $old_pid});
}

# turn it off: the next worker started comes back and stays
ok(recover_from('pool_monitor.debug_fail_cycle', $pid),
	'the worker is back with a new pid');
sample_now($node);
my ($new_pid, $new_samples, $new_history) = worker_progress($node);
isnt($new_pid, $pid, 'summary shows the new worker');
cmp_ok($new_samples, '>', $samples, 'the sample counter went on');
cmp_ok($new_history, '>', $history, 'the history was kept and grew');
is($node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'),
	$postmaster_pid, 'the postmaster never restarted');

# An ERROR while the worker holds its lock exclusively (nothing fails
# there by design; the hidden setting raises one): the exiting worker must
# release the lock before its exit callback takes it again, or it waits on
# itself, and with it every session whose start-up needs the lock.
$offset = -s $node->logfile;
$node->safe_psql('postgres', 'ALTER SYSTEM SET pool_monitor.debug_fail_under_lock = on');
$node->reload;
ok($node->wait_for_log(qr/background worker "pool_monitor" \(PID $new_pid\) exited with exit code 1/, $offset),
	'the worker that failed under its lock exited');
like(substr(slurp_file($node->logfile), $offset),
	qr/ERROR:  pool_monitor failed on purpose while holding its lock/,
	'the log shows the ERROR raised under the lock');
{
	# a new pool's first session takes the lock exclusively at start-up
	local $ENV{PGAPPNAME} = 'after_the_fault';
	is($node->safe_psql('postgres', 'SELECT 1', timeout => 60), '1',
		'a session of a new pool starts while the worker fails under its lock');
}
ok(recover_from('pool_monitor.debug_fail_under_lock', $new_pid),
	'the worker is back again');
sample_now($node);
is($node->safe_psql('postgres', q{
	SELECT opened FROM pool_monitor.pools WHERE application_name = 'after_the_fault'}),
	'1', 'the session that started meanwhile is credited to its pool');

# a role without pg_read_all_settings may not even read it
$node->safe_psql('postgres', 'CREATE ROLE plain LOGIN');
my ($ret, $out, $err) = $node->psql('postgres',
	'SHOW pool_monitor.debug_fail_cycle', extra_params => [ '-U', 'plain' ]);
isnt($ret, 0, 'SHOW fails for a plain role');
# the wording is 13 and 14's, 15's, and 16's on
like($err, qr/(?:must be superuser or (?:a member|have privileges) of pg_read_all_settings|permission denied) to examine "pool_monitor\.debug_fail_cycle"/,
	'because the setting is superuser-only');

$node->stop;
done_testing();

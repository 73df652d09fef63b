# 003_settings.pl: sample_interval reloads without a restart, and a bad
# value is refused at reload with a clear message while the old value stays.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PoolMonitorTest;

my $node = pm_node('settings');

# with the 1h default of these tests, the worker does not sample by itself
my $samples = $node->safe_psql('postgres', 'SELECT samples FROM pool_monitor.summary');

$node->append_conf('postgresql.conf', "pool_monitor.sample_interval = '150ms'\n");
$node->reload;
ok( $node->poll_query_until('postgres',
		"SELECT current_setting('pool_monitor.sample_interval') = '150ms'"),
	'the new interval is in force after reload');
ok( $node->poll_query_until('postgres',
		"SELECT samples >= $samples + 10 FROM pool_monitor.summary"),
	'the worker samples at the reloaded interval');

my $log_offset = -s $node->logfile;
$node->append_conf('postgresql.conf', "pool_monitor.sample_interval = 50\n");
$node->reload;
$node->wait_for_log(qr/contains errors; unaffected changes were applied/,
	$log_offset);
# from 17 on the range names its unit
ok($node->log_contains(
		qr/50 ms is outside the valid range for parameter "pool_monitor.sample_interval" \(100(?: ms)? \.\. 3600000(?: ms)?\)/,
		$log_offset),
	'the log says what is wrong and what is allowed');
is($node->safe_psql('postgres', 'SHOW pool_monitor.sample_interval'),
	'150ms', 'the old value stays');

$samples = $node->safe_psql('postgres', 'SELECT samples FROM pool_monitor.summary');
ok( $node->poll_query_until('postgres',
		"SELECT samples >= $samples + 3 FROM pool_monitor.summary"),
	'the worker keeps sampling after a refused reload');

$node->stop;
done_testing();

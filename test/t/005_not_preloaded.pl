# 005_not_preloaded.pl: without shared_preload_libraries, CREATE EXTENSION
# works but every view and function raises an error naming
# shared_preload_libraries, and nothing crashes.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PoolMonitorTest;

my $node = pm_node('not_preloaded', preload => 0);

for my $sql (
	'SELECT * FROM pool_monitor.summary',
	'SELECT * FROM pool_monitor.pools',
	'SELECT * FROM pool_monitor.connections',
	'SELECT * FROM pool_monitor.history',
	'SELECT pool_monitor.sample_now()',
	'SELECT pool_monitor.reset()')
{
	my ($ret, $stdout, $stderr) = $node->psql('postgres', $sql);
	isnt($ret, 0, "$sql fails");
	like($stderr,
		qr/ERROR:  pool_monitor must be loaded via "shared_preload_libraries".*HINT:  Add pool_monitor to shared_preload_libraries/s,
		"$sql says to preload it");
}

is($node->safe_psql('postgres', 'SELECT 1'), '1', 'the server is still up');
ok(!$node->log_contains(qr/server process .* was terminated by signal/),
	'no backend crashed');

$node->stop;
done_testing();

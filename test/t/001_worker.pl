# 001_worker.pl: the sampling worker starts with the server, shows in
# pg_stat_activity as backend_type pool_monitor, and publishes samples on
# its own at the configured interval.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PoolMonitorTest;

my $node = pm_node('worker', conf => "pool_monitor.sample_interval = '100ms'\n");

ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pool_monitor'"),
	'worker shows in pg_stat_activity as backend_type pool_monitor');

is( $node->safe_psql('postgres',
		"SELECT worker_pid = (SELECT pid FROM pg_stat_activity WHERE backend_type = 'pool_monitor') FROM pool_monitor.summary"),
	't', 'summary.worker_pid is the worker');

my $before = $node->safe_psql('postgres', 'SELECT samples FROM pool_monitor.summary');
ok( $node->poll_query_until('postgres',
		"SELECT samples >= $before + 5 FROM pool_monitor.summary"),
	'the worker samples on its own every sample_interval');

ok($node->log_contains(qr/pool_monitor worker started, sampling every 100 ms/),
	'the worker logs its start');

$node->stop;
done_testing();

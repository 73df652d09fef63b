# 051_exporter.pl: docs/prometheus/queries.yaml with the real
# postgres_exporter.  The test starts its own exporter on a free loopback
# port (whatever service the Debian package may run is left alone), points
# it at the test node with DATA_SOURCE_NAME, scrapes /metrics and checks
# the pool_monitor series against the views.
#
# matrix: once (what it tests does not depend on the server version)
use strict;
use warnings;
use Cwd qw(getcwd);
use HTTP::Tiny;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PoolMonitorTest;

my $exporter = '/usr/bin/prometheus-postgres-exporter';
my $queries = getcwd() . '/docs/prometheus/queries.yaml';
ok(-x $exporter, 'postgres_exporter is installed') or BAIL_OUT('no exporter');

# the idle policy ends idle sessions of over a second, only when
# prune_now() says so
my $node = pm_node('exporter', conf => q{
pool_monitor.idle_lifetime = 1
pool_monitor.min_idle_per_pool = 0
pool_monitor.prune_interval = '1d'
});
$node->safe_psql('postgres', 'CREATE ROLE app LOGIN');
my @held;
push @held, hold_session($node, 'api', 'idle') for 1 .. 3;
push @held, hold_session($node, 'worker', 'idle in transaction');

# a session of pool "pruned" that the idle policy ends (the others belong
# to the superuser, whom the policy leaves alone)
my $pruned = end_by_idle_policy($node, 'pruned', user => 'app');

my $port = PostgreSQL::Test::Cluster::get_free_port();
local $ENV{DATA_SOURCE_NAME} = sprintf(
	'host=%s port=%d user=postgres dbname=postgres sslmode=disable',
	$node->host, $node->port);
my ($out, $err) = ('', '');
my $run = IPC::Run::start(
	[ $exporter, "--web.listen-address=127.0.0.1:$port",
	  "--extend.query-path=$queries", '--disable-default-metrics',
	  '--disable-settings-metrics' ],
	'>', \$out, '2>', \$err);
# stop it however the test ends, dying included
END { $run->kill_kill if $run && $run->pumpable; }

# wait (bounded) until the exporter answers with our series
my $http = HTTP::Tiny->new(timeout => 10);
my ($body, $last) = ('', '');
for (1 .. 300)
{
	my $res = $http->get("http://127.0.0.1:$port/metrics");
	$last = $res->{content} // '';
	if ($res->{success} && $res->{content} =~ /^pool_monitor_usable_connections[{ ]/m)
	{
		$body = $res->{content};
		last;
	}
	$run->pump_nb;
	Time::HiRes::usleep(100_000);
}
ok($body ne '', 'the exporter serves pool_monitor series on loopback')
  or diag("exporter output: $out $err\nlast scrape:\n",
	join("\n", grep { !/^(# |go_|process_|promhttp_)/ } split /\n/, $last));

my ($usable, $samples) = split /\|/, $node->safe_psql('postgres',
	'SELECT usable_connections, samples FROM pool_monitor.summary');
like($body, qr/^pool_monitor_usable_connections(\{[^}]*\})? $usable$/m, 'usable connections');
like($body, qr/^pool_monitor_worker_up(\{[^}]*\})? 1$/m, 'worker up');
like($body, qr/^# TYPE pool_monitor_samples_total counter$/m, 'samples is a counter');
like($body, qr/^pool_monitor_samples_total(\{[^}]*\})? \d+$/m, 'samples counted');
like($body,
	qr/^pool_monitor_pool_connections\{(?=[^}]*application="api")(?=[^}]*state="idle")(?=[^}]*database="postgres")[^}]*\} 3$/m,
	'per-pool idle count of api');
like($body,
	qr/^pool_monitor_pool_connections\{(?=[^}]*application="worker")(?=[^}]*state="idle_in_transaction")[^}]*\} 1$/m,
	'per-pool idle in transaction of worker');
like($body,
	qr/^pool_monitor_pool_peak_connections\{(?=[^}]*application="api")[^}]*\} 3$/m,
	'per-pool peak');
like($body,
	qr/^pool_monitor_pool_terminated_total\{(?=[^}]*application="pruned")(?=[^}]*role="app")(?=[^}]*database="postgres")[^}]*\} 1$/m,
	'per-pool terminations of pruned');
like($body, qr/^pool_monitor_pool_terminated_total\{(?=[^}]*application="api")[^}]*\} 0$/m,
	'per-pool terminations of api: none');
# the longest idle in transaction of pool worker, as connections shows it
# in the latest sample, and no such series for the pools without
my $worker_iit = $node->safe_psql('postgres', q{
	SELECT extract(epoch FROM max(idle_for))::numeric FROM pool_monitor.connections
	 WHERE application_name = 'worker' AND state = 'idle in transaction'});
my ($worker_iit_series) = $body =~
  /^pool_monitor_pool_longest_idle_in_transaction_seconds\{(?=[^}]*application="worker")[^}]*\} (\S+)$/m;
ok(defined $worker_iit_series && $worker_iit ne ''
	  && abs($worker_iit_series - $worker_iit) < 1e-6,
	"per-pool longest idle in transaction of worker: $worker_iit s")
  or diag('series: ', $worker_iit_series // 'none', ', connections: ', $worker_iit);
is( join(' ', sort map { /application="([^"]*)"/ }
	  $body =~ /^pool_monitor_pool_longest_idle_in_transaction_seconds\{[^}]*\}/mg),
	'worker', 'only pool worker has a longest idle in transaction series');
# the counters, and the families the alerting rules read beside them,
# carry metrics()'s names and types
my $metrics = $node->safe_psql('postgres', 'SELECT pool_monitor.metrics()');
for my $family (qw(connections_opened_total connections_closed_total
	connections_rejected_total peak_connections terminated_total alerts_total
	pool_terminated_total pool_longest_idle_in_transaction_seconds))
{
	my ($type) = $metrics =~ /^# TYPE pool_monitor_$family (counter|gauge)$/m;
	$type //= 'missing';
	like($metrics, qr/^pool_monitor_$family[{ ]/m, "metrics() has pool_monitor_$family, a $type");
	like($body, qr/^# TYPE pool_monitor_$family $type$/m,
		"the exporter has pool_monitor_$family too, a $type");
}
like($body, qr/^pg_exporter_last_scrape_error(\{[^}]*\})? 0$/m,
	'no query of queries.yaml failed');

$run->kill_kill;
release_sessions($node, @held);
$pruned->{run}->kill_kill;
$node->stop;
done_testing();

# 051_exporter.pl: docs/prometheus/queries.yaml with the real
# postgres_exporter.  The test starts its own exporter on a free loopback
# port (whatever service the Debian package may run is left alone), points
# it at the test node with DATA_SOURCE_NAME, scrapes /metrics and checks
# the pool_monitor series against the views, the exact busy figures of a
# session held in a transaction among them.
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

# one session of pool "busyapp" held in a transaction: busy 1 in its pool.
# It opens into the pool, which gets its slot at the sample, so that its
# transaction counts there.
my $busy = hold_session($node, 'busyapp', 'none', connect_as_app => 1);
push @held, $busy;
sample_now($node);
$busy->query_safe('BEGIN');
$busy->query_safe('SELECT 1');

# a session of pool "pruned" that the idle policy ends (the others belong
# to the superuser, whom the policy leaves alone)
my $pruned = end_by_idle_policy($node, 'pruned', user => 'app');

my $port = PostgreSQL::Test::Cluster::get_free_port();
local $ENV{DATA_SOURCE_NAME} = sprintf(
	'host=%s port=%d user=postgres dbname=postgres sslmode=disable',
	$node->host, $node->port);
my ($out, $err) = ('', '');
# without the exporter's database and bgwriter collectors, whose queries
# run beside those of queries.yaml, the exporter runs one statement at a
# time, and the busy figures it reads count it once
my $run = IPC::Run::start(
	[ $exporter, "--web.listen-address=127.0.0.1:$port",
	  "--extend.query-path=$queries", '--disable-default-metrics',
	  '--disable-settings-metrics', '--no-collector.database',
	  '--no-collector.bgwriter' ],
	'>', \$out, '2>', \$err);
# stop it however the test ends, dying included
END { $run->kill_kill if $run && $run->pumpable; }

# wait (bounded) until the exporter answers with our series
my $http = HTTP::Tiny->new(timeout => 10);
my ($body, $last, $scraped_at) = ('', '', 0);
for (1 .. 300)
{
	$scraped_at = Time::HiRes::time();
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

# a series' value, or undef when there is none; $app selects the pool
sub series
{
	my ($name, $app) = @_;
	my $labels = defined $app
	  ? '\{(?=[^}]*application="' . quotemeta($app) . '")[^}]*\}'
	  : '(?:\{[^}]*\})?';
	my ($value) = $body =~ /^$name$labels (\S+)$/m;
	return $value;
}

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
my $worker_iit_series = series('pool_monitor_pool_longest_idle_in_transaction_seconds', 'worker');
ok(defined $worker_iit_series && $worker_iit ne ''
	  && abs($worker_iit_series - $worker_iit) < 1e-6,
	"per-pool longest idle in transaction of worker: $worker_iit s")
  or diag('series: ', $worker_iit_series // 'none', ', connections: ', $worker_iit);
is( join(' ', sort map { /application="([^"]*)"/ }
	  $body =~ /^pool_monitor_pool_longest_idle_in_transaction_seconds\{[^}]*\}/mg),
	'busyapp worker',
	'only pools busyapp and worker, which hold a session idle in transaction, have such a series');

# the exact busy figures, against the views read after the scrape: nothing
# but the test's own reads runs since, and each read counts itself busy
# once, as the exporter's query did; the peak may have been reached
# before, in the scrape or since
my ($srv_busy, $srv_peak, $srv_seconds) = split /\|/, $node->safe_psql('postgres',
	'SELECT busy, busy_peak, busy_seconds FROM pool_monitor.summary');
my ($pool_busy, $pool_peak, $pool_seconds) = split /\|/, $node->safe_psql('postgres', q{
	SELECT busy, busy_peak, busy_seconds FROM pool_monitor.pools
	 WHERE application_name = 'busyapp'});
my $read_at = Time::HiRes::time();

is(series('pool_monitor_busy_connections'), $srv_busy,
	"server-wide busy as summary.busy: $srv_busy (busyapp, worker's transaction, the reader)");
cmp_ok($srv_busy, '>=', 3, 'summary counts the two held transactions and its reader');
my $exp_peak = series('pool_monitor_busy_peak_connections') // -1;
ok($exp_peak >= $srv_busy && $exp_peak <= $srv_peak,
	"server-wide busy peak $exp_peak: no less than busy, no more than summary.busy_peak $srv_peak");
my $exp_seconds = series('pool_monitor_busy_seconds_total') // -1;
ok($exp_seconds > 0 && $exp_seconds <= $srv_seconds,
	"server-wide busy seconds $exp_seconds: above 0, no more than summary's $srv_seconds read later");
is(series('pool_monitor_pool_busy_connections', 'busyapp'), 1, 'pool busyapp: 1 busy');
is($pool_busy, 1, 'and pools says the same');
is(series('pool_monitor_pool_busy_peak_connections', 'busyapp'), $pool_peak,
	"pool busyapp: busy peak as pools.busy_peak, $pool_peak");
is(series('pool_monitor_pool_busy_connections', 'api'), 0,
	'pool api, whose sessions are idle: 0 busy');
# one session busy the whole time: busyapp's busy time grows with the
# clock, so pools (read later) is ahead by no more than the time from the
# scrape's request to the end of that read
my $pool_exp_seconds = series('pool_monitor_pool_busy_seconds_total', 'busyapp') // -1;
my $ahead = $pool_seconds - $pool_exp_seconds;
ok($pool_exp_seconds > 0 && $ahead >= 0 && $ahead <= $read_at - $scraped_at,
	sprintf('pool busyapp: busy seconds %s, pools %.6f later, ahead by %.3f s of at most %.3f s',
		$pool_exp_seconds, $pool_seconds, $ahead, $read_at - $scraped_at));

# the counters, and the families the alerting rules read beside them,
# carry metrics()'s names and types
my $metrics = $node->safe_psql('postgres', 'SELECT pool_monitor.metrics()');
for my $family (qw(connections_opened_total connections_closed_total
	connections_rejected_total peak_connections terminated_total alerts_total
	pool_terminated_total pool_longest_idle_in_transaction_seconds
	busy_connections busy_peak_connections busy_seconds_total
	pool_busy_connections pool_busy_peak_connections pool_busy_seconds_total))
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

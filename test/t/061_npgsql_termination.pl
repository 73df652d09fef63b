# 061_npgsql_termination.pl: what ending an idle pooled connection on the
# server does to Npgsql 10, measured on the orders API (test/npgsql)
# with the user's connection string, and the same with Npgsql's
# Keepalive on.  docs/npgsql-pooling.md states these results:
#
#   Keepalive off (the default): Npgsql notices nothing until a request
#   draws the dead connection; that one request fails with
#   PostgresException 57P01; Npgsql then clears the whole pool (every idle
#   connection closed); the next request succeeds on a new connection,
#   and the next wave of 100 pays for 100 new connections.
#
#   Keepalive=1: the keepalive finds the dead connection within about a
#   second and clears the whole pool; no request fails.  But every
#   keepalive round trip makes the server see the connection as freshly
#   idle, a leaked one too, so pool_monitor's idle_lifetime never
#   reaches it.
#
# The idle session is ended by pool_monitor itself: idle_lifetime 1 s and
# a floor of 99 let prune_now() end exactly one of a pool of 100, the
# longest idle.  Figures are printed with diag.
#
# matrix: once (Npgsql's behaviour does not depend on the server version;
# it runs on 16, Railway's default)
use strict;
use warnings;
use lib 'test/npgsql';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use PoolMonitorTest;
use NpgsqlApi;

npgsql_build();

my $node = pm_node('npgsql_termination', conf => npgsql_conf() . q{
max_connections = 130
pool_monitor.prune_interval = '1d'
pool_monitor.idle_lifetime = 1
pool_monitor.min_idle_per_pool = 99
pool_monitor.log_interval = 0
});
$node->safe_psql('postgres', 'CREATE ROLE orders_api LOGIN');

sub npgsql_total
{
	my ($api) = @_;
	my (undef, $f) = api_get($api, '/pool');
	return $f->{idle} + $f->{used};
}

# One wave of 100 concurrent requests, after a wave at /pool that warms
# the driver and its HTTP connections but not Npgsql's pool.
sub wave
{
	my ($api) = @_;
	return drive($api, concurrency => 100, waves => 2, 'warmup-waves' => 1,
		'warmup-url' => '/pool');
}

# Warm a pool of 100 with waves of 100; returns a warm wave's p95.
sub warm
{
	my ($api) = @_;
	drive($api, concurrency => 100, waves => 3);
	return wave($api)->{p95};
}

# Send up to $n requests one after the other; stop at the first failure.
# Returns (index of the failure or 0, its answer, requests sent).
sub sequential
{
	my ($api, $n) = @_;
	for my $i (1 .. $n)
	{
		my ($status, $body) = api_get($api, "/orders/$i");
		return ($i, $body, $i) if $status != 200;
	}
	return (0, undef, $n);
}

# --- Keepalive off: the user's connection string as it is
my $api = api_start($node);
my $warm_p95 = warm($api);
is(npgsql_total($api), 100, 'a warm pool of 100');
ok( $node->poll_query_until('postgres', q{
	SELECT pool_monitor.sample_now() IS NULL;
	SELECT min(idle_for) > interval '1.2 s' FROM pool_monitor.connections
	 WHERE application_name = 'orders-api'}, "f\nt"),
	'all 100 idle for over a second');
my $victim = $node->safe_psql('postgres', 'SELECT pid FROM pool_monitor.prune_now()');
like($victim, qr/^\d+$/, "the idle policy ends one session ($victim), the longest idle");
$node->poll_query_until('postgres', "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $victim")
  or die "session $victim did not end";
is(npgsql_total($api), 100, 'Npgsql notices nothing: its pool still holds 100');

my ($failed_at, $error) = sequential($api, 100);
my $left = npgsql_total($api);
my $t_after = time;
my ($status, $next) = api_get($api, '/orders/0');
my $recovery_ms = (time - $t_after) * 1000;
ok($failed_at > 0, "one of the next 100 requests fails: request $failed_at");
is_deeply([ @$error{qw(type sqlState)} ], [ 'PostgresException', '57P01' ],
	'with PostgresException, SqlState 57P01');
like($error->{message}, qr/terminating connection due to administrator command/,
	'and the server\'s message');
is($left, 0, 'Npgsql cleared its whole pool: no connection left');
is($status, 200, 'the next request succeeds, on a new connection');
ok( $node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'orders-api'}),
	'the server agrees: the 99 other sessions were closed, one is open');
my $rebuild = wave($api);
my $normal = wave($api);
is($rebuild->{failed} + $normal->{failed}, 0, 'no other request fails');
my (undef, $figures) = api_get($api, '/pool');
is($figures->{errors}{'PostgresException 57P01'}, 1, 'the API met exactly one error');
diag sprintf('Keepalive off: request %d of 100 drew the ended connection and failed (%s %s);'
	  . ' the pool was cleared (%d left); the next request took %.1f ms;'
	  . ' p95 of 100 concurrent: warm %s ms, first wave after the clear %s ms, next wave %s ms',
	$failed_at, $error->{type}, $error->{sqlState}, $left, $recovery_ms,
	$warm_p95, $rebuild->{p95}, $normal->{p95});
api_stop($api);

# --- Keepalive=1
$api = api_start($node, app => 'orders-api-keepalive',
	conn => user_connection_string() . ';Keepalive=1');
warm($api);
is(npgsql_total($api), 100, 'Keepalive=1: a warm pool of 100');
# the keepalive refreshes the sessions: end one the way any server-side end would
$victim = $node->safe_psql('postgres', q{
	SELECT pid FROM pg_stat_activity
	 WHERE application_name = 'orders-api-keepalive' AND state = 'idle'
	 ORDER BY state_change LIMIT 1});
my $t0 = time;
$node->safe_psql('postgres', "SELECT pg_terminate_backend($victim)");
my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
my $total = 100;
while ($total > 1 && time < $deadline)
{
	$total = npgsql_total($api);
}
my $detect_ms = (time - $t0) * 1000;
cmp_ok($total, '<=', 1, sprintf('the keepalive found it and Npgsql cleared its pool, in %.0f ms', $detect_ms));
($failed_at) = sequential($api, 100);
is($failed_at, 0, 'none of the next 100 requests fails');

# a leaked connection is kept looking fresh by the keepalive
my (undef, $leak) = api_post($api, '/leak');
ok( $node->poll_query_until('postgres', qq{
	SELECT clock_timestamp() - backend_start > interval '3.5 s'
	  FROM pg_stat_activity WHERE pid = $leak->{pid}}),
	'a leaked connection, 3.5 s old');
my $leak_idle = $node->safe_psql('postgres', qq{
	SELECT pool_monitor.sample_now() IS NULL;
	SELECT extract(epoch FROM idle_for)::numeric(6,1)
	  FROM pool_monitor.connections WHERE pid = $leak->{pid}}) =~ s/^f\n//r;
cmp_ok($leak_idle, '<', 1.5,
	"the server sees it idle for only $leak_idle s: idle_lifetime never reaches it");
diag sprintf('Keepalive=1: the pool was cleared %.0f ms after the session ended, no request failed;'
	  . ' a leaked connection 3.5 s old looked idle for %s s', $detect_ms, $leak_idle);
api_stop($api);

$node->stop;
done_testing();

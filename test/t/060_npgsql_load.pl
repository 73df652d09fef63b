# 060_npgsql_load.pl: the orders API (ASP.NET Core on Npgsql 10, from
# test/npgsql) under load against a server that preloads pool_monitor,
# with sampling, alerting and idle termination on at the settings
# docs/configuration.md recommends ("A starting configuration", read from
# the page, dry_run off):
#
#   1. 100 concurrent requests in waves on a warm pool: none fails or
#      times out, p95 under 100 ms (printed with p50/p99/max);
#   2. pool_monitor's row for the API's pool agrees with Npgsql's own
#      count (its meter "Npgsql": db.client.connection.count, idle plus
#      used) at a quiet moment, exactly; under load, its size agrees
#      whenever Npgsql opened or closed nothing between the readings
#      around the sample, and its busy count is at most Npgsql's peak in
#      use over them;
#   3. Npgsql's own pruning shows as connections the client closed, and
#      pool_monitor ends none of a pool that prunes itself;
#   4. connections leaked by an endpoint are ended by the idle policy,
#      down to the pool's floor, while the API serves on without a failed
#      request.
#
# Parts 1 and 2 run the user's connection string as it is
# (Connection Idle Lifetime=300, Connection Pruning Interval=10) with
# pool_monitor's recommended idle_lifetime of 15 min.  Parts 3 and 4
# scale both lifetimes down by 75 to keep the run short: Npgsql's
# Connection Idle Lifetime=4, Connection Pruning Interval=1, and
# pool_monitor's idle_lifetime 12 s (15 min / 75), prune_interval 1 s.
#
# matrix: once (Npgsql's behaviour and pool_monitor's figures for it do
# not depend on the server version; it runs on 16, Railway's default)
use strict;
use warnings;
use lib 'test/npgsql';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PoolMonitorTest;
use NpgsqlApi;

npgsql_build();

# the recommended configuration, read from docs/configuration.md ("A
# starting configuration") with dry_run off, on a server of 130
# connections so that a pool of 100 fits
my ($recommended) = slurp_file('docs/configuration.md')
  =~ /^## A starting configuration\n.*?^```ini\n(.*?)^```/ms;
$recommended =~ s/^shared_preload_libraries.*\n//m;
$recommended =~ s/^pool_monitor\.dry_run = on\b/pool_monitor.dry_run = off/m;
like($recommended, qr/^pool_monitor\.idle_lifetime = '15min'/m,
	'the recommended configuration turns idle termination on');
note "recommended configuration:\n$recommended";
my $node = pm_node('npgsql_load', conf => npgsql_conf() . $recommended . q{
max_connections = 130
pool_monitor.log_interval = 0
});
$node->safe_psql('postgres', 'CREATE ROLE orders_api LOGIN');

# pool_monitor's row for pool $app, after a fresh sample
sub pool_row
{
	my ($app) = @_;
	my %row;
	@row{qw(total active idle idle_in_transaction opened terminated)} = split /\|/,
	  $node->safe_psql('postgres', qq{
		SELECT pool_monitor.sample_now() IS NULL;
		SELECT total, active, idle, idle_in_transaction + idle_in_transaction_aborted,
		       opened, terminated
		  FROM pool_monitor.pools WHERE application_name = '$app'}) =~ s/^f\n//r;
	return \%row;
}

# 1. 100 concurrent requests in waves, warm pool
my $api = api_start($node);
my $load = drive($api, concurrency => 100, waves => 22, 'warmup-waves' => 2);
note $load->{waves};
diag sprintf('100 concurrent requests x 20 waves on a warm pool: p50 %s ms, p95 %s ms, p99 %s ms, max %s ms',
	@$load{qw(p50 p95 p99 max)});
is($load->{requests}, 2000, '2000 requests measured');
is($load->{failed}, 0, 'no request failed') or diag $load->{first_failure};
is($load->{timeouts}, 0, 'no request timed out');
cmp_ok($load->{p95}, '<', 100, 'p95 under 100 ms on a warm pool');
is( $node->safe_psql('postgres', q{
	SELECT count(*) FROM pool_monitor.terminations WHERE application_name = 'orders-api'}),
	'0', 'the idle policy ended none of the pool');

# 2. at a quiet moment: exactly Npgsql's counts
my (undef, $npgsql) = api_get($api, '/pool');
my $pm = pool_row('orders-api');
note "Npgsql: idle $npgsql->{idle}, used $npgsql->{used}, created $npgsql->{created};"
  . " pool_monitor: total $pm->{total}, idle $pm->{idle}, active $pm->{active}, opened $pm->{opened}";
cmp_ok($npgsql->{idle} + $npgsql->{used}, '>', 5, 'the waves grew the pool past its minimum');
is($pm->{total}, $npgsql->{idle} + $npgsql->{used}, 'quiet: total = Npgsql idle + used');
is($pm->{idle}, $npgsql->{idle}, 'quiet: idle = Npgsql idle');
is($pm->{active} + $pm->{idle_in_transaction}, $npgsql->{used}, 'quiet: busy = Npgsql used');
is($pm->{opened}, $npgsql->{created}, 'opened = connections Npgsql created');

# under load: readings of Npgsql before and after each sample, once the
# driver's 100 clients keep Npgsql's pool busy
my $run = drive_start($api, concurrency => 100, seconds => 5, path => '/orders/1?ms=20');
my $busy = 0;
my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
until ($busy >= 50 || time > $deadline)
{
	(undef, $npgsql) = api_get($api, '/pool');
	$busy = $npgsql->{used};
}
cmp_ok($busy, '>=', 50, "the load keeps Npgsql's pool busy ($busy used)");
my ($stable, $agreed, $busy_ok, $busy_seen) = (0, 0, 0, 0);
for (1 .. 10)
{
	api_post($api, '/pool/reset');
	my (undef, $before) = api_get($api, '/pool');
	my $row = pool_row('orders-api');
	my (undef, $after) = api_get($api, '/pool');
	my ($n0, $n1) = map { $_->{idle} + $_->{used} } $before, $after;
	my $pm_busy = $row->{active} + $row->{idle_in_transaction};
	note "under load: Npgsql total $n0 -> $n1 (peak used $after->{peakUsed}),"
	  . " pool_monitor total $row->{total} busy $pm_busy";
	if ($n0 == $n1 && $before->{created} == $after->{created})
	{
		$stable++;
		$agreed++ if $row->{total} == $n0;
	}
	$busy_ok++ if $pm_busy <= $after->{peakUsed};
	$busy_seen++ if $pm_busy > 0;
}
my $under_load = drive_finish($run);
cmp_ok($stable, '>=', 5, "under load, Npgsql's pool kept its size around $stable of 10 samples");
is($agreed, $stable, 'under load: total = Npgsql idle + used whenever the pool kept its size');
is($busy_ok, 10, "under load: busy is at most Npgsql's peak in use around the sample");
cmp_ok($busy_seen, '>=', 5, "pool_monitor saw busy sessions in $busy_seen of the 10 samples");
is($under_load->{failed}, 0, 'no request failed under load')
  or diag $under_load->{first_failure};
api_stop($api);

# 3. and 4.: both lifetimes scaled down by 75
$node->append_conf('postgresql.conf', q{
pool_monitor.idle_lifetime = 12
pool_monitor.prune_interval = 1
});
$node->reload;
$node->poll_query_until('postgres', q{SELECT current_setting('pool_monitor.idle_lifetime') = '12s'})
  or die 'the reload did not take';
my $scaled = user_connection_string()
  =~ s/Connection Idle Lifetime=300/Connection Idle Lifetime=4/r
  =~ s/Connection Pruning Interval=10/Connection Pruning Interval=1/r;
$api = api_start($node, app => 'orders-api-scaled', conn => $scaled);

# 3. Npgsql prunes its pool back to Minimum Pool Size by itself
$load = drive($api, concurrency => 100, waves => 3);
is($load->{failed}, 0, 'scaled: the waves succeed');
(undef, $npgsql) = api_get($api, '/pool');
my $grown = $npgsql->{idle} + $npgsql->{used};
cmp_ok($grown, '>', 5, "scaled: the waves grew the pool to $grown");
my $t0 = time;
$deadline = time + $PostgreSQL::Test::Utils::timeout_default;
do { (undef, $npgsql) = api_get($api, '/pool'); sleep 1 if $npgsql->{idle} + $npgsql->{used} > 5 }
  while ($npgsql->{idle} + $npgsql->{used} > 5 && time < $deadline);
is($npgsql->{idle} + $npgsql->{used}, 5, 'Npgsql pruned its pool to Minimum Pool Size');
note 'Npgsql pruned ' . ($npgsql->{created} - 5) . ' connections in about ' . (time - $t0) . ' s';
$pm = pool_row('orders-api-scaled');
is($pm->{total}, 5, 'pool_monitor sees the 5 it kept');
is($pm->{opened}, $npgsql->{created}, 'pool_monitor counted every connection Npgsql opened');
is($pm->{terminated}, 0, 'pool_monitor ended none of them');
is($pm->{opened} - $pm->{total} - $pm->{terminated}, $npgsql->{created} - 5,
	'so the client closed every connection that is gone: Npgsql pruned them');

# the 5 it keeps idle past idle_lifetime: the floor keeps them
ok( $node->poll_query_until('postgres', q{
	SELECT min(idle_for) > interval '14 s' AND count(*) = 5
	  FROM pool_monitor.connections WHERE application_name = 'orders-api-scaled'}),
	'the 5 stay idle past idle_lifetime and a few prune runs');
is( $node->safe_psql('postgres', q{
	SELECT count(*) FROM pool_monitor.prune_now(dry_run => true)
	 WHERE application_name = 'orders-api-scaled'}),
	'0', 'the policy would end none of them (min_idle_per_pool)');
is( $node->safe_psql('postgres', q{
	SELECT count(*) FROM pool_monitor.terminations WHERE application_name = 'orders-api-scaled'}),
	'0', 'and ended none: pool_monitor leaves a pool that prunes itself alone');

# 4. a leaking endpoint while the API serves on
$run = drive_start($api, concurrency => 10, seconds => 20, path => '/orders/1?ms=5');
my @leaked;
for (1 .. 20)
{
	my ($status, $body) = api_post($api, '/leak');
	push @leaked, $body->{pid} if $status == 200;
}
is(scalar @leaked, 20, '20 connections leaked');
my $pids = join(',', @leaked);
ok( $node->poll_query_until('postgres',
		"SELECT count(*) <= 5 FROM pg_stat_activity WHERE pid IN ($pids)"),
	'while the API serves, the idle policy ends the leaked sessions down to the floor of 5');
ok($run->{handle}->pumpable, 'the load was still running then');
my $during = drive_finish($run);
note "serving while the leaks were ended: $during->{requests} requests, p95 $during->{p95} ms";
cmp_ok($during->{requests}, '>', 100, 'the API served throughout');
is($during->{failed}, 0, 'no request failed') or diag $during->{first_failure};
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE pid IN ($pids)"),
	'once the API is quiet, its working connections are the most recently idle: the rest of the leak goes too');
my $ended = $node->safe_psql('postgres', qq{
	SELECT count(*) FILTER (WHERE pid IN ($pids) AND reason = 'idle_lifetime'),
	       count(*) FILTER (WHERE pid NOT IN ($pids))
	  FROM pool_monitor.terminations WHERE application_name = 'orders-api-scaled'});
is($ended, '20|0', 'it ended the 20 leaked sessions and none the pool was using');
$pm = pool_row('orders-api-scaled');
cmp_ok($pm->{idle}, '>=', 5, "the pool keeps its floor of idle sessions ($pm->{idle})");
(undef, $npgsql) = api_get($api, '/pool');
cmp_ok($npgsql->{used}, '>=', 20,
	"Npgsql still counts the 20 leaked connections as used ($npgsql->{used}): the slots are freed on the server only");

api_stop($api);
$node->stop;
done_testing();

# 062_npgsql_exhaustion.pl: the orders API (test/npgsql) against a server
# too small for its pool, and pool_advice against what Npgsql reports.
#
#   6. A burst of 40 concurrent requests, each holding its connection for
#      half a second, with Maximum Pool Size=100 against max_connections
#      20 (17 usable by the API's role): the requests that open a
#      connection past the server's limit fail with PostgresException
#      53300, and pool_monitor raises its rejected alert.  With
#      GSS Encryption Mode=Disable pool_monitor counts exactly as many
#      refusals as Npgsql raised; with Npgsql's default (Prefer), Npgsql
#      retries a refused open once without GSS, so the server refuses up
#      to two attempts for each error the application sees.
#   7. pool_advice at two known workloads, with the worker sampling every
#      100 ms: 10 clients with 50 ms statements, which the samples see, and
#      bursts of 12 requests with statements far shorter than the
#      interval, which they do not.  The exact busy peak, counted at every
#      transaction, is never above the peak Npgsql reports in use (the
#      server sees a connection busy only while it runs a transaction), and
#      the suggested Maximum Pool Size never below it; where the
#      application held more connections than the server saw busy, the
#      advice says so.
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

my $node = pm_node('npgsql_exhaustion', conf => npgsql_conf() . q{
max_connections = 20
superuser_reserved_connections = 3
pool_monitor.alert_utilization = 85
pool_monitor.log_interval = 0
});
$node->safe_psql('postgres', 'CREATE ROLE orders_api LOGIN');

# 6. a burst past max_connections.  Returns the refusals Npgsql raised
# and those pool_monitor counted; checks the alert.
sub burst
{
	my ($label, $conn) = @_;
	$node->safe_psql('postgres', 'SELECT pool_monitor.reset()');
	my $api = api_start($node, app => 'orders-api', conn => $conn);
	my $burst = drive($api, concurrency => 40, waves => 1, path => '/orders/1?ms=500',
		'timeout-ms' => 30000);
	my (undef, $npgsql) = api_get($api, '/pool');
	api_stop($api);
	my $refused = $npgsql->{errors}{'PostgresException 53300'} // 0;
	cmp_ok($refused, '>', 0, "$label: Npgsql raised 53300");
	is($burst->{failed}, $refused, "$label: every failed request is one of those");
	is(join(',', keys %{ $npgsql->{errors} }), 'PostgresException 53300', "$label: and no other error");
	is($burst->{timeouts}, 0, "$label: none timed out");
	sample_now($node);
	my ($counted, $by_kind, $kinds) = split /\|/, $node->safe_psql('postgres', q{
		SELECT connections_rejected,
		       (SELECT sum(rejected) FROM pool_monitor.rejections),
		       (SELECT string_agg(kind || ' ' || rejected, ', ' ORDER BY kind)
		          FROM pool_monitor.rejections WHERE rejected > 0)
		  FROM pool_monitor.summary});
	is($by_kind, $counted, "$label: the refusals by kind add up");
	like( $node->safe_psql('postgres', q{
		SELECT string_agg(message, E'\n') FROM pool_monitor.alerts WHERE kind = 'rejected'}),
		qr/^pool_monitor: $counted connection attempts? rejected with SQLSTATE 53300\b/,
		"$label: pool_monitor raises its rejected alert with its count");
	diag "$label: a burst of 40 against 17 usable connections: $burst->{ok} succeeded,"
	  . " $refused failed with 53300 in Npgsql; pool_monitor counted $counted refusals ($kinds)";
	return ($refused, $counted);
}

# GSS Encryption Mode=Prefer, Npgsql's default, opens again without GSS
# after any error, a 53300 refusal too: one Open, up to two attempts
my ($refused, $counted) = burst('default', user_connection_string());
cmp_ok($counted, '>=', $refused, 'default: pool_monitor counts every refusal Npgsql raised');
cmp_ok($counted, '<=', 2 * $refused,
	'default: and at most the one retry Npgsql makes per Open on top');

# with GSS Encryption Mode=Disable there is one attempt per Open
($refused, $counted) = burst('no GSS retry', user_connection_string() . ';GSS Encryption Mode=Disable');
is($counted, $refused, 'no GSS retry: pool_monitor counts exactly the refusals Npgsql saw');

# 7. pool_advice against Npgsql's peak in use
$node->append_conf('postgresql.conf', "pool_monitor.sample_interval = '100ms'\n");
$node->reload;
$node->poll_query_until('postgres',
	q{SELECT current_setting('pool_monitor.sample_interval') = '100ms'})
  or die 'the reload did not take';

# Drive the API named $app as %load says; returns Npgsql's peak in use
# and pool_advice's row for the pool: suggested maximum, advice.
sub advice_for
{
	my ($app, %load) = @_;
	my $api = api_start($node, app => $app);
	api_post($api, '/pool/reset');
	my $run = drive($api, %load);
	is($run->{failed}, 0, "$app: no request failed");
	my (undef, $npgsql) = api_get($api, '/pool');
	sample_now($node);
	my ($max, $peak_total, $peak_active, $busy_peak, $advice) = split /\|/, $node->safe_psql('postgres', qq{
		SELECT coalesce(suggested_max_pool_size::text, 'NULL'), peak_total, peak_active,
		       busy_peak, advice
		  FROM pool_monitor.pool_advice WHERE application_name = '$app'}), 5;
	diag "$app: Npgsql's peak in use $npgsql->{peakUsed}; pool_monitor: peak_total $peak_total,"
	  . " sampled peak busy $peak_active, exact peak busy $busy_peak,"
	  . " suggested Maximum Pool Size $max";
	cmp_ok($busy_peak, '<=', $npgsql->{peakUsed},
		"$app: the exact busy peak is no more than Npgsql had in use");
	cmp_ok($busy_peak, '>=', $peak_active, "$app: and no less than any sample saw");
	api_stop($api);
	return ($npgsql->{peakUsed}, $max, $advice, $busy_peak);
}

# Never below what Npgsql used: a number at least its peak, or no number
# with the reason and a floor at least its peak.
sub never_below
{
	my ($app, $peak, $max, $advice) = @_;
	if ($max eq 'NULL')
	{
		like($advice, qr/cannot size this pool/, "$app: no number, and the advice says why");
		my ($floor) = $advice =~ /Keep Maximum Pool Size at (\d+) or more/;
		cmp_ok($floor // 0, '>=', $peak, "$app: the floor it names is at least Npgsql's peak in use");
	}
	else
	{
		cmp_ok($max, '>=', $peak, "$app: the suggestion is at least Npgsql's peak in use");
	}
}

my ($peak, $max, $advice) = advice_for('orders-api-steady',
	concurrency => 10, seconds => 3, path => '/orders/1?ms=50');
cmp_ok($peak, '>=', 10, 'steady: Npgsql had 10 connections in use at once');
isnt($max, 'NULL', 'steady: the samples see the busy peak, so the advice gives a number');
never_below('steady', $peak, $max, $advice);

my $busy_peak;
($peak, $max, $advice, $busy_peak) = advice_for('orders-api-bursts',
	concurrency => 12, waves => 3, 'pause-ms' => 400, path => '/orders/1?ms=0');
cmp_ok($peak, '>=', 10, "bursts: Npgsql had $peak connections in use at once");
never_below('bursts', $peak, $max, $advice);
if ($max eq 'NULL')
{
	like($advice, qr/^Keep Maximum Pool Size at \d+ or more: the pool held \d+ sessions at once, but at most $busy_peak were busy at once on the server/,
		'bursts: the advice says the application held more than the server saw busy');
}
else
{
	like($advice, qr/^Set Maximum Pool Size to $max: at most $busy_peak sessions were busy at once \(counted at every transaction/,
		'bursts: the advice sizes from the exact peak');
}

$node->stop;
done_testing();

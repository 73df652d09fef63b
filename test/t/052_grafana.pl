# 052_grafana.pl: docs/grafana/pool_monitor.json parses as a dashboard on
# the PostgreSQL data source, and every panel's rawSql, with Grafana's
# macros substituted as Grafana would, runs on a live node with history.
#
# matrix: once (what it tests does not depend on the server version)
use strict;
use warnings;
use Cwd qw(getcwd);
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PoolMonitorTest;

my $file = getcwd() . '/docs/grafana/pool_monitor.json';
my $dashboard = eval { decode_json(PostgreSQL::Test::Utils::slurp_file($file)) };
ok($dashboard, 'the dashboard JSON parses') or diag($@);
is($dashboard->{__inputs}[0]{pluginId}, 'grafana-postgresql-datasource',
	'it asks for a PostgreSQL data source on import');

my @panels = @{ $dashboard->{panels} };
my %titles = map { $_->{title} => 1 } @panels;
for my $title ('Connections by state', 'Utilization vs alert threshold',
	'Opened, rejected and terminated per interval', 'Busy sessions, exact', 'Top pools',
	'Latest alerts', 'Latest terminations')
{
	ok($titles{$title}, "panel: $title");
}
my %ids;
$ids{ $_->{id} }++ for @panels;
is(scalar(grep { $_ > 1 } values %ids), 0, 'panel ids are unique');

my $node = pm_node('grafana');
my @held;
push @held, hold_session($node, 'api', 'idle') for 1 .. 3;
push @held, hold_session($node, 'worker', 'idle in transaction');
sample_now($node) for 1 .. 3;

# Grafana's macros, for the last hour
my ($from, $to, $from_epoch, $to_epoch) = split /\|/, $node->safe_psql('postgres',
	q{SELECT now() - interval '1 hour', now() + interval '1 minute',
	         extract(epoch FROM now() - interval '1 hour')::bigint,
	         extract(epoch FROM now() + interval '1 minute')::bigint});
sub substitute
{
	my ($sql) = @_;
	$sql =~ s/\$__interval_ms/60000/g;
	$sql =~ s/\$__interval/1m/g;
	$sql =~ s/\$__timeFilter\(([^)]+)\)/$1 BETWEEN '$from' AND '$to'/g;
	$sql =~ s/\$__timeFrom\(\)/'$from'::timestamptz/g;
	$sql =~ s/\$__timeTo\(\)/'$to'::timestamptz/g;
	$sql =~ s/\$__unixEpochFilter\(([^)]+)\)/$1 BETWEEN $from_epoch AND $to_epoch/g;
	$sql =~ s/\$__timeGroupAlias\(([^,]+),\s*'?1m'?\)/to_timestamp(floor(extract(epoch FROM $1) \/ 60) * 60) AS "time"/g;
	$sql =~ s/\$__timeGroup\(([^,]+),\s*'?1m'?\)/to_timestamp(floor(extract(epoch FROM $1) \/ 60) * 60)/g;
	return $sql;
}

my $ran = 0;
for my $panel (@panels)
{
	for my $target (@{ $panel->{targets} })
	{
		my $sql = $target->{rawSql};
		is($target->{datasource}{type}, 'grafana-postgresql-datasource',
			"$panel->{title}: PostgreSQL data source");
		my $query = substitute($sql);
		unlike($query, qr/\$/, "$panel->{title}: every macro substituted") or next;
		my ($ret, $out, $err) = $node->psql('postgres', $query);
		is("$ret $err", '0 ', "$panel->{title}: rawSql runs");
		$ran++;
	}
}
is($ran, scalar(@panels), "every panel's query ran: $ran");

# the stacked panel's query returns the samples we took
my $stacked = (grep { $_->{title} eq 'Connections by state' } @panels)[0];
my $rows = $node->safe_psql('postgres', substitute($stacked->{targets}[0]{rawSql}));
my @rows = split /\n/, $rows;
ok(@rows >= 3, scalar(@rows) . ' history rows for Connections by state');
like($rows[-1], qr/\|3$/, 'the latest row has the 3 idle sessions on top of the stack');

release_sessions($node, @held);
$node->stop;
done_testing();

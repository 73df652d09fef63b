# 006_cost.pl: what sampling and reading cost with 100 client sessions
# held open.  Prints the figures; asserts only generous bounds (ten times
# the goals: one sample of 100 backends under 100 us, summary under 1 ms).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use PoolMonitorTest;

my $node = pm_node('cost', conf => "max_connections = 120\n");
my $tmp = PostgreSQL::Test::Utils::tempdir;

# 100 clients that connect, run one query and stay idle for a minute
my $hold = "$tmp/hold.sql";
open my $fh, '>', $hold or die;
print $fh "SELECT 1;\n\\sleep 60 s\n";
close $fh;
my $pgbench = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '100', '-j', '4', '-t', '1', '-f', $hold,
	  '-h', $node->host, '-p', $node->port, 'postgres' ],
	'>', "$tmp/pgbench.out", '2>', "$tmp/pgbench.err");

ok( $node->poll_query_until('postgres', q{
		SELECT pool_monitor.sample_now() IS NOT NULL
		   AND (SELECT idle >= 100 FROM pool_monitor.summary)}),
	'100 idle sessions are sampled');

my @costs;
for (1 .. 50)
{
	push @costs, $node->safe_psql('postgres', q{
		SELECT pool_monitor.sample_now() IS NULL;
		SELECT sample_duration_us FROM pool_monitor.summary}) =~ s/^f\n//r;
}
@costs = sort { $a <=> $b } @costs;
my $median = $costs[ int(@costs / 2) ];
diag(sprintf('sample of %d backends: median %.1f us, min %.1f us, max %.1f us',
	101, $median, $costs[0], $costs[-1]));
cmp_ok($median, '<', 1000, 'one sample of ~100 backends costs under 1 ms');

# summary latency, measured by pgbench on one client
open $fh, '>', "$tmp/summary.sql" or die;
print $fh "SELECT * FROM pool_monitor.summary;\n";
close $fh;
my ($out, $err);
IPC::Run::run(
	[ 'pgbench', '-n', '-c', '1', '-t', '2000', '-f', "$tmp/summary.sql",
	  '-h', $node->host, '-p', $node->port, 'postgres' ],
	'>', \$out, '2>', \$err) or die "pgbench failed: $err";
my ($latency) = $out =~ /latency average = ([\d.]+) ms/;
diag("SELECT * FROM pool_monitor.summary: average $latency ms over 2000 queries");
cmp_ok($latency, '<', 5, 'summary answers in well under 5 ms');

$pgbench->kill_kill;
$node->stop;
done_testing();

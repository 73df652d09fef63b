# 082_busy_contention.pl: 100 sessions of one pool, select-only, side by
# side with and without pool_monitor: every transaction of the 100 adds to
# and takes from the same pool counter and the server's, each on a cache
# line of its own.  Prints the throughput ratio; asserts only that it stays
# within twice the method's own spread (two clusters without pool_monitor,
# run the same way, differ by up to 10% here), so that a busy machine
# cannot fail it while a counter that serialised the sessions would.
#
# matrix: once (what it measures is the same code on every version)
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use PoolMonitorBench;

my $with = bench_cluster('contention_with', pool_monitor => 1, scale => 1);
my $without = bench_cluster('contention_without', scale => 1);
my @ratios;
for my $round (1 .. 3)
{
	my ($w, $o) = run_pgbench_together([ $with, $without ],
		builtin => 'select-only', clients => 100, seconds => 5,
		appname => 'one_pool');
	push @ratios, $w->{tps} / $o->{tps};
	diag(sprintf('round %d: %.0f tps with pool_monitor, %.0f without: ratio %.3f',
		$round, $w->{tps}, $o->{tps}, $ratios[-1]));
}
@ratios = sort { $a <=> $b } @ratios;
my $busy_peak = $with->safe_psql('postgres', q{
	SELECT busy_peak FROM pool_monitor.pools WHERE application_name = 'one_pool'});
diag("median ratio $ratios[1]; the pool's exact busy peak $busy_peak");
cmp_ok($ratios[1], '>', 0.80, '100 sessions of one pool keep over 80% of the throughput');
cmp_ok($busy_peak, '>', 0, 'and their transactions were counted in the pool');
done_testing();

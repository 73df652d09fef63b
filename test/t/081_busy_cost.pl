# 081_busy_cost.pl: what counting busy sessions costs per transaction,
# in instructions counted by callgrind (deterministic), select-only and
# TPC-B-like, with pool_monitor preloaded and without.  The goal is under
# 1% more, asserted; the figures are printed.
#
# matrix: once (what it measures is the same code on every version)
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use PoolMonitorBench;

plan skip_all => 'valgrind is not installed' if system('valgrind --version >/dev/null 2>&1') != 0;

for my $builtin ('select-only', 'tpcb-like')
{
	my $with = instructions_per_transaction(pool_monitor => 1, builtin => $builtin);
	my $without = instructions_per_transaction(pool_monitor => 0, builtin => $builtin);
	my $extra = 100 * ($with - $without) / $without;
	diag(sprintf('%s: %.0f instructions per transaction with pool_monitor, %.0f without: %+.2f%%',
		$builtin, $with, $without, $extra));
	cmp_ok($extra, '<', 1, "$builtin: pool_monitor adds under 1% per transaction");
}
done_testing();

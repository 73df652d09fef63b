# 090_bench_check.pl: the benchmark's short check mode.  Asserts only what
# does not depend on the machine's speed: 100 concurrent clients are all
# served with no failed transaction and p95 under 100 ms, and the
# exhaustion-rescue story ends with the refused API served, and a
# connection's start-up costs about the same with 200 pools in the table
# as with 1 (instructions counted by callgrind: deterministic, not a
# timing).  The with/without ratios stay in the benchmark (make bench),
# never here.
#
# matrix: once (what it tests does not depend on the server version)
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PoolMonitorBench;

my $node = bench_cluster('check', pool_monitor => 1, scale => 5,
	conf => $PoolMonitorBench::API_SETTINGS);
my $r = run_pgbench($node, builtin => 'select-only', clients => 100,
	seconds => 10);
diag(sprintf('100 clients, select-only, 10 s: %.0f tps, p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, %d failed',
	@$r{qw(tps p50 p95 p99 failed)}));
cmp_ok($r->{transactions}, '>', 0, 'transactions were processed');
is($r->{failed}, 0, 'no failed transaction');
cmp_ok($r->{p95}, '<', 100, 'p95 latency under 100 ms at 100 clients');
is( $node->safe_psql('postgres', q{
	SELECT pool_monitor.sample_now() IS NULL;
	SELECT connections_rejected FROM pool_monitor.summary}),
	"f\n0", 'no connection was refused');
$node->stop;

my $rescue = rescue_story();
diag(sprintf('rescue: refused (%s), served after %.1f s and %d retries, leak at its floor after %.1f s; leak left %s, terminated %s, rejected %s',
	$rescue->{refusal_message},
	@$rescue{qw(seconds_to_service tries seconds_to_floor leak_left terminated rejected)}));
ok($rescue->{refused_first}, 'the API is refused while the leak holds the server');
like($rescue->{refusal_message}, qr/too many clients|remaining connection slots/,
	'refused with 53300');
ok($rescue->{served}, 'after pruning, the same 30-connection demand is served');
is($rescue->{leak_left}, 5, 'the leak is ended down to its floor of 5');
cmp_ok($rescue->{rejected}, '>', 0, 'the refusals were counted');
cmp_ok($rescue->{rejected_alerts}, '>=', 1, 'a rejected alert was raised');

# the start-up path finds its pool by hash, not by scanning the table
my @one = instructions_per_connection(pool_monitor => 1, pools => 1, connections => 5);
my @many = instructions_per_connection(pool_monitor => 1, pools => 200, connections => 5);
diag(sprintf('instructions per connection: %d with 1 pool, %d with 200 (%+d)',
	$one[0], $many[0], $many[0] - $one[0]));
cmp_ok($many[0] - $one[0], '<', 2000,
	'200 pools in the table add under 2000 instructions to a connection\'s start-up');

done_testing();

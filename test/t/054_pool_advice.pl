# 054_pool_advice.pl: pool_monitor.pool_advice on pools driven through
# known samples: peak busy, idle floor, mean busy, the suggested pool
# sizes, a pool that alone could fill the server, the sum of peaks against
# usable connections, and a session left idle in transaction.  Also the
# privileges of everything observability adds.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PoolMonitorTest;

# 20 slots, 3 reserved for superusers: 17 usable
my $node = pm_node('advice', conf => "max_connections = 20\n");

# 'burst': 8 sessions in one sample, gone before the others come
my @burst = map { hold_session($node, 'burst', 'idle') } 1 .. 8;
sample_now($node);
release_sessions($node, @burst);

# 'sized': 5 sessions; 'leaky': 6 that stay idle throughout
my @sized = map { hold_session($node, 'sized', 'idle') } 1 .. 5;
my @leaky = map { hold_session($node, 'leaky', 'idle') } 1 .. 6;

# three samples of 'sized': 3 busy (in a transaction), then 2, then 0
$_->query_safe('BEGIN') for @sized[0 .. 2];
sample_now($node);
$sized[2]->query_safe('COMMIT');
sample_now($node);
$_->query_safe('COMMIT') for @sized[0 .. 1];

my $advice = q{
	SELECT pool_monitor.sample_now() IS NULL;
	SELECT application_name, total, peak_total, peak_active, idle_floor, mean_busy,
	       suggested_max_pool_size, suggested_min_pool_size,
	       could_exhaust_server, usable_connections,
	       sum_of_peaks = (SELECT sum(peak_total) FROM pool_monitor.pools)
	  FROM pool_monitor.pool_advice
	 WHERE application_name IN ('burst', 'sized', 'leaky') ORDER BY 1};
is($node->safe_psql('postgres', $advice),
	join("\n", 'f',
		'burst|0|8|0|8|0.0||0|t|17|t',
		'leaky|6|6|0|6|0.0||0|f|17|t',
		'sized|5|5|3|2|1.7|5|2|f|17|t'),
	'peaks, idle floor, mean busy, suggestions and the exhaustion check');

my %text = map { split /\|/, $_, 2 } split /\n/, $node->safe_psql('postgres',
	'SELECT application_name, advice FROM pool_monitor.pool_advice');
like($text{sized},
	qr/^Set Maximum Pool Size to 5: at most 3 sessions were busy at once, plus 2 headroom\. Set Minimum Pool Size to 2: on average 1\.7 were busy\./,
	'sized: maximum and minimum pool size in words');
unlike($text{sized}, qr/fewer than|alone would fill/, 'sized: no idle floor or exhaustion warning');
like($text{leaky}, qr/never held fewer than 6 idle sessions.*leaked connections/,
	'leaky: the idle floor points at leaks');

# a pool that held more sessions than its sampled busy peak plus headroom:
# its busy moments fell between samples, or it leaks; no size below what it
# held, and no number the samples cannot back
like($text{burst},
	qr/^Keep Maximum Pool Size at 8 or more: the pool held 8 sessions at once, .*yet the samples saw at most 0 busy\. .*the server cannot size this pool from them\./,
	'burst: no smaller size than the 8 sessions it held, and why');
like($text{leaky}, qr/^Keep Maximum Pool Size at 6 or more: /,
	'leaky: the leak rule cuts nothing');
is( $node->safe_psql('postgres', q{
	SELECT count(*) FROM pool_monitor.pool_advice
	 WHERE suggested_max_pool_size < peak_total}),
	'0', 'no pool is told to hold fewer sessions than it held at once');
like($text{burst}, qr/At its peak of 8 sessions this pool alone would fill the server: beside the other pools only \d+ of 17 usable connections are free now\./,
	'burst: could exhaust the server alone');
like($text{$_}, qr/The pools' peaks add up to \d+, more than the 17 usable connections/,
	"$_: sum of peaks over usable connections") for qw(burst sized leaky);

# a session left idle in transaction is named once it is 10 s old
my $stuck = hold_session($node, 'stuck', 'idle in transaction');
# (sampling in a statement of its own: the pool exists only after it)
ok( $node->poll_query_until('postgres', q{
	SELECT pool_monitor.sample_now() IS NULL;
	SELECT long_idle_in_transaction FROM pool_monitor.pool_advice
	 WHERE application_name = 'stuck'}, "f\n1"),
	'stuck: counted once idle in transaction for 10 s');
like( $node->safe_psql('postgres',
		q{SELECT advice FROM pool_monitor.pool_advice WHERE application_name = 'stuck'}),
	qr/1 session\(s\) idle in transaction for 10 s or more \(longest 00:00:1\d\)/,
	'stuck: the advice says so');
is( $node->safe_psql('postgres',
		q{SELECT count(*) FROM pool_monitor.pool_advice
		   WHERE application_name <> 'stuck' AND long_idle_in_transaction > 0}),
	'0', 'no other pool is flagged');

# reset() starts the figures again from the latest sample
$node->safe_psql('postgres', 'SELECT pool_monitor.reset()');
is( $node->safe_psql('postgres', q{
	SELECT peak_active || '|' || idle_floor || '|' || mean_busy
	  FROM pool_monitor.pools WHERE application_name = 'sized'}),
	'0|5|0', 'reset: sized starts again from its latest sample');

# privileges: pg_monitor reads, PUBLIC gets nothing
$node->safe_psql('postgres', q{
	CREATE ROLE plain LOGIN; CREATE ROLE watcher LOGIN IN ROLE pg_monitor});
for my $object ('SELECT count(*) >= 0 FROM pool_monitor.pool_advice',
	'SELECT length(pool_monitor.metrics()) > 0',
	'SELECT length(pool_monitor.report()) > 0')
{
	is($node->safe_psql('postgres', $object, extra_params => [ '-U', 'watcher' ]),
		't', "pg_monitor may: $object");
	my ($ret, $out, $err) = $node->psql('postgres', $object,
		extra_params => [ '-U', 'plain' ]);
	like($err, qr/permission denied/, "PUBLIC may not: $object");
}

release_sessions($node, @sized, @leaky, $stuck);
$node->stop;
done_testing();

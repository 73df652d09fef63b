# 010_accounting.pl: sessions that come and go between two samples are
# counted exactly: twelve sessions that live about a second inside one
# 10 s sample interval raise connections_opened and the pool's "opened" by
# exactly 12, and the interval's peak_total shows them although neither
# sample saw them.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use PoolMonitorTest;

my $node = pm_node('accounting',
	conf => "pool_monitor.sample_interval = '10s'\n"
	  . "pool_monitor.alert_utilization = 0\n"
	  . "pool_monitor.log_interval = 0\n");

# One session, $h, does all the reading, so that the test opens no other
# session while it counts.
my $h = $node->background_psql('postgres');

# Twelve psql processes in pool "burst" that wait on $h's advisory lock, so
# that all twelve are open at once, then sleep a second and leave.
sub burst
{
	my ($n) = @_;
	my @runs;
	$h->query_safe('SELECT pg_advisory_lock(42)');
	for (1 .. $n)
	{
		push @runs,
		  IPC::Run::start(
			[
				'psql', '-XAtq',
				'-d', $node->connstr('postgres') . ' application_name=burst',
				'-c', 'SELECT pg_advisory_lock_shared(42)',
				'-c', 'SELECT pg_sleep(1)'
			],
			'>', \my $out, '2>', \my $err);
	}
	poll_in_session($h, q{
		SELECT count(*) = } . $n . q{ FROM pg_stat_activity
		 WHERE application_name = 'burst' AND wait_event_type = 'Lock'})
	  or die 'the burst sessions never all waited';
	$h->query_safe('SELECT pg_advisory_unlock(42)');
	$_->finish for @runs;
	return;
}

my $summary = 'SELECT connections_opened, connections_closed, samples FROM pool_monitor.summary';

$h->query_safe('SELECT pool_monitor.sample_now()');
my ($opened0, $closed0, $samples0) = split /\|/, $h->query_safe($summary);

burst(12);
# the backends count their close on exit, a moment after psql has gone
ok( poll_in_session($h,
		"SELECT connections_closed >= $closed0 + 12 FROM pool_monitor.summary"),
	'all twelve closes are counted');

$h->query_safe('SELECT pool_monitor.sample_now()');
my ($opened1, $closed1, $samples1) = split /\|/, $h->query_safe($summary);

is($opened1 - $opened0, 12, 'connections_opened rose by exactly 12');
is($closed1 - $closed0, 12, 'connections_closed rose by exactly 12');
is($samples1 - $samples0, 1,
	'no sample was taken between the two the test asked for');

my ($iv_opened, $iv_peak, $iv_total) = split /\|/, $h->query_safe(q{
	SELECT connections_opened, peak_total, total
	  FROM pool_monitor.history ORDER BY sampled_at DESC LIMIT 1});
is($iv_opened, 12, 'the interval\'s connections_opened is exactly 12');
cmp_ok($iv_peak, '>=', 12, 'the interval\'s peak_total shows the burst');
cmp_ok($iv_total, '<', 12, 'although the sample at its end saw only the reader');
cmp_ok($h->query_safe('SELECT peak_total FROM pool_monitor.summary'),
	'>=', 12, 'summary peak_total since reset is at least 12');

# the pool "burst" had no slot while its sessions lived: the sample credits it
is( $h->query_safe(q{
	SELECT total || '|' || opened FROM pool_monitor.pools WHERE application_name = 'burst'}),
	'0|12', 'pool burst: never sampled with a session, opened 12');

# now it has a slot: its sessions credit it themselves, with no sample
burst(3);
is( $h->query_safe(q{SELECT opened FROM pool_monitor.pools WHERE application_name = 'burst'}),
	'15', 'sessions of a known pool are credited at once');

ok( poll_in_session($h,
		"SELECT connections_closed >= $closed1 + 3 FROM pool_monitor.summary"),
	'the three closes are counted');
is( $h->query_safe('SELECT connections_opened - connections_closed FROM pool_monitor.summary'),
	$h->query_safe(q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'}),
	'opened minus closed equals the sessions open now');

$h->quit;
$node->stop;
done_testing();

# 007_overflow.pl: more pools than max_pools fold into one overflow row,
# counted in summary; when a pool has no session left, a new pool takes its
# slot, least recently seen first.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PoolMonitorTest;

my $node = pm_node('overflow', conf => "pool_monitor.max_pools = 3\n");

# slot 1: the test's own psql sessions (application_name 007_overflow.pl)
my @a = map { hold_session($node, 'app_a', 'idle') } 1 .. 2;
my @b = map { hold_session($node, 'app_b', 'idle') } 1 .. 2;
sample_now($node);
my @c = map { hold_session($node, 'app_c', 'idle') } 1 .. 3;
sample_now($node);

is( $node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE NOT overflow) || '|' ||
	       coalesce(sum(total) FILTER (WHERE overflow), 0)
	  FROM pool_monitor.pools}),
	'3|3', 'three pool slots, the fourth pool folded into the overflow row');
is( $node->safe_psql('postgres', q{
	SELECT overflow_connections || '|' || pools_in_use FROM pool_monitor.summary}),
	'3|3', 'summary counts the folded sessions');
is( $node->safe_psql('postgres', q{
	SELECT database IS NULL AND role IS NULL AND application_name IS NULL
	  FROM pool_monitor.pools WHERE overflow}),
	't', 'the overflow row has no key');
is( $node->safe_psql('postgres', q{SELECT sum(total) FROM pool_monitor.pools}),
	$node->safe_psql('postgres', q{SELECT total FROM pool_monitor.summary}),
	'no session is lost: pools add up to summary');

# app_a goes away: the folded pool takes its slot at the next sample
release_sessions($node, @a);
sample_now($node);
is( $node->safe_psql('postgres', q{
	SELECT string_agg(application_name, ',' ORDER BY application_name)
	  FROM pool_monitor.pools WHERE NOT overflow AND application_name LIKE 'app_%'}),
	'app_b,app_c', 'the empty pool app_a gave its slot to app_c');
is($node->safe_psql('postgres', q{SELECT total FROM pool_monitor.pools WHERE overflow}),
	'0', 'nothing is folded any more');

# app_b empties before app_c: a new pool takes the slot seen least recently
release_sessions($node, @b);
sample_now($node);
release_sessions($node, @c);
sample_now($node);
my @e = map { hold_session($node, 'app_e', 'idle') } 1 .. 1;
sample_now($node);
is( $node->safe_psql('postgres', q{
	SELECT string_agg(application_name, ',' ORDER BY application_name)
	  FROM pool_monitor.pools WHERE NOT overflow AND application_name LIKE 'app_%'}),
	'app_c,app_e', 'app_e took the slot of app_b, the pool seen least recently');

release_sessions($node, @e);

# A slot handed over keeps no open of either pool: app_c opens a session
# that comes and goes between samples (credited to its slot at once), then
# app_f takes that slot.  The late open goes back to app_c, which gets the
# slot of app_e, seen least recently, at the next sample; sessions of app_f
# opened after it has its slot are credited to it directly.
release_sessions($node, hold_session($node, 'app_c', 'idle', connect_as_app => 1));
my @f = (hold_session($node, 'app_f', 'idle', connect_as_app => 1));
sample_now($node);
is( $node->safe_psql('postgres', q{
	SELECT string_agg(application_name, ',' ORDER BY application_name)
	  FROM pool_monitor.pools WHERE NOT overflow AND application_name LIKE 'app_%'}),
	'app_e,app_f', 'app_f took the slot of app_c');
push @f, hold_session($node, 'app_f', 'idle', connect_as_app => 1);
sample_now($node);
is( $node->safe_psql('postgres', q{
	SELECT string_agg(application_name || ':' || total || ':' || opened, ','
	                  ORDER BY application_name)
	  FROM pool_monitor.pools WHERE NOT overflow AND application_name LIKE 'app_%'}),
	'app_c:0:1,app_f:2:2',
	'the open app_c made before losing its slot is credited to its new slot');

release_sessions($node, @f);
$node->stop;
done_testing();

# 013_settings_advice.pl: after a reload, the worker explains in the log each
# contradiction among valid settings, once per reload and not every cycle
# (the rules themselves: test/unit/test_settings_advice.c).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PoolMonitorTest;

my $node = pm_node('settings_advice', conf => "pool_monitor.sample_interval = '100ms'");

my $started = qr/pool_monitor worker started/;
ok($node->wait_for_log($started, 0), 'the worker started');
# the worker explains its settings before its first sample
sample_now($node);
my $log = slurp_file($node->logfile);
unlike($log, qr/WARNING:  pool_monitor\.\S+ is /, 'the test defaults contradict nothing');

my $offset = -s $node->logfile;
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET pool_monitor.idle_lifetime = '5s';
	ALTER SYSTEM SET pool_monitor.prune_interval = '30s'});
$node->reload;
ok($node->wait_for_log(qr/WARNING:  pool_monitor\.idle_lifetime is shorter than pool_monitor\.prune_interval/, $offset),
	'the reload logs the contradiction');

# let many cycles pass, then count: one WARNING for one reload
sample_now($node) for 1 .. 5;
$log = substr(slurp_file($node->logfile), $offset);
my @warnings = $log =~ /WARNING:  pool_monitor\.idle_lifetime is shorter/g;
is(scalar @warnings, 1, 'logged once, not every cycle');
like($log, qr/DETAIL:  Idle sessions become due after 5 s but are looked at only every 30 s, so some stay idle up to 35 s\./,
	'the detail gives the figures');
like($log, qr/HINT:  Set pool_monitor\.prune_interval no longer than pool_monitor\.idle_lifetime\./,
	'the hint says what to do');

# put it right: the next reload is silent
$offset = -s $node->logfile;
$node->safe_psql('postgres', q{ALTER SYSTEM SET pool_monitor.prune_interval = '5s'});
$node->reload;
ok($node->poll_query_until('postgres',
	q{SELECT current_setting('pool_monitor.prune_interval') = '5s'}),
	'the fix is in force');
sample_now($node) for 1 .. 3;
$log = substr(slurp_file($node->logfile), $offset);
like($log, qr/received SIGHUP, reloading configuration files/, 'the reload happened');
unlike($log, qr/WARNING:  pool_monitor\./, 'and logs no contradiction');

$node->stop;
done_testing();

# 016_registration_failure.pl: a session that fails with FATAL while it
# registers its exit callback (as before_shmem_exit does when its slots are
# full) leaves no mark in the sampler's registry.  pool_monitor enters a
# session into the registry last, after every step that can fail; were its
# bit set first, it would outlive the session, and the next session in the
# same backend-status slot would be sampled even though it never passed
# through pool_monitor's hook.
#
# Every slot but one is held, so the failed session and the one after it
# take the same slot.  The one after it is kept out of the registry by
# pool_monitor.debug_skip_registry, as a library whose hook does not chain
# would keep it, so only a leftover bit could make a sample count it.  The
# failure comes from the hidden test setting
# pool_monitor.debug_fail_registration (see docs/hardening.md).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep);
use PoolMonitorTest;

my $node = pm_node('registration', conf => "max_connections = 8\nautovacuum = off\n");
my @held = map { hold_session($node, 'held', 'idle') } 1 .. 7;
my $ctl = $held[0];

# Try to connect until $done->(stderr of the attempt) says the postmaster
# has the reloaded settings; returns what it returned.  The query goes in
# -c, not on stdin: a session refused at once would leave psql's stdin
# closed before it could be written.
sub connect_until
{
	my ($done) = @_;
	for (1 .. 10 * $PostgreSQL::Test::Utils::timeout_default)
	{
		my ($out, $err) = ('', '');
		IPC::Run::run([ 'psql', '-X', '-Atq', '-d', $node->connstr('postgres'),
			'-c', 'SELECT 1' ], '>', \$out, '2>', \$err);
		my $result = $done->($err);
		return $result if $result;
		usleep(100_000);
	}
	return undef;
}

$ctl->query_safe('ALTER SYSTEM SET pool_monitor.debug_fail_registration = on');
$ctl->query_safe('SELECT pg_reload_conf()');
my $fatal = connect_until(sub {
	return $_[0] =~ /FATAL:  pool_monitor failed on purpose to register a session's exit callback/
	  ? $_[0] : undef;
});
ok($fatal, 'a session failed with FATAL as it registered its exit callback');

$ctl->query_safe('ALTER SYSTEM RESET pool_monitor.debug_fail_registration');
$ctl->query_safe('ALTER SYSTEM SET pool_monitor.debug_skip_registry = on');
$ctl->query_safe('SELECT pg_reload_conf()');
# the first attempt that succeeds has both settings: they came in one reload
ok(connect_until(sub { return $_[0] eq '' }),
	'sessions start again once the failure is switched off');
my $unregistered = hold_session($node, 'unregistered', 'idle', connect_as_app => 1);

is( $ctl->query_safe(q{
	SELECT count(*) FROM pg_stat_activity WHERE application_name = 'unregistered'}),
	'1', 'the session that skipped the registry is connected');
$ctl->query_safe('SELECT pool_monitor.sample_now()');
is( $ctl->query_safe(q{
	SELECT total || '|' ||
	       (SELECT count(*) FROM pool_monitor.connections
	         WHERE application_name = 'unregistered')
	  FROM pool_monitor.summary}),
	'7|0', 'the sample counts the held sessions only: the failed one left no bit');

$ctl->query_safe('ALTER SYSTEM RESET pool_monitor.debug_skip_registry');
$ctl->query_safe('SELECT pg_reload_conf()');
# every slot is taken: end one from a held session before release_sessions
# connects
$ctl->query_safe("SELECT pg_terminate_backend($unregistered->{pm_pid})");
$unregistered->{run}->kill_kill;
ok($node->poll_query_until('postgres', 'SELECT true'), 'a slot is free again');
release_sessions($node, @held[1 .. 6]);
$node->stop;
done_testing();

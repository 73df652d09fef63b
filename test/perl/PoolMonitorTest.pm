# PoolMonitorTest.pm: helpers shared by the TAP tests in test/t.
#
# A node that preloads pool_monitor, sessions held in a chosen state with
# background psql, and the figures tests compare.  Tests synchronise with
# sample_now() and poll_query_until, never with sleeps.
package PoolMonitorTest;

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

use PostgreSQL::Test::BackgroundPsql;

use Exporter 'import';
our @EXPORT = qw(pm_node hold_session release_sessions sample_now poll_in_session
  worker_progress end_by_idle_policy);

# The harness's differences between versions, in one place.  Before 16.0
# (the 16 beta tree; its BackgroundPsql has _wait_connect, not
# wait_connect), a background psql's query() kept the newline that ends
# the output, which every later release removes: remove it here too.
unless (PostgreSQL::Test::BackgroundPsql->can('wait_connect'))
{
	no warnings 'redefine';
	my $query = \&PostgreSQL::Test::BackgroundPsql::query;
	*PostgreSQL::Test::BackgroundPsql::query = sub {
		my ($output, $ret) = $query->(@_);
		$output =~ s/\n\z//;
		return wantarray ? ($output, $ret) : $output;
	};
}

# Start a node that preloads pool_monitor, with extra postgresql.conf lines,
# and create the extension in database postgres.  By default the worker
# samples only when asked (sample_interval 1h), so that tests decide when.
sub pm_node
{
	my ($name, %opts) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);

	$node->init(%{ $opts{init} // {} });
	$node->append_conf('postgresql.conf',
		($opts{preload} // 1) ? "shared_preload_libraries = 'pool_monitor'\n" : '');
	$node->append_conf('postgresql.conf',
		"pool_monitor.sample_interval = '1h'\n") if ($opts{preload} // 1);
	$node->append_conf('postgresql.conf', $opts{conf}) if $opts{conf};
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION pool_monitor');
	return $node;
}

# Take a fresh sample; returns its time.
sub sample_now
{
	my ($node, $db) = @_;
	return $node->safe_psql($db // 'postgres', 'SELECT pool_monitor.sample_now()');
}

# The worker's pid, samples taken and history entries kept, from summary:
# what a restarted worker must carry on from.
sub worker_progress
{
	my ($node) = @_;
	return split /\|/, $node->safe_psql('postgres', q{
		SELECT worker_pid, samples, (SELECT count(*) FROM pool_monitor.history)
		  FROM pool_monitor.summary});
}

# Open a session named $app and bring it to $kind: 'idle', 'idle in
# transaction', 'aborted' (idle in transaction, aborted), 'active' (runs
# $opts{sql}, default pg_sleep), or 'none' (connected, left as it is).
# $opts{user} connects as that role instead of the bootstrap superuser.
# The session connects as the test's own application and then takes the
# name $app, unless $opts{connect_as_app}: then it connects as $app, and
# its open is counted in that pool.
# Returns the BackgroundPsql object; its pid is in ->{pm_pid}.
sub hold_session
{
	my ($node, $app, $kind, %opts) = @_;
	my $db = $opts{db} // 'postgres';
	local $ENV{PGAPPNAME} = $opts{connect_as_app} ? $app : $ENV{PGAPPNAME};
	my $session = $node->background_psql($db, on_error_stop => 0,
		$opts{user} ? (extra_params => [ '-U', $opts{user} ]) : ());

	$session->query_safe("SET application_name = '$app'");
	$session->{pm_pid} = $session->query_safe('SELECT pg_backend_pid()');
	$session->{pm_pid} =~ s/\s+//g;

	if ($kind eq 'idle in transaction')
	{
		$session->query_safe('BEGIN');
		$session->query_safe($opts{sql}) if $opts{sql};
	}
	elsif ($kind eq 'aborted')
	{
		$session->query_safe('BEGIN');
		$session->query('SELECT 1/0');
	}
	elsif ($kind eq 'active')
	{
		my $sql = $opts{sql} // 'SELECT pg_sleep(3600)';
		$session->{stdin} .= "\\echo running\n$sql;\n";
		$session->{run}->pump until $session->{stdout} =~ /running/;
		$session->{stdout} = '';
	}
	return $session;
}

# End held sessions from the server side and wait until their backends
# are gone (closes counted, out of pg_stat_activity), then end and reap
# their psql processes (their stdin may already be closed, so no \q).
sub release_sessions
{
	my ($node, @sessions) = @_;
	my $pids = join(',', map { $_->{pm_pid} } @sessions);

	return unless $pids;
	$node->safe_psql('postgres',
		"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid IN ($pids)");
	$node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE pid IN ($pids)")
	  or die "sessions $pids did not end";
	$_->{run}->kill_kill for @sessions;
}

# Open a session of pool $app as $opts{user}, let it idle past a 1 s
# idle_lifetime (the node's setting) and have prune_now() end it, asserting
# that it is the one session ended; wait until its backend is gone and take
# a sample.  Returns the session.
sub end_by_idle_policy
{
	my ($node, $app, %opts) = @_;
	my $session = hold_session($node, $app, 'idle', %opts);
	my $pid = $session->{pm_pid};

	$node->poll_query_until('postgres', qq{
		SELECT clock_timestamp() - state_change > interval '1.2 s'
		  FROM pg_stat_activity WHERE pid = $pid AND state = 'idle'})
	  or die "the session of pool $app never became idle for over a second";
	is($node->safe_psql('postgres', 'SELECT pid FROM pool_monitor.prune_now()'),
		$pid, "the idle policy ends the session of pool $app");
	$node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $pid")
	  or die "the session of pool $app did not end";
	sample_now($node);
	return $session;
}

# Run $query in an open session until its last line of output is 't';
# false after timeout_default seconds.  For when the test must not open
# sessions of its own, as poll_query_until does.
sub poll_in_session
{
	my ($session, $query) = @_;
	my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;

	while (time < $deadline)
	{
		return 1 if $session->query_safe($query) =~ /(?:\A|\n)t\z/;
		usleep(10_000);
	}
	return 0;
}

1;

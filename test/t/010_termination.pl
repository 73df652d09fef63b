# 006_termination.pl: idle termination end to end: the per-pool floor and
# longest-idle-first order, protections (excluded application, role and
# database, superusers, active sessions), idle in transaction by its own
# lifetime, dry run, the utilization gate, the per-run limit, reloads, and
# bad exclude lists refused at reload while the old value stays.
#
# Periodic runs are pushed a day away (prune_interval) so that prune_now()
# decides when the policy runs; the last part turns them back on.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PoolMonitorTest;

my $node = pm_node(
	'termination', conf => q{
max_connections = 40
log_line_prefix = '%m [%p] %e %q%a '
pool_monitor.prune_interval = '1d'
pool_monitor.idle_lifetime = 1
pool_monitor.min_idle_per_pool = 2
pool_monitor.max_terminations_per_prune = 0
pool_monitor.exclude_applications = 'psql-*'
pool_monitor.exclude_roles = 'keeper'
pool_monitor.exclude_databases = 'kept'
});
$node->safe_psql('postgres', q{
	CREATE ROLE app LOGIN;
	CREATE ROLE keeper LOGIN;
	CREATE DATABASE kept;
});

# Reload with extra settings and wait until this backend sees them.
sub reload_with
{
	my ($conf, $check) = @_;
	$node->append_conf('postgresql.conf', $conf);
	$node->reload;
	$node->poll_query_until('postgres', $check)
	  or die "reload did not take effect: $check";
}

# Wait until every listed session has been idle (in any idle state) for
# longer than $secs.
sub wait_idle_for
{
	my ($secs, @sessions) = @_;
	my $pids = join(',', map { $_->{pm_pid} } @sessions);
	my $n = scalar @sessions;
	$node->poll_query_until('postgres', qq{
		SELECT count(*) = $n FROM pg_stat_activity
		 WHERE pid IN ($pids) AND state LIKE 'idle%'
		   AND clock_timestamp() - state_change > interval '$secs s'})
	  or die "sessions $pids never became idle for $secs s";
}

sub alive
{
	my @sessions = @_;
	my $pids = join(',', map { $_->{pm_pid} } @sessions);
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE pid IN ($pids)");
}

sub gone
{
	my @sessions = @_;
	my $pids = join(',', map { $_->{pm_pid} } @sessions);
	return $node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE pid IN ($pids)");
}

sub pids { return join("\n", map { $_->{pm_pid} } @_); }

# --- the floor, the order and the protections -----------------------------
my @web;
push @web, hold_session($node, 'web', 'idle', user => 'app') for 1 .. 7;
my $excluded_app = hold_session($node, 'psql-admin', 'idle', user => 'app');
my $excluded_role = hold_session($node, 'web', 'idle', user => 'keeper');
my $excluded_db = hold_session($node, 'web', 'idle', user => 'app', db => 'kept');
my $superuser = hold_session($node, 'web', 'idle');
my $active = hold_session($node, 'web', 'active', user => 'app');
my @protected = ($excluded_app, $excluded_role, $excluded_db, $superuser);

wait_idle_for(1.2, @web, @protected);
my $log_offset = -s $node->logfile;

my $ended = $node->safe_psql('postgres',
	'SELECT pid FROM pool_monitor.prune_now()');
is($ended, pids(@web[0 .. 4]),
	'prune_now ends 5 of 7 idle sessions with a floor of 2, longest idle first');
ok(gone(@web[0 .. 4]), 'the 5 sessions are gone');
is(alive(@web[5, 6], @protected, $active), 7,
	'the 2 most recently idle, the protected and the active session stay');

is( $node->safe_psql('postgres', q{
	SELECT string_agg(pid::text, E'\n' ORDER BY terminated_at)
	  FROM pool_monitor.terminations}),
	pids(@web[0 .. 4]), 'the terminations ring holds them, newest last');
is( $node->safe_psql('postgres', q{
	SELECT bool_and(idle_for >= next_idle_for) FROM (
	  SELECT idle_for, lead(idle_for, 1, '0') OVER (ORDER BY terminated_at) AS next_idle_for
	    FROM pool_monitor.terminations) t}),
	't', 'each was idle at least as long as the next');
is( $node->safe_psql('postgres', q{
	SELECT DISTINCT database || '|' || role || '|' || application_name || '|'
	       || state || '|' || reason || '|' || dry_run || '|' || (idle_for > '1 s')
	  FROM pool_monitor.terminations}),
	'postgres|app|web|idle|idle_lifetime|false|true',
	'ring rows say who, in which state, why, and for how long');

# the log line prefix shows each message's SQLSTATE
for my $s (@web[0 .. 4])
{
	$node->wait_for_log(
		qr/\[$s->{pm_pid}\] 57P01 web FATAL:  terminating connection due to administrator command/,
		$log_offset);
}
my $pid0 = $web[0]->{pm_pid};
ok( $node->log_contains(
		qr/LOG:  pool_monitor: terminated pid=$pid0 database=postgres role=app application=web client=local state=idle idle_for=\d+\.\d{3}s reason=idle_lifetime/,
		$log_offset),
	'one LOG line per termination, in the documented format');
my $log = slurp_file($node->logfile, $log_offset);
is(scalar(() = $log =~ /pool_monitor: terminated pid=/g), 5, 'five LOG lines');
is(scalar(() = $log =~ /57P01 web FATAL:  terminating connection due to administrator command/g),
	5, 'each ended backend reports 57P01 (admin_shutdown), as with pg_terminate_backend');

sample_now($node);
is( $node->safe_psql('postgres', q{
	SELECT terminated FROM pool_monitor.summary;
	SELECT terminated FROM pool_monitor.pools WHERE role = 'app' AND application_name = 'web' AND database = 'postgres'}),
	"5\n5", 'summary and the pool count the 5 terminations');

my $verdicts = $node->safe_psql('postgres', qq{
	SELECT pid, protected_by, prune_at IS NULL FROM pool_monitor.connections
	 WHERE pid IN (} . join(',', map { $_->{pm_pid} } @web[5, 6], @protected, $active) . q{)
	 ORDER BY pid});
my %expect = (
	$web[5]->{pm_pid} => 'min_idle_per_pool|t',
	$web[6]->{pm_pid} => 'min_idle_per_pool|t',
	$excluded_app->{pm_pid} => 'exclude_applications|t',
	$excluded_role->{pm_pid} => 'exclude_roles|t',
	$excluded_db->{pm_pid} => 'exclude_databases|t',
	$superuser->{pm_pid} => 'superuser|t',
	$active->{pm_pid} => '|t');
is($verdicts,
	join("\n", map { "$_|$expect{$_}" } sort { $a <=> $b } keys %expect),
	'connections says what protects each session that stayed');

# --- idle in transaction, by its own lifetime, after a reload -------------
my @xact = (hold_session($node, 'txn', 'idle in transaction', user => 'app'),
	hold_session($node, 'txn', 'aborted', user => 'app'));
wait_idle_for(1.2, @xact);
is($node->safe_psql('postgres', 'SELECT count(*) FROM pool_monitor.prune_now()'),
	'0', 'idle in transaction stays while its lifetime is off');
reload_with("pool_monitor.idle_in_transaction_lifetime = 1\n",
	"SELECT current_setting('pool_monitor.idle_in_transaction_lifetime') = '1s'");
is( $node->safe_psql('postgres', q{
	SELECT string_agg(state || '|' || reason, ',' ORDER BY state)
	  FROM pool_monitor.prune_now()}),
	'idle in transaction|idle_in_transaction_lifetime,'
	  . 'idle in transaction (aborted)|idle_in_transaction_lifetime',
	'after the reload both end by idle_in_transaction_lifetime, with no floor');
ok(gone(@xact), 'the idle-in-transaction sessions are gone');

# --- dry run ---------------------------------------------------------------
my @dry;
push @dry, hold_session($node, 'dry', 'idle', user => 'app') for 1 .. 3;
wait_idle_for(1.2, @dry);
reload_with("pool_monitor.dry_run = on\npool_monitor.min_idle_per_pool = 0\n",
	"SELECT current_setting('pool_monitor.dry_run') = 'on' AND current_setting('pool_monitor.min_idle_per_pool') = '0'");
$log_offset = -s $node->logfile;
is( $node->safe_psql('postgres', q{
	SELECT count(*) || '|' || bool_and(dry_run) FROM pool_monitor.prune_now()}),
	'5|true', 'dry run decides 5 terminations and marks them dry');
is(alive(@web[5, 6], @dry), 5, 'dry run ends nobody');
ok($node->log_contains(
		qr/pool_monitor: dry run, would have terminated pid=\d+ database=postgres role=app application=dry /,
		$log_offset),
	'the LOG line says it was a dry run');
is( $node->safe_psql('postgres', q{
	SELECT count(*) FROM pool_monitor.terminations WHERE dry_run}),
	'5', 'the would-be terminations are recorded');

reload_with("pool_monitor.dry_run = off\n",
	"SELECT current_setting('pool_monitor.dry_run') = 'off'");
$log_offset = -s $node->logfile;
is( $node->safe_psql('postgres', q{
	SELECT count(*) || '|' || bool_and(dry_run) FROM pool_monitor.prune_now(dry_run => true)}),
	'5|true', 'prune_now(dry_run => true) is a dry run whatever the setting');
is(alive(@web[5, 6], @dry), 5, 'still nobody ended');
# the same sessions, idle since the same moments: the ring keeps one entry
# each, brought up to date, and the log has no new line for them
is( $node->safe_psql('postgres', q{
	SELECT count(*) || '|' || count(DISTINCT pid) || '|' || bool_and(idle_for > '1.2 s')
	  FROM pool_monitor.terminations WHERE dry_run}),
	'5|5|true', 'asking again adds no entry to the ring');
ok(!$node->log_contains(qr/dry run, would have terminated/, $log_offset),
	'nor a LOG line');
is($node->safe_psql('postgres', 'SELECT terminated FROM pool_monitor.summary'),
	'7', 'dry runs are not counted as terminated');

# --- the utilization gate --------------------------------------------------
# 40 connections, 3 reserved: about 12 sessions are 30 % of 37
reload_with("pool_monitor.prune_min_utilization = 90\n",
	"SELECT current_setting('pool_monitor.prune_min_utilization') = '90'");
my $gate_xact = hold_session($node, 'txn', 'idle in transaction', user => 'app');
wait_idle_for(1.2, $gate_xact);
is( $node->safe_psql('postgres', q{
	SELECT string_agg(state, ',') FROM pool_monitor.prune_now()}),
	'idle in transaction',
	'below prune_min_utilization only idle in transaction is ended');
is(alive(@web[5, 6], @dry), 5, 'idle sessions stay below the utilization threshold');
is( $node->safe_psql('postgres', q{
	SELECT count(*) FROM pool_monitor.connections
	 WHERE protected_by = 'prune_min_utilization' AND prune_at IS NULL}),
	'5', 'connections shows the utilization gate');

# --- the per-run limit -----------------------------------------------------
reload_with("pool_monitor.prune_min_utilization = 10\npool_monitor.max_terminations_per_prune = 2\n",
	"SELECT current_setting('pool_monitor.max_terminations_per_prune') = '2' AND current_setting('pool_monitor.prune_min_utilization') = '10'");
is($node->safe_psql('postgres', 'SELECT pid FROM pool_monitor.prune_now()'),
	pids(@web[5, 6]), 'a run ends at most max_terminations_per_prune, longest idle first');
is($node->safe_psql('postgres', 'SELECT pid FROM pool_monitor.prune_now()'),
	pids(@dry[0, 1]), 'the next run takes the next two');
is($node->safe_psql('postgres', 'SELECT pid FROM pool_monitor.prune_now()'),
	pids($dry[2]), 'and the next one the last');
ok(gone(@web[5, 6], @dry), 'all of them are gone');

# --- bad exclude lists are refused at reload; the old value stays ----------
my @bad = (
	[ 'exclude_applications', q{'psql-*, "unterminated'},
		qr/DETAIL:  List item 2, "unterminated, is not a valid pattern\./ ],
	[ 'exclude_roles', q{'keeper,,other'}, qr/DETAIL:  List item 2 is empty\./ ],
	[ 'exclude_applications', q{'} . ('x' x 64) . q{*'},
		qr/DETAIL:  Pattern 1, "x{64}\*", is longer than 63 bytes/ ],
	[ 'exclude_databases', q{'kept, "a"b'},
		qr/DETAIL:  List item 2, "a"b, is not a valid name\./ ]);
for my $case (@bad)
{
	my ($name, $value, $detail) = @$case;
	$log_offset = -s $node->logfile;
	$node->append_conf('postgresql.conf', "pool_monitor.$name = $value\n");
	$node->reload;
	$node->wait_for_log(qr/contains errors; unaffected changes were applied/,
		$log_offset);
	ok( $node->log_contains(
			qr/invalid value for parameter "pool_monitor\.$name"/, $log_offset),
		"a bad $name is refused at reload");
	ok($node->log_contains($detail, $log_offset), "the detail names the bad item of $name");
}
is( $node->safe_psql('postgres', q{
	SELECT current_setting('pool_monitor.exclude_applications') || '|'
	       || current_setting('pool_monitor.exclude_roles') || '|'
	       || current_setting('pool_monitor.exclude_databases')}),
	'psql-*|keeper|kept', 'the old values stay');

sample_now($node);
is( $node->safe_psql('postgres', qq{
	SELECT string_agg(protected_by, ',' ORDER BY protected_by) FROM pool_monitor.connections
	 WHERE pid IN ($excluded_app->{pm_pid}, $excluded_role->{pm_pid}, $excluded_db->{pm_pid})}),
	'exclude_applications,exclude_databases,exclude_roles',
	'and still protect their sessions');

# undo the bad lines, so that the next reload is clean
$node->append_conf('postgresql.conf', q{
pool_monitor.exclude_applications = 'psql-*'
pool_monitor.exclude_roles = 'keeper'
pool_monitor.exclude_databases = 'kept'
});

# --- the re-check spares a session that ran a statement after the sample --
# The worker samples, then reads pg_authid.  Holding pg_authid locked stops
# it between the two, so the target can start a statement in between: the
# sample says idle past its lifetime, the status read before the signal
# says active, and the session must survive with its statement.
my $target = hold_session($node, 'recheck', 'idle', user => 'app');
my $locker = hold_session($node, 'locker', 'idle');
my $pruner = hold_session($node, 'pruner', 'idle');
wait_idle_for(1.2, $target);
is($pruner->query_safe(
		'SELECT pid FROM pool_monitor.prune_now(dry_run => true)'),
	$target->{pm_pid}, 'the target is due: a dry run would end it');

$locker->query_safe('BEGIN; LOCK TABLE pg_authid IN ACCESS EXCLUSIVE MODE');
$pruner->{stdin} .= "SELECT count(*) AS ended FROM pool_monitor.prune_now();\n\\echo pruned\n";
$pruner->{run}->pump_nb;
ok( poll_in_session($locker, q{
	SELECT count(*) = 1 FROM pg_locks l JOIN pg_stat_activity a USING (pid)
	 WHERE l.relation = 'pg_authid'::regclass AND NOT l.granted
	   AND a.backend_type = 'pool_monitor'}),
	'the worker sampled and now waits for pg_authid');

$target->{stdin} .= "\\echo running\nSELECT 'survived' FROM pg_sleep(1);\n";
$target->{run}->pump until $target->{stdout} =~ /running/;
# the locker is in a transaction: drop its cached activity snapshot first
ok( poll_in_session($locker, qq{
	SELECT pg_stat_clear_snapshot();
	SELECT state = 'active' FROM pg_stat_activity WHERE pid = $target->{pm_pid}}),
	'the target runs a statement while the worker waits');
$locker->query_safe('COMMIT');

$pruner->{run}->pump until $pruner->{stdout} =~ /pruned/;
like($pruner->{stdout}, qr/^0$/m, 'the run ends nobody: the re-check saw the statement');
$target->{run}->pump until $target->{stdout} =~ /survived/;
is($target->{stderr}, '', 'the statement completed without an error');
is(alive($target), 1, 'the target is still connected');
$pruner->{stdout} = '';

my $late = hold_session($node, 'late', 'idle', user => 'app');
reload_with("pool_monitor.prune_interval = 1\npool_monitor.min_idle_per_pool = 0\n",
	"SELECT current_setting('pool_monitor.prune_interval') = '1s'");
ok(gone($late), 'with prune_interval reloaded to 1 s the worker ends a session by itself');
is( $node->safe_psql('postgres', qq{
	SELECT count(*) FROM pool_monitor.terminations
	 WHERE pid = $late->{pm_pid} AND NOT dry_run}),
	'1', 'and records it');
is(alive(@protected, $active), 5, 'protected and active sessions are still untouched');
ok(gone($target), 'the re-checked target ends once it idles past its lifetime');

# reset() starts the count again
my ($before_reset) = $node->safe_psql('postgres',
	'SELECT terminated FROM pool_monitor.summary');
cmp_ok($before_reset, '>', 7, "summary counted every termination: $before_reset");
$node->safe_psql('postgres', 'SELECT pool_monitor.reset()');
is( $node->safe_psql('postgres', q{
	SELECT terminated || '|' || (SELECT count(*) FROM pool_monitor.terminations)
	       || '|' || (SELECT coalesce(sum(terminated), 0) FROM pool_monitor.pools)
	  FROM pool_monitor.summary}),
	'0|0|0', 'reset() zeroes summary.terminated, the ring and the pools\' counts');

$_->{run}->kill_kill for (@web, @xact, @dry, $gate_xact, $late);
release_sessions($node, @protected, $active, $target, $locker, $pruner);
$node->stop;
done_testing();

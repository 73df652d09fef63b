# 014_registry_audit.pl: the sampler reads only the backend-status slots of
# sessions in pool_monitor's registry, which the connection hook keeps, and
# every 16th sample reads every slot to audit it.  Sessions that come and go
# while it audits raise no false alarm; sessions the hook never saw (another
# library's hook that does not chain to ours, simulated here with the hidden
# test setting pool_monitor.debug_skip_registry) are found, reported with a
# WARNING, and counted by every sample from then on.  A session whose exit
# lingers after it has left the registry is not taken for a miss.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PoolMonitorTest;

my $audit_every = 16;
my $node = pm_node('registry_audit');

sub hidden_seen
{
	sample_now($node);
	return $node->safe_psql('postgres', q{
		SELECT coalesce(sum(total), 0) FROM pool_monitor.pools
		 WHERE application_name = 'hidden'});
}

# sessions come and go through several audits: no false alarm, and every
# sample agrees with pg_stat_activity on the sessions held throughout
my @held = map { hold_session($node, 'held', 'idle') } 1 .. 3;
my $offset = -s $node->logfile;
my $opened_before = $node->safe_psql('postgres',
	'SELECT connections_opened FROM pool_monitor.summary');
my $churn = IPC::Run::start(
	[ 'pgbench', '-n', '-C', '-c', 2, '-T', 30, '-f', '/dev/stdin',
	  '-h', $node->host, '-p', $node->port, 'postgres' ],
	'<', \"SELECT 1;\n", '>', \my $churn_out, '2>', \my $churn_err);
my $agreed = 0;
for (1 .. 3 * $audit_every)
{
	sample_now($node);
	$agreed++ if $node->safe_psql('postgres', q{
		SELECT idle FROM pool_monitor.pools WHERE application_name = 'held'}) eq '3';
}
$churn->kill_kill;
my $churned = $node->safe_psql('postgres',
	'SELECT connections_opened FROM pool_monitor.summary') - $opened_before;
cmp_ok($churned, '>', 3 * $audit_every, "sessions came and went meanwhile: $churned");
is($agreed, 3 * $audit_every, 'every sample, audits included, saw the 3 held sessions');
unlike(substr(slurp_file($node->logfile), $offset), qr/never saw/,
	'no false alarm while sessions came and went');
release_sessions($node, @held);

# a session whose exit takes long (as aborting a transaction that created
# many relations does): it has left the registry but stays in its slot
# through two audits, and is neither counted nor taken for a miss
my $slow = hold_session($node, 'slow', 'idle');
$slow->query_safe("SET pool_monitor.debug_exit_delay = '20s'");
$offset = -s $node->logfile;
$node->safe_psql('postgres', "SELECT pg_terminate_backend($slow->{pm_pid})");
my $counted = 0;
for (1 .. 2 * $audit_every + 1)
{
	sample_now($node);
	$counted++ if $node->safe_psql('postgres', q{
		SELECT count(*) FROM pool_monitor.pools WHERE application_name = 'slow'
		   AND total > 0}) ne '0';
}
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE pid = $slow->{pm_pid}"),
	'1', 'the slow session was still exiting through two audits');
is($counted, 0, 'no sample counted it');
unlike(substr(slurp_file($node->logfile), $offset), qr/never saw/,
	'and no audit took it for a session the hook never saw');
$slow->{run}->kill_kill;
$node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $slow->{pm_pid}")
  or die 'the slow session never ended';

# sessions the hook does not register
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET pool_monitor.debug_skip_registry = on;
	SELECT pg_reload_conf()});
$node->poll_query_until('postgres', 'SHOW pool_monitor.debug_skip_registry', 'on')
  or die 'the setting never reached new sessions';
my @hidden = map { hold_session($node, 'hidden', 'idle') } 1 .. 3;
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM pg_stat_activity WHERE application_name = 'hidden'}),
	'3', 'pg_stat_activity shows the 3 unregistered sessions');

# until the second audit warns, every sample, audits included, counts
# only registered sessions
my ($warned, @seen) = (0);
for (1 .. 3 * $audit_every)
{
	push @seen, hidden_seen();
	last if $warned = ($node->log_contains(qr/never saw/, $offset));
}
ok($warned, 'two audits in a row found them and warned');
note('samples up to the warning: ' . scalar(@seen));
is(scalar(grep { $_ != 0 } @seen), 0,
	'every sample up to the warning missed them, audits included');
my $log = substr(slurp_file($node->logfile), $offset);
like($log, qr/WARNING:  pool_monitor found a client backend that its connection hook never saw\n(?:.*\n)*?.*DETAIL:  Process \d+ is connected but did not pass through pool_monitor's ClientAuthentication_hook\.\n(?:.*\n)*?.*HINT:  Another library/,
	'the WARNING says what was found and why');

@seen = map { hidden_seen() } 1 .. $audit_every + 1;
is(scalar(grep { $_ == 3 } @seen), $audit_every + 1,
	'from then on every sample reads every slot and counts them');
my ($total, $psa) = split /\|/, $node->safe_psql('postgres', q{
	SELECT pool_monitor.sample_now() IS NULL;
	SELECT (SELECT total FROM pool_monitor.summary),
	       (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')});
$total =~ s/^f\n//;
is($total, $psa, 'summary agrees with pg_stat_activity');
is(scalar(() = slurp_file($node->logfile) =~ /never saw/g), 1, 'the WARNING was raised once');

release_sessions($node, @hidden);
$node->stop;
done_testing();

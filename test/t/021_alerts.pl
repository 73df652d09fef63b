# 021_alerts.pl: with max_connections 20 (17 usable by non-superusers),
# holding 17 sessions of a plain role refuses the 18th with SQLSTATE 53300,
# which connections_rejected counts by kind.  Every utilization episode
# raises its alert, even within the cooldown of an earlier one, and
# recovers; refusals raise one rejected alert per cooldown, and reset()
# ends the cooldown.  Alerts are WARNING or LOG lines in the server log and
# rows of pool_monitor.alerts.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PoolMonitorTest;

my $node = pm_node('alerts',
	conf => "max_connections = 20\n"
	  . "superuser_reserved_connections = 3\n"
	  . "pool_monitor.alert_utilization = 50\n"
	  . "pool_monitor.alert_cooldown = '10min'\n"
	  . "pool_monitor.log_interval = 0\n");
$node->safe_psql('postgres', q{
	CREATE ROLE app LOGIN;
	CREATE ROLE limited LOGIN CONNECTION LIMIT 1;
	GRANT pg_monitor TO app;});

my $usable = $node->safe_psql('postgres',
	"SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int");
is($usable, 17, '17 connection slots for roles without superuser');

# Hold $n sessions of role $role, named for it.  The test's own sessions
# are superuser ones and only ever open between these, never while they
# are held.
sub hold_as
{
	my ($role, $n) = @_;
	return map { hold_session($node, $role, 'none', user => $role) } 1 .. $n;
}

# Try one more session of $role; returns psql's stderr.
sub refused_as
{
	my ($role) = @_;
	my ($ret, $stdout, $stderr) = $node->psql('postgres', 'SELECT 1',
		extra_params => [ '-U', $role ]);
	return $ret == 0 ? '' : $stderr;
}

sub alert_kinds
{
	return $node->safe_psql('postgres',
		'SELECT string_agg(kind, \',\' ORDER BY raised_at) FROM pool_monitor.alerts');
}

my $log_offset = -s $node->logfile;

# 17 sessions fill every slot a plain role may use; the 18th is refused
my @held = hold_as('app', 17);
like(refused_as('app'),
	qr/FATAL:  remaining connection slots are reserved/,
	'the 18th session of a plain role is refused');

# a superuser may still connect, into a reserved slot
sample_now($node);
is( $node->safe_psql('postgres', q{
	SELECT connections_rejected FROM pool_monitor.summary}),
	'1', 'connections_rejected counts the refusal');
is( $node->safe_psql('postgres', q{
	SELECT rejected FROM pool_monitor.rejections WHERE kind = 'reserved_slots'}),
	'1', 'as a refusal for want of unreserved slots');
is(alert_kinds(), 'utilization,rejected',
	'the sample raises a utilization and a rejected alert');
is( $node->safe_psql('postgres', q{
	SELECT utilization || '|' || total || '|' || usable_connections
	  FROM pool_monitor.alerts WHERE kind = 'utilization'}),
	'105.9|18|17', 'the utilization alert records the sample');

# more refusals, and still full: nothing new within the cooldown
like(refused_as('app'), qr/remaining connection slots are reserved/,
	'another session is refused');
sample_now($node);
sample_now($node);
is( $node->safe_psql('postgres', 'SELECT connections_rejected FROM pool_monitor.summary'),
	'2', 'both refusals counted');
is(alert_kinds(), 'utilization,rejected', 'no alert repeats within the cooldown');

# utilization falls far below 50 - 5 %: recovered, once
release_sessions($node, @held);
sample_now($node);
sample_now($node);
is(alert_kinds(), 'utilization,rejected,recovered', 'one recovered alert');

# above the threshold again, within the cooldown: a new episode raises its
# own alert all the same, and recovers
@held = hold_as('app', 10);
sample_now($node);
release_sessions($node, @held);
sample_now($node);
is(alert_kinds(), 'utilization,rejected,recovered,utilization,recovered',
	'a second episode within the cooldown raises its own alert');

# a role's connection limit is another kind of refusal
my @limited = hold_as('limited', 1);
like(refused_as('limited'), qr/FATAL:  too many connections for role "limited"/,
	'the role limit refuses a second session');
is( $node->safe_psql('postgres', q{
	SELECT string_agg(kind || '=' || rejected, ',' ORDER BY kind)
	  FROM pool_monitor.rejections WHERE rejected > 0}),
	'reserved_slots=2,role_limit=1', 'refusals by kind');
sample_now($node);
is(alert_kinds(), 'utilization,rejected,recovered,utilization,recovered',
	'the rejected alert keeps its cooldown');
is( $node->safe_psql('postgres', 'SELECT alerts FROM pool_monitor.summary'),
	'5', 'summary counts five alerts');
release_sessions($node, @limited);

# the alerts are in the server log, each once
my $log = slurp_file($node->logfile, $log_offset);
my @utilization = $log =~ /WARNING:  pool_monitor: connection utilization 105\.9% \(18 of 17 usable\), top pools: \S+ \(app\@postgres\) 17/g;
is(scalar @utilization, 1, 'the utilization WARNING is logged once, naming the top pool');
my @rejected = $log =~ /WARNING:  pool_monitor: 1 connection attempt rejected with SQLSTATE 53300 \(reserved_slots 1\)/g;
is(scalar @rejected, 1, 'the rejected WARNING is logged once, with count and kind');
my @recovered = $log =~ /LOG:  pool_monitor: connection utilization recovered to \d+\.\d% \(\d+ of 17 usable\), below 45\.0%/g;
is(scalar @recovered, 2, 'the recovered LOG is logged once per episode');

# reset() ends the cooldown: the next sample reports the refusals held back
$node->safe_psql('postgres', 'SELECT pool_monitor.reset()');
sample_now($node);
is( $node->safe_psql('postgres', q{
	SELECT string_agg(message, ' / ' ORDER BY raised_at) FROM pool_monitor.alerts}),
	'pool_monitor: 2 connection attempts rejected with SQLSTATE 53300 (reserved_slots 1, role_limit 1)',
	'after reset(), the refusals held back are reported together, and only they');

$node->stop;
done_testing();

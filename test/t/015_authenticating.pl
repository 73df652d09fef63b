# 015_authenticating.pl: clients that have not finished authenticating are
# not connections of any pool.  Three clients send a startup packet for a
# role that needs a SCRAM password, read the server's password request and
# never answer it.  From PostgreSQL 18 on the server publishes their
# status entries (state "starting", no role) before authentication; before
# 18 it publishes nothing until authentication has passed.  On every
# version they must change no figure (summary, pools), no termination
# decision, and must not make the registry audit give up.
use strict;
use warnings;
use IO::Socket::UNIX;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PoolMonitorTest;

my $audit_every = 16;
my $node = pm_node('authenticating', conf => q{
pool_monitor.idle_lifetime = '1s'
pool_monitor.min_idle_per_pool = 0
pool_monitor.terminate_superusers = on
pool_monitor.prune_interval = '1h'
});
$node->safe_psql('postgres', q{
	SET password_encryption = 'scram-sha-256';
	CREATE ROLE pm_scram LOGIN PASSWORD 'not-sent'});
open my $hba, '>', $node->data_dir . '/pg_hba.conf' or die $!;
print $hba "local all pm_scram scram-sha-256\nlocal all all trust\n";
close $hba;
$node->reload;

# a client that stops at the server's password request
sub stalled_client
{
	my $sock = IO::Socket::UNIX->new(
		Type => SOCK_STREAM(),
		Peer => $node->host . '/.s.PGSQL.' . $node->port)
	  or die "cannot connect: $!";
	my $params = "user\0pm_scram\0database\0postgres\0application_name\0stalled\0\0";
	print $sock pack('NN', 8 + length($params), 196608) . $params;
	my $got = '';
	$sock->recv($got, 1);
	die "expected an authentication request, got '$got'" unless $got eq 'R';
	return $sock;
}

my @held = map { hold_session($node, 'held', 'idle') } 1 .. 2;
my $offset = -s $node->logfile;
my @stalled = map { stalled_client() } 1 .. 3;

my $starting = $node->safe_psql('postgres', q{
	SELECT count(*) FROM pg_stat_activity
	 WHERE backend_type = 'client backend' AND state = 'starting'});
SKIP:
{
	skip 'before PostgreSQL 18 the server shows no client before it authenticates', 1
	  if $node->safe_psql('postgres', 'SHOW server_version_num') < 180000;
	is($starting, 3, 'the server shows the three stalled clients as starting');
}

# enough samples for two audits in a row, which is what would give up
for (1 .. 2 * $audit_every + 1)
{
	sample_now($node);
}
my $clients = $node->safe_psql('postgres', q{
	SELECT count(*) FROM pg_stat_activity
	 WHERE backend_type = 'client backend' AND state IS DISTINCT FROM 'starting'});
is($node->safe_psql('postgres', 'SELECT total FROM pool_monitor.summary'),
	$clients, "summary counts the $clients authenticated sessions only");
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM pool_monitor.pools
	 WHERE application_name = 'stalled' OR role IS NULL OR role = ''}),
	'0', 'no pool holds a client that has not authenticated');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM pool_monitor.connections
	 WHERE application_name = 'stalled'}),
	'0', 'the connections view lists none of them');

# the idle policy: with a 1 s lifetime and no floor, a dry run names the
# two held sessions once they have idled that long, and nothing else
my $held_pids = join(',', sort { $a <=> $b } map { $_->{pm_pid} } @held);
$node->poll_query_until('postgres', qq{
	SELECT count(*) = 2 FROM pg_stat_activity
	 WHERE pid IN ($held_pids) AND state_change < now() - interval '1.5 s'})
  or die 'the held sessions never idled past their lifetime';
is($node->safe_psql('postgres', q{
	SELECT string_agg(pid::text, ',' ORDER BY pid)
	  FROM pool_monitor.prune_now(dry_run => true)}),
	$held_pids, 'the idle policy would end the held sessions and nothing else');
unlike(substr(slurp_file($node->logfile), $offset), qr/never saw/,
	'the registry audit did not give up');

close $_ for @stalled;
release_sessions($node, @held);
$node->stop;
done_testing();

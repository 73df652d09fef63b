# 083_busy_walsender.pl: walsenders are never counted busy (src/busy.h).
# On a primary with a streaming standby (whose walsender streams from it),
# a physical replication connection that ran IDENTIFY_SYSTEM, and two
# logical replication connections (replication=database) that run SQL
# through the same executor and utility hooks as client sessions, one idle
# in a transaction and one waiting inside a statement, the server-wide
# exact figures of pool_monitor.summary count none of them: after reset(),
# busy and busy_peak are those of the reading statement alone and the mean
# stays near 0, while an ordinary session held in a transaction is counted
# (busy and busy_peak go up by one).  Ending the walsenders in their
# transactions takes nothing off the count either.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PoolMonitorTest;

# wal_level = logical, walsenders, and replication connections in pg_hba
my $node = pm_node('walsender', init => { allows_streaming => 'logical' });

# summary's busy now and busy peak; the reading statement is itself busy
sub server_busy
{
	return $node->safe_psql('postgres',
		q{SELECT busy || '|' || busy_peak FROM pool_monitor.summary});
}

# a pid's state in pg_stat_activity, once it is $state there
sub wait_state
{
	my ($pid, $state) = @_;
	return $node->poll_query_until('postgres', qq{
		SELECT state = '$state' FROM pg_stat_activity WHERE pid = $pid});
}

# --- the walsenders
# a streaming standby's walsender
$node->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($node, 'backup', has_streaming => 1);
$standby->start;
$node->wait_for_catchup($standby);

# a physical replication connection: replication commands only
my $physical = $node->background_psql('postgres', replication => 'true');
like($physical->query_safe('IDENTIFY_SYSTEM'), qr/^\d+\|1\|[0-9A-F]+\/[0-9A-F]+\|$/,
	'a physical replication connection runs IDENTIFY_SYSTEM');

# logical replication connections: replication commands and SQL
my $in_xact = $node->background_psql('postgres', replication => 'database');
like($in_xact->query_safe('IDENTIFY_SYSTEM'), qr/\|postgres$/,
	'a logical replication connection runs IDENTIFY_SYSTEM');
my $in_xact_pid = $in_xact->query_safe('SELECT pg_backend_pid()');
$in_xact->query_safe('BEGIN');
cmp_ok($in_xact->query_safe('SELECT count(*) FROM pg_class'), '>', 0,
	'and a SELECT in a transaction block');

# another, held inside a statement by an advisory lock the gate holds (the
# gate, an ordinary session, took it in an autocommit statement: not busy)
my $gate = $node->background_psql('postgres');
$gate->query_safe('SELECT pg_advisory_lock(83)');
my $in_stmt = $node->background_psql('postgres', replication => 'database');
my $in_stmt_pid = $in_stmt->query_safe('SELECT pg_backend_pid()');
$in_stmt->{stdin} .= "\\echo running\nSELECT pg_advisory_xact_lock_shared(83);\n";
$in_stmt->{run}->pump until $in_stmt->{stdout} =~ /running/;
$in_stmt->{stdout} = '';
ok( $node->poll_query_until('postgres', qq{
		SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $in_stmt_pid}),
	'a logical replication connection waits inside a statement');

is( $node->safe_psql('postgres', qq{
		SELECT count(*) || '|' ||
		       count(*) FILTER (WHERE pid = $in_xact_pid AND state = 'idle in transaction') || '|' ||
		       count(*) FILTER (WHERE pid = $in_stmt_pid AND state = 'active')
		  FROM pg_stat_activity WHERE backend_type = 'walsender'}),
	'4|1|1',
	'four walsenders, one idle in a transaction and one active: a client session so would be busy');

# --- reset(), then more of the walsenders' transitions
$node->safe_psql('postgres', 'SELECT pool_monitor.reset()');
$in_xact->query_safe('COMMIT');
$in_xact->query_safe('BEGIN');
$in_xact->query_safe('SELECT 1');
$physical->query_safe('IDENTIFY_SYSTEM');
is(server_busy(), '1|1',
	'after reset(), busy and busy peak count the reading statement only, no walsender');

# the mean since reset() over a second or more: readers' statements only
# (counted, the two walsenders would make it about 2)
$node->poll_query_until('postgres', q{
	SELECT clock_timestamp() - stats_reset > interval '1 s' FROM pool_monitor.summary})
  or die 'no second passed since reset()';
my $mean = $node->safe_psql('postgres', 'SELECT busy_mean FROM pool_monitor.summary');
cmp_ok($mean, '<', 0.5, "mean busy since reset() is $mean: the walsenders' time is not counted");

# --- an ordinary session held in a transaction is counted
my $ordinary = hold_session($node, 'ordinary', 'idle in transaction');
ok(wait_state($ordinary->{pm_pid}, 'idle in transaction'), 'an ordinary session idle in a transaction');
is(server_busy(), '2|2', 'it is counted: busy and busy peak 2, it and the reader');
$ordinary->query_safe('COMMIT');
is(server_busy(), '1|2', 'after its COMMIT, busy 1 again and the peak stays 2');

# --- walsenders ended in their transactions take nothing off the count
$node->safe_psql('postgres', qq{
	SELECT pg_terminate_backend(pid) FROM pg_stat_activity
	 WHERE pid IN ($in_xact_pid, $in_stmt_pid)});
$node->poll_query_until('postgres', qq{
	SELECT count(*) = 0 FROM pg_stat_activity WHERE pid IN ($in_xact_pid, $in_stmt_pid)})
  or die 'the logical replication connections did not end';
$physical->quit;
$standby->stop;
$node->poll_query_until('postgres', q{
	SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'walsender'})
  or die 'walsenders still run';
is(server_busy(), '1|2', 'with the walsenders gone, busy is still 1 and the peak 2');
$ordinary->quit;
$gate->quit;
$in_xact->{run}->kill_kill;
$in_stmt->{run}->kill_kill;

$node->stop;
done_testing();

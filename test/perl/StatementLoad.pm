# StatementLoad.pm: a paced load of client sessions that records, for each
# statement, two intervals: when the client sent it and received its
# answer (the client's own clock), and when it ran on the server (the
# start and end that the statement itself returns).  Tests compare pool_monitor's exact busy figures with both.
#
# Each client is a process with one DBD::Pg connection, using the simple
# query protocol, whose statements arrive at random (exponential gaps) at
# a mean rate per client; a statement that is due while the previous one
# runs starts as soon as that one ends.  All clients connect first, then
# start together when the caller's start callback has run.
package StatementLoad;

use strict;
use warnings;

use DBI;
use File::Temp qw(tempdir);
use POSIX ();
use Time::HiRes qw(time sleep);

use Exporter 'import';
our @EXPORT_OK = qw(run_statement_load concurrency);

# The statement: it sleeps, and returns when it started and ended running
# (epoch seconds, from clock_timestamp()).  The start is taken in a
# subquery that the sleep depends on (LATERAL), so it is evaluated first,
# once the executor runs; the end after the sleep.
sub statement_sql
{
	my ($sleep) = @_;
	return 'SELECT extract(epoch FROM s.t), extract(epoch FROM clock_timestamp()) '
	  . 'FROM (SELECT clock_timestamp() AS t OFFSET 0) s, '
	  . "LATERAL pg_sleep($sleep + 0 * extract(epoch FROM s.t))";
}

# run_statement_load(node => $node, clients => N, rate => per client and
# second, seconds => S, sleep => seconds each statement sleeps, app =>
# application_name, start => sub run once every client is connected)
#
# Returns a reference to a list of [sent, received, started, ended], one
# per statement, in epoch seconds.
sub run_statement_load
{
	my %o = @_;
	my $dir = tempdir(CLEANUP => 1);
	my $dsn = sprintf('dbi:Pg:dbname=postgres;host=%s;port=%d;application_name=%s',
		$o{node}->host, $o{node}->port, $o{app});
	my $sql = statement_sql($o{sleep});
	my @pids;

	for my $c (1 .. $o{clients})
	{
		my $pid = fork;
		die "fork: $!" unless defined $pid;
		if ($pid == 0)
		{
			# never return into the test: its END blocks would stop the node
			my $ok = eval { client($dsn, $sql, "$dir/$c", "$dir/go", \%o); 1 };
			print STDERR "client $c: $@" unless $ok;
			POSIX::_exit($ok ? 0 : 1);
		}
		push @pids, $pid;
	}

	my $deadline = time + 60;
	until ((grep { -e "$dir/$_.ready" } 1 .. $o{clients}) == $o{clients})
	{
		die 'the load clients did not connect' if time > $deadline;
		die 'a load client failed' if waitpid(-1, POSIX::WNOHANG()) > 0 && $? != 0;
		sleep 0.01;
	}
	$o{start}->() if $o{start};
	open my $go, '>', "$dir/go" or die "$dir/go: $!";
	close $go;

	my $failed = 0;
	for (@pids)
	{
		waitpid($_, 0);
		$failed++ if $? != 0;
	}
	die "$failed load clients failed" if $failed;

	my @statements;
	for my $c (1 .. $o{clients})
	{
		open my $fh, '<', "$dir/$c.log" or die "$dir/$c.log: $!";
		push @statements, map { [split] } <$fh>;
	}
	return \@statements;
}

# One client: connect, say so, wait for the start, then run statements at
# random times for the given seconds, logging each one's four stamps.
sub client
{
	my ($dsn, $sql, $base, $go, $o) = @_;
	my $dbh = DBI->connect($dsn, '', '',
		{ AutoCommit => 1, RaiseError => 1, PrintError => 0, pg_server_prepare => 0 });
	open my $log, '>', "$base.log" or die "$base.log: $!";
	open my $ready, '>', "$base.ready" or die "$base.ready: $!";
	close $ready;
	sleep 0.005 until -e $go;

	srand($$ ^ int(time * 1e6));
	my $next = time;
	my $end = $next + $o->{seconds};
	while (1)
	{
		$next += -log(1 - rand()) / $o->{rate};
		last if $next >= $end;
		my $wait = $next - time;
		sleep $wait if $wait > 0;
		my $sent = time;
		my ($started, $ended) = $dbh->selectrow_array($sql);
		my $received = time;
		printf $log "%.6f %.6f %s %s\n", $sent, $received, $started, $ended;
	}
	close $log or die "$base.log: $!";
	$dbh->disconnect;
}

# The mean and the peak number of intervals open at once, over [from, to],
# for intervals given as [start, end] pairs.
sub concurrency
{
	my ($from, $to, @intervals) = @_;
	my ($sum, @events) = (0);
	for (@intervals)
	{
		my ($a, $b) = ($_->[0] < $from ? $from : $_->[0], $_->[1] > $to ? $to : $_->[1]);
		next if $b <= $a;
		$sum += $b - $a;
		push @events, [ $a, 1 ], [ $b, -1 ];
	}
	my ($open, $peak) = (0, 0);
	# an interval that ends where another starts does not overlap it
	for (sort { $a->[0] <=> $b->[0] || $a->[1] <=> $b->[1] } @events)
	{
		$open += $_->[1];
		$peak = $open if $open > $peak;
	}
	return ($sum / ($to - $from), $peak);
}

1;

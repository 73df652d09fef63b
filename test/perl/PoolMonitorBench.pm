# PoolMonitorBench.pm: the building blocks of pool_monitor's benchmark
# (test/bench/bench.pl) and of its short check mode (test/t/090_bench_check.pl):
# clusters with and without pool_monitor, pgbench runs with per-transaction
# latency percentiles, sessions held open cheaply, and the sampler's cost.
package PoolMonitorBench;

use strict;
use warnings;

use File::Temp qw(tempdir);
use POSIX ();
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Time::HiRes qw(time);

use Exporter 'import';
our @EXPORT = qw(bench_cluster run_pgbench run_pgbench_together hold_idle_sessions release_held
  sampler_cost percentile rescue_story instructions_per_connection
  instructions_per_transaction fill_pool_table);

# The reference API's server-side settings: prune what clients will not, keep a
# warm floor of five per pool, as Npgsql's Minimum Pool Size=5 does.
our $API_SETTINGS = <<'CONF';
pool_monitor.idle_lifetime = '300s'
pool_monitor.min_idle_per_pool = 5
pool_monitor.prune_interval = '10s'
CONF

# A started cluster for benchmarking, with or without pool_monitor.
sub bench_cluster
{
	my ($name, %opts) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);

	$node->init;
	$node->append_conf('postgresql.conf', <<"CONF");
max_connections = @{[ $opts{max_connections} // 130 ]}
shared_buffers = '256MB'
log_min_messages = warning
log_statement = none
log_connections = off
log_disconnections = off
fsync = off
synchronous_commit = off
CONF
	if ($opts{pool_monitor})
	{
		$node->append_conf('postgresql.conf',
			"shared_preload_libraries = 'pool_monitor'\n" . ($opts{conf} // ''));
	}
	$node->start;
	if ($opts{pool_monitor})
	{
		$node->safe_psql('postgres', 'CREATE EXTENSION pool_monitor');
	}
	if ($opts{scale})
	{
		my ($out, $err);
		IPC::Run::run([ 'pgbench', '-i', '-q', '-s', $opts{scale},
			'-h', $node->host, '-p', $node->port, 'postgres' ],
			'>', \$out, '2>', \$err) or die "pgbench -i failed: $err";
	}
	return $node;
}

sub percentile
{
	my ($sorted, $p) = @_;
	return undef unless @$sorted;
	my $i = int($p / 100 * $#$sorted + 0.5);
	return $sorted->[$i];
}

# CPU seconds of the server: the postmaster's own and those of its children
# that have exited (which the kernel adds to it when they are reaped).
sub server_cpu_seconds
{
	my ($node) = @_;
	open my $pidfile, '<', $node->data_dir . '/postmaster.pid' or die $!;
	my $pid = <$pidfile>;
	chomp $pid;
	open my $stat, '<', "/proc/$pid/stat" or die "no /proc/$pid/stat: $!";
	my $line = <$stat>;
	# fields after the parenthesised command: utime stime cutime cstime are
	# the 12th to 15th of them
	my @f = split ' ', substr($line, rindex($line, ')') + 2);
	return ($f[11] + $f[12] + $f[13] + $f[14]) / POSIX::sysconf(POSIX::_SC_CLK_TCK());
}

# Run pgbench and return its figures: tps, latency percentiles in ms (from
# the per-transaction log), failed transactions, connection time in ms, and
# the server's CPU time per transaction in us.
#   builtin => 'select-only' | 'tpcb-like'   or   files => [script, ...]
#   clients, seconds, connect (reconnect for every transaction, -C),
#   appname (the sessions' application_name)
sub run_pgbench
{
	my ($node, %o) = @_;
	return finish_pgbench(start_pgbench($node, %o));
}

# Run pgbench against several nodes at the same moment, the same workload on
# each; returns their figures in the same order.  Side by side, the runs
# share whatever the machine does meanwhile, so their ratio is free of the
# drift that makes one run differ from the next.
sub run_pgbench_together
{
	my ($nodes, %o) = @_;
	my @runs = map { start_pgbench($_, %o) } @$nodes;
	return map { finish_pgbench($_) } @runs;
}

sub start_pgbench
{
	my ($node, %o) = @_;
	my %run = (node => $node, dir => tempdir(CLEANUP => 1));
	my @cmd = ('pgbench', '-n', '-c', $o{clients}, '-j', $o{jobs} // 4,
		'-T', $o{seconds}, '-l', "--log-prefix=$run{dir}/tx");
	push @cmd, '-C' if $o{connect};
	push @cmd, '-b', $o{builtin} if $o{builtin};
	push @cmd, map { ('-f', $_) } @{ $o{files} // [] };
	push @cmd, '-h', $node->host, '-p', $node->port, $o{db} // 'postgres';

	my @env = $o{appname} ? (PGAPPNAME => $o{appname}) : ();
	local %ENV = (%ENV, @env);
	$run{cpu_before} = server_cpu_seconds($node);
	$run{h} = IPC::Run::start(\@cmd, '>', \$run{out}, '2>', \$run{err});
	return \%run;
}

sub finish_pgbench
{
	my ($run) = @_;
	my $dir = $run->{dir};

	$run->{h}->finish or die "pgbench failed: $run->{err}\n$run->{out}";
	my $cpu = server_cpu_seconds($run->{node}) - $run->{cpu_before};
	my $out = $run->{out};

	my %r = (output => $out);
	($r{tps}) = $out =~ /^tps = ([\d.]+)/m;
	($r{failed}) = $out =~ /number of failed transactions: (\d+)/;
	$r{failed} //= 0;
	($r{conn_ms}) = $out =~ /(?:initial|average) connection time = ([\d.]+) ms/;
	($r{transactions}) = $out =~ /number of transactions actually processed: (\d+)/;
	$r{server_cpu_us} = $r{transactions} ? $cpu * 1e6 / $r{transactions} : undef;

	# per-transaction log: client tx latency_us script epoch us
	my (%by_script, @all);
	for my $file (glob("$dir/tx.*"))
	{
		open my $fh, '<', $file or die $!;
		while (<$fh>)
		{
			my @f = split;
			next unless @f >= 4 && $f[2] =~ /^\d+$/;
			my $ms = $f[2] / 1000.0;
			push @all, $ms;
			push @{ $by_script{ $f[3] } }, $ms;
		}
	}
	@all = sort { $a <=> $b } @all;
	@$_ = sort { $a <=> $b } @$_ for values %by_script;
	$r{p50} = percentile(\@all, 50);
	$r{p95} = percentile(\@all, 95);
	$r{p99} = percentile(\@all, 99);
	$r{by_script} = \%by_script;
	return \%r;
}

# Open $n sessions that run one query and then stay idle (pgbench clients
# in a long \sleep); returns the pgbench harness.  Cheap: one process.
sub hold_idle_sessions
{
	my ($node, $n, %o) = @_;
	my $dir = tempdir(CLEANUP => 1);
	my $script = "$dir/hold.sql";
	open my $fh, '>', $script or die $!;
	print $fh "SELECT 1;\n\\sleep $o{seconds} s\n";
	close $fh;
	my @env = $o{appname} ? (PGAPPNAME => $o{appname}) : ();
	local %ENV = (%ENV, @env);
	my $h = IPC::Run::start(
		[ 'pgbench', '-n', '-c', $n, '-j', 8, '-t', 1, '-f', $script,
		  '-h', $o{host} // $node->host, '-p', $node->port,
		  '-U', $o{user} // $ENV{USER} // 'postgres',
		  'postgres' ],
		'>', \my $out, '2>', \my $err);
	return $h;
}

sub release_held
{
	my ($h) = @_;
	$h->kill_kill;
}

# Median and maximum of sample_duration_us over $n fresh samples.
sub sampler_cost
{
	my ($node, $n) = @_;
	my @costs;
	for (1 .. $n)
	{
		my $c = $node->safe_psql('postgres', q{
			SELECT pool_monitor.sample_now() IS NULL;
			SELECT sample_duration_us FROM pool_monitor.summary});
		$c =~ s/^f\n//;
		push @costs, $c;
	}
	@costs = sort { $a <=> $b } @costs;
	return (percentile(\@costs, 50), $costs[-1]);
}

# Start $node's server under valgrind --tool=callgrind, every backend
# writing its counts to $dir/cg.<pid>, and wait until it accepts
# connections.  Returns the IPC::Run harness.
sub start_under_callgrind
{
	my ($node, $dir) = @_;
	my $pg_bin = `pg_config --bindir`;
	chomp $pg_bin;
	my $server = IPC::Run::start(
		[ 'valgrind', '--tool=callgrind', '--trace-children=yes',
		  # a forked child starts with its parent's counts: zero them
		  '--zero-before=InitPostmasterChild',
		  "--callgrind-out-file=$dir/cg.%p", '-q',
		  "$pg_bin/postgres", '-D', $node->data_dir,
		  '-c', "port=@{[ $node->port ]}",
		  '-c', "unix_socket_directories=@{[ $node->host ]}",
		  '-c', 'listen_addresses=' ],
		'>', "$dir/server.out", '2>&1');
	for (1 .. 600)
	{
		return $server if system('pg_isready', '-q', '-h', $node->host,
			'-p', $node->port) == 0;
		select(undef, undef, undef, 0.2);
	}
	die 'the server under valgrind never became ready: ' . slurp_file("$dir/server.out");
}

# Instructions one client backend executes from its start to its exit
# (from InitPostmasterChild, right after the fork), counted by
# callgrind: a server run under valgrind --trace-children, $n sessions that
# each connect, run SELECT 1 and leave, and the median over their backends.
# Deterministic where timings are not, so the cost of pool_monitor's
# connection hooks shows even where throughput varies by 10% from run to
# run.  With pools => N (pool_monitor only), the pool table holds N pools
# first and every measured session belongs to the one made last.  Returns
# (median, min, max).
sub instructions_per_connection
{
	my (%o) = @_;
	my $n = $o{connections} // 15;
	my $name = ($o{pool_monitor} ? 'cg_with' : 'cg_without') . ($o{pools} // '');
	my $node = PostgreSQL::Test::Cluster->new($name);
	my $dir = tempdir(CLEANUP => 1);

	$node->init;
	$node->append_conf('postgresql.conf', <<"CONF");
shared_preload_libraries = '@{[ $o{pool_monitor} ? 'pool_monitor' : '' ]}'
@{[ $o{pool_monitor} ? $API_SETTINGS : '' ]}
autovacuum = off
log_min_messages = warning
CONF
	my $server = start_under_callgrind($node, $dir);

	# one session first, so that every measured one finds the same caches
	fill_pool_table($node, $o{pools}) if $o{pools};
	my @cmd = ('psql', '-X', '-Atq', '-h', $node->host, '-p', $node->port,
		'-d', 'dbname=postgres' . ($o{pools} ? " application_name=bench_pool_$o{pools}" : ''),
		'-c', 'SELECT pg_backend_pid()');
	my @pids;
	for (0 .. $n)
	{
		my ($pid, $psql_err);
		IPC::Run::run(\@cmd, '>', \$pid, '2>', \$psql_err)
		  or die "psql failed: $psql_err";
		chomp $pid;
		push @pids, $pid if $_ > 0;
	}
	system('pg_ctl', '-D', $node->data_dir, '-m', 'fast', '-w', 'stop') == 0
	  or die 'could not stop the server under valgrind';
	$server->finish;

	my @counts;
	for my $pid (@pids)
	{
		open my $fh, '<', "$dir/cg.$pid" or die "no callgrind output for backend $pid";
		while (<$fh>)
		{
			if (/^(?:summary|totals):\s+(\d+)/)
			{
				push @counts, $1;
				last;
			}
		}
		close $fh;
	}
	die 'no instruction counts read' unless @counts == @pids;
	@counts = sort { $a <=> $b } @counts;
	return (percentile(\@counts, 50), $counts[0], $counts[-1]);
}

# Instructions one backend executes per transaction of a pgbench builtin
# ('select-only' or 'tpcb-like'), counted by callgrind: one client runs
# $short and then, in a new session, $long transactions under a server run
# by valgrind --trace-children; the difference of the two backends'
# counts over the difference of transactions leaves out the cost of
# connecting.  With pool_monitor => 1 the library is preloaded (and the
# session counted, in pool "bench"); else not.  Deterministic where
# timings are not.  Returns instructions per transaction.
sub instructions_per_transaction
{
	my (%o) = @_;
	my ($short, $long) = ($o{short} // 200, $o{long} // 1200);
	my $name = ($o{pool_monitor} ? 'tx_with_' : 'tx_without_') . ($o{builtin} =~ s/-/_/gr);
	my $node = PostgreSQL::Test::Cluster->new($name);
	my $dir = tempdir(CLEANUP => 1);

	$node->init;
	$node->append_conf('postgresql.conf', <<"CONF");
shared_preload_libraries = '@{[ $o{pool_monitor} ? 'pool_monitor' : '' ]}'
autovacuum = off
log_min_messages = warning
log_statement = none
CONF
	$node->start;
	my ($iout, $ierr);
	IPC::Run::run([ 'pgbench', '-i', '-q', '-s', 1, '-h', $node->host,
		'-p', $node->port, 'postgres' ], '>', \$iout, '2>', \$ierr)
	  or die "pgbench -i failed: $ierr";
	$node->safe_psql('postgres', 'VACUUM ANALYZE; CHECKPOINT');
	$node->stop;
	# name each session's pid in the log, to tell pgbench's backends from
	# the server's own processes (the worker, the checkpointer, ...)
	$node->append_conf('postgresql.conf', <<'CONF');
log_min_messages = log
log_connections = on
log_line_prefix = '%p '
CONF

	my $server = start_under_callgrind($node, $dir);

	my $run = sub {
		my ($t) = @_;
		my ($out, $err);
		local $ENV{PGAPPNAME} = 'bench';
		IPC::Run::run([ 'pgbench', '-n', '-c', 1, '-t', $t, '-b', $o{builtin},
			'-h', $node->host, '-p', $node->port, 'postgres' ],
			'>', \$out, '2>', \$err) or die "pgbench failed: $err";
	};
	$run->($_) for ($short, $long);
	system('pg_ctl', '-D', $node->data_dir, '-m', 'fast', '-w', 'stop') == 0
	  or die 'could not stop the server under valgrind';
	$server->finish;

	# pgbench's backends (application bench, named by pid in the log):
	# each run opens one to read the scale and one for its client; the two
	# busiest are the clients, the short run's first in pid order
	my @counts;
	for my $pid (slurp_file("$dir/server.out") =~
		/^(\d+) LOG:  connection authorized: .*application_name=bench/mg)
	{
		open my $fh, '<', "$dir/cg.$pid" or die "$dir/cg.$pid: $!";
		while (<$fh>)
		{
			if (/^(?:summary|totals):\s+(\d+)/)
			{
				push @counts, [ $pid, $1 ];
				last;
			}
		}
		close $fh;
	}
	die 'fewer than two pgbench backends in the log and callgrind output' unless @counts >= 2;
	my @top = sort { $a->[0] <=> $b->[0] }
	  (sort { $b->[1] <=> $a->[1] } @counts)[ 0 .. 1 ];
	return ($top[1][1] - $top[0][1]) / ($long - $short);
}

# Give the pool table $n pools, bench_pool_1 to bench_pool_$n, in that
# order: one session takes each application name in turn, with a sample
# under each.
sub fill_pool_table
{
	my ($node, $n) = @_;
	my $sql = "CREATE EXTENSION IF NOT EXISTS pool_monitor;\n"
	  . join('', map { "SET application_name = 'bench_pool_$_';\n"
		  . "SELECT pool_monitor.sample_now();\n" } 1 .. $n)
	  . "SELECT count(*) FROM pool_monitor.pools WHERE application_name LIKE 'bench_pool_%';\n";
	my ($out, $err);
	IPC::Run::run([ 'psql', '-X', '-Atq', '-v', 'ON_ERROR_STOP=1',
		'-h', $node->host, '-p', $node->port, '-d', 'postgres' ],
		'<', \$sql, '>', \$out, '2>', \$err)
	  or die "could not fill the pool table: $err";
	my ($pools) = $out =~ /(\d+)\s*\z/;
	die "the pool table holds $pools bench pools, not $n" unless $pools == $n;
}

# The exhaustion-rescue story.  max_connections 60 (57 usable); a leaking
# application holds 50 sessions idle; an API that needs 30 connections is
# refused.  Then idle_lifetime is switched on with a floor of 5 per pool,
# pool_monitor ends the leak down to its floor, and the same demand is met.
# Returns the figures; dies if a step cannot be set up.
sub rescue_story
{
	my %r;
	my $node = bench_cluster('rescue', pool_monitor => 1, max_connections => 60,
		conf => <<'CONF');
pool_monitor.sample_interval = '200ms'
pool_monitor.prune_interval = '1s'
pool_monitor.min_idle_per_pool = 5
pool_monitor.idle_lifetime = 0
CONF
	$node->safe_psql('postgres', 'CREATE ROLE leaky LOGIN; CREATE ROLE api LOGIN');
	my $dir = tempdir(CLEANUP => 1);
	open my $fh, '>', "$dir/api.sql" or die $!;
	print $fh "SELECT 1;\n";
	close $fh;

	my $leak = hold_idle_sessions($node, 50, seconds => 600, user => 'leaky',
		appname => 'leaky-app');
	$node->poll_query_until('postgres', q{
		SELECT pool_monitor.sample_now() IS NOT NULL AND
		       (SELECT idle >= 50 FROM pool_monitor.summary)})
	  or die 'the leak never reached 50 idle sessions';

	my $api = sub {
		my ($out, $err);
		my $ok = IPC::Run::run(
			[ 'pgbench', '-n', '-c', 30, '-j', 4, '-t', 20, '-f', "$dir/api.sql",
			  '-h', $node->host, '-p', $node->port, '-U', 'api', 'postgres' ],
			'>', \$out, '2>', \$err);
		return ($ok && $out =~ /number of transactions actually processed: 600\b/, $err);
	};

	my ($ok, $err) = $api->();
	$r{refused_first} = !$ok;
	$r{refusal_message} = ($err =~ /(FATAL:\s+[^\n]+)/)[0] // '';
	my $t0 = time;
	$node->safe_psql('postgres', q{
		ALTER SYSTEM SET pool_monitor.idle_lifetime = '2s';
		SELECT pg_reload_conf()});
	my $tries = 0;
	until ($ok)
	{
		die 'the API was not served within 60 s' if time - $t0 > 60;
		$tries++;
		$node->poll_query_until('postgres', q{
			SELECT pool_monitor.sample_now() IS NOT NULL AND
			       (SELECT usable_connections - total >= 31 FROM pool_monitor.summary)})
		  or die 'pool_monitor never freed enough connections';
		($ok, $err) = $api->();
	}
	$r{seconds_to_service} = time - $t0;
	$r{served} = $ok;
	$r{tries} = $tries;

	# pruning goes on, max_terminations_per_prune at a time, to the floor
	$node->poll_query_until('postgres', q{
		SELECT pool_monitor.sample_now() IS NOT NULL AND
		       (SELECT idle <= 5 FROM pool_monitor.pools
		         WHERE application_name = 'leaky-app')});
	$r{seconds_to_floor} = time - $t0;
	my $facts = $node->safe_psql('postgres', q{
		SELECT pool_monitor.sample_now() IS NULL;
		SELECT (SELECT idle FROM pool_monitor.pools WHERE application_name = 'leaky-app'),
		       (SELECT count(*) FROM pool_monitor.terminations),
		       (SELECT connections_rejected FROM pool_monitor.summary),
		       (SELECT count(*) FROM pool_monitor.alerts WHERE kind = 'rejected')});
	$facts =~ s/^f\n//;
	@r{qw(leak_left terminated rejected rejected_alerts)} = split /\|/, $facts;
	release_held($leak);
	$node->stop;
	return \%r;
}

1;

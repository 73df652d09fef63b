#!/usr/bin/perl
# bench.pl: pool_monitor's benchmark.  Starts its own clusters (one with
# pool_monitor preloaded with the reference API's settings, one without), drives
# them with pgbench, prints a markdown report and writes it to
# docs/benchmarks.md.  Run it through test/bench/run.sh (as root) or
# `make bench`; it runs as the postgres user.
#
#   bench.pl [--seconds 30] [--pairs 2] [--out docs/benchmarks.md]
#            [--churn-pairs 30] [--churn-seconds 2]
#            [--side-runs 15] [--side-seconds 5] [--sections 1,2,3,4,5,6]
use strict;
use warnings;

use Getopt::Long;
use IPC::Run;
use POSIX qw(strftime);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PoolMonitorBench;

my %opt = (seconds => 30, pairs => 2, out => 'docs/benchmarks.md',
	'churn-pairs' => 30, 'churn-seconds' => 2, 'side-runs' => 15,
	'side-seconds' => 5, sections => '1,2,3,4,5,6');
GetOptions(\%opt, 'seconds=i', 'pairs=i', 'out=s', 'sections=s',
	'churn-pairs=i', 'churn-seconds=i', 'side-runs=i', 'side-seconds=i')
  or die "bad options\n";
my %run = map { $_ => 1 } split /,/, $opt{sections};
my $secs = $opt{seconds};
my @md;

sub say_md { push @md, @_; print "$_\n" for @_; }
sub median { my @s = sort { $a <=> $b } @_; return $s[ int($#s / 2) ]; }
sub fmt { my ($f, $v) = @_; return defined $v ? sprintf($f, $v) : 'n/a'; }

sub quartiles
{
	my @s = sort { $a <=> $b } @{ $_[0] };
	return (median(@s), percentile(\@s, 25), percentile(\@s, 75));
}

my ($with, $without);

# One pair of runs of the same workload: with first in odd pairs, without
# first in even ones.  Returns (with, without).
sub alternated
{
	my ($pair, %args) = @_;
	$args{builtin} = 'select-only';
	return $pair % 2
	  ? (run_pgbench($with, %args), run_pgbench($without, %args))
	  : reverse(run_pgbench($without, %args), run_pgbench($with, %args));
}

my $cores = `nproc`; chomp $cores;
my ($mem_kb) = `grep MemTotal /proc/meminfo` =~ /(\d+)/;
my $pgver = `pg_config --version`; chomp $pgver;
say_md('# pool_monitor benchmarks', '',
	sprintf('Run on %s: %d cores, %.0f GiB memory, %s; %d s per run.',
		strftime('%Y-%m-%d', gmtime), $cores, $mem_kb / 1048576, $pgver, $secs),
	'Produced by `make bench` (test/bench/bench.pl); rerun it to compare on your machine.',
	'"with" preloads pool_monitor with the reference API\'s settings (idle_lifetime 300 s,',
	'min_idle_per_pool 5, prune_interval 10 s, sample_interval 1 s); "without" does not.', '');

$with = bench_cluster('with', pool_monitor => 1, scale => 10,
	conf => $PoolMonitorBench::API_SETTINGS);
$without = bench_cluster('without', scale => 10);

if ($run{1})
{
	# 1. 100 concurrent clients
	say_md('## 1. 100 concurrent clients (with pool_monitor)', '',
		'| workload | tps | p50 ms | p95 ms | p99 ms | failed | connection time ms |',
		'|---|---|---|---|---|---|---|');
	for my $w ('select-only', 'tpcb-like')
	{
		my $r = run_pgbench($with, builtin => $w, clients => 100, seconds => $secs);
		say_md(sprintf('| %s | %.0f | %s | %s | %s | %d | %s |', $w, $r->{tps},
			fmt('%.2f', $r->{p50}), fmt('%.2f', $r->{p95}), fmt('%.2f', $r->{p99}),
			$r->{failed}, fmt('%.1f', $r->{conn_ms})));
	}
}

if ($run{2})
{
	# 2a. overhead, alternated: with / without, A B, then B A
	say_md('', '## 2. Overhead: with / without', '',
		'### 2a. Alternated (A B, then B A)', '',
		"Select-only, 100 clients, $secs s per run:", '',
		'| pair | tps with | tps without | ratio |', '|---|---|---|---|');
	my @select;
	for my $pair (1 .. $opt{pairs})
	{
		my ($a, $b) = alternated($pair, clients => 100, seconds => $secs);
		push @select, $a->{tps} / $b->{tps};
		say_md(sprintf('| %d | %.0f | %.0f | %.3f |', $pair, $a->{tps}, $b->{tps}, $select[-1]));
	}
	my $cs = $opt{'churn-seconds'};
	my @churn;
	for my $pair (1 .. $opt{'churn-pairs'})
	{
		my ($a, $b) = alternated($pair, clients => 1, jobs => 1,
			seconds => $cs, connect => 1);
		push @churn, $a->{tps} / $b->{tps};
	}
	say_md('', "Connection churn (pgbench -C: every transaction opens and closes a",
		"connection, so the hooks run for each), 1 client, $opt{'churn-pairs'} pairs of $cs s;",
		'the ratios of both workloads\' pairs:', '',
		'| workload | median ratio | 25th percentile | 75th percentile |', '|---|---|---|---|',
		sprintf('| select-only | %.3f | %.3f | %.3f |', quartiles(\@select)),
		sprintf('| churn | %.3f | %.3f | %.3f |', quartiles(\@churn)), '',
		'On a small virtual machine one run differs from the next by up to 10%,',
		'whatever is loaded, so alternated pairs cannot resolve a 2% difference.');

	# 2b. side by side: the same workload on both clusters at the same moment
	my $rs = $opt{'side-seconds'};
	my %side;
	for my $w (['select-only', 100, 4, 0], ['churn', 1, 1, 1])
	{
		my ($name, $clients, $jobs, $connect) = @$w;
		for (1 .. $opt{'side-runs'})
		{
			my ($a, $b) = run_pgbench_together([ $with, $without ], builtin => 'select-only',
				clients => $clients, jobs => $jobs, seconds => $rs, connect => $connect);
			push @{ $side{$name} }, $a->{tps} / $b->{tps};
		}
	}
	# the method's own noise: two clusters with pool_monitor, side by side
	my $with2 = bench_cluster('with2', pool_monitor => 1, scale => 10,
		conf => $PoolMonitorBench::API_SETTINGS);
	for (1 .. $opt{'side-runs'})
	{
		my ($a, $b) = run_pgbench_together([ $with, $with2 ], builtin => 'select-only',
			clients => 1, jobs => 1, seconds => $rs, connect => 1);
		push @{ $side{control} }, $a->{tps} / $b->{tps};
	}
	$with2->stop;
	say_md('', '### 2b. Side by side', '',
		'Both clusters driven by identical pgbench runs at the same moment, so',
		'that both meet whatever the machine does meanwhile; the ratio of each',
		"simultaneous pair, $opt{'side-runs'} runs of $rs s.  The control runs the churn",
		'workload on two clusters that both preload pool_monitor: what the method',
		'itself can tell apart.', '',
		'| workload | tps ratio, median | 25th percentile | 75th percentile |', '|---|---|---|---|',
		sprintf('| select-only, 100 clients each | %.3f | %.3f | %.3f |', quartiles($side{'select-only'})),
		sprintf('| churn, 1 client each | %.3f | %.3f | %.3f |', quartiles($side{churn})),
		sprintf('| control: churn, with / with | %.3f | %.3f | %.3f |', quartiles($side{control})));

	# 2c. what the hooks cost, counted
	my @iw = instructions_per_connection(pool_monitor => 1);
	my @io = instructions_per_connection(pool_monitor => 0);
	say_md('', '### 2c. Instructions per connection (callgrind)', '',
		'A server under valgrind --tool=callgrind; 15 sessions each connect, run',
		'SELECT 1 and leave; the instructions each backend executes from its start',
		'to its exit, median over the 15.  Deterministic, so it resolves what',
		'throughput cannot.', '',
		'| | instructions per connection (median) | min | max |', '|---|---|---|---|',
		sprintf('| with | %d | %d | %d |', @iw),
		sprintf('| without | %d | %d | %d |', @io), '',
		sprintf('pool_monitor adds %d instructions per connection: %.3f%%.',
			$iw[0] - $io[0], ($iw[0] - $io[0]) * 100 / $io[0]));

	# 2d. what counting busy sessions costs per transaction, counted
	my @tx;
	for my $builtin ('select-only', 'tpcb-like')
	{
		my $w = instructions_per_transaction(pool_monitor => 1, builtin => $builtin);
		my $o = instructions_per_transaction(pool_monitor => 0, builtin => $builtin);
		push @tx, sprintf('| %s | %.0f | %.0f | %+.0f | %+.3f%% |', $builtin, $w, $o,
			$w - $o, ($w - $o) * 100 / $o);
	}
	say_md('', '### 2d. Instructions per transaction (callgrind)', '',
		'A server under valgrind --tool=callgrind; one pgbench client runs 200',
		'transactions, then a new one 1200; the difference of the two backends\'',
		'instructions over 1000 transactions leaves connecting out.  With',
		'pool_monitor, each transaction opens and closes one busy period (the',
		'exact busy figures).  Goal: under 1%.', '',
		'| transaction | with | without | added | added, % |', '|---|---|---|---|---|',
		@tx);

	say_md('', sprintf('Side by side, the median ratio is %.3f select-only (goal >= 0.99) and %.3f churn (goal >= 0.98).',
		median(@{ $side{'select-only'} }), median(@{ $side{churn} })));
}

if ($run{3})
{
	# 3. the views under load, and SELECT 1 from the same readers as the floor
	my $tmp = PostgreSQL::Test::Utils::tempdir;
	my %queries = (summary => 'SELECT * FROM pool_monitor.summary',
		pools => 'SELECT * FROM pool_monitor.pools',
		connections => 'SELECT * FROM pool_monitor.connections',
		'SELECT 1 (the floor)' => 'SELECT 1');
	my @names = ('summary', 'pools', 'connections', 'SELECT 1 (the floor)');
	my @files;
	for my $i (0 .. $#names)
	{
		open my $fh, '>', "$tmp/q$i.sql" or die $!;
		print $fh "$queries{$names[$i]};\n";
		close $fh;
		push @files, "$tmp/q$i.sql";
	}
	my $load = IPC::Run::start(
		[ 'pgbench', '-n', '-c', 100, '-j', 4, '-T', $secs + 2, '-S',
		  '-h', $with->host, '-p', $with->port, 'postgres' ],
		'>', \my $lout, '2>', \my $lerr);
	my $views = run_pgbench($with, files => \@files, clients => 3, jobs => 3,
		seconds => $secs);
	$load->finish;
	say_md('', '## 3. The views under load (3 readers while 100 clients run select-only)', '',
		'The readers also run SELECT 1, which costs the server next to nothing: its',
		'latency is the floor that waiting for one of 2 cores among 100 busy',
		'backends sets, whatever the query.', '',
		'| query | p50 ms | p99 ms | queries |', '|---|---|---|---|');
	for my $i (0 .. $#names)
	{
		my $l = $views->{by_script}{$i} // [];
		say_md(sprintf('| %s | %s | %s | %d |', $names[$i], fmt('%.3f', percentile($l, 50)),
			fmt('%.3f', percentile($l, 99)), scalar @$l));
	}
	say_md('', 'Goal: p99 under 5 ms.');
}

$with->stop;
$without->stop;

if ($run{4})
{
	# 4. the sampler's scale, and shared memory
	say_md('', '## 4. The sampler\'s cost by number of sessions', '',
		'| client sessions | sample_duration_us median | max | per 100 sessions |',
		'|---|---|---|---|');
	my $scale = bench_cluster('scale', pool_monitor => 1, max_connections => 1100,
		conf => "pool_monitor.sample_interval = '1h'\n");
	for my $n (100, 500, 1000)
	{
		my $h = hold_idle_sessions($scale, $n, seconds => 600);
		$scale->poll_query_until('postgres', qq{
			SELECT pool_monitor.sample_now() IS NOT NULL AND
			       (SELECT idle >= $n FROM pool_monitor.summary)})
		  or die "never saw $n idle sessions";
		my ($median, $max) = sampler_cost($scale, 30);
		say_md(sprintf('| %d | %.1f | %.1f | %.1f |', $n, $median, $max, $median * 100 / $n));
		release_held($h);
		$scale->poll_query_until('postgres', q{
			SELECT count(*) < 5 FROM pg_stat_activity WHERE backend_type = 'client backend'});
	}
	my $shmem_1100 = $scale->safe_psql('postgres', q{
		SELECT sum(allocated_size) FROM pg_shmem_allocations WHERE name LIKE 'pool_monitor%'});
	$scale->stop;
	my $defaults = PostgreSQL::Test::Cluster->new('defaults');
	$defaults->init;
	$defaults->append_conf('postgresql.conf', "shared_preload_libraries = 'pool_monitor'\nmax_connections = 100\n");
	$defaults->start;
	my $shmem_default = $defaults->safe_psql('postgres', q{
		SELECT sum(allocated_size) FROM pg_shmem_allocations WHERE name LIKE 'pool_monitor%'});
	$defaults->stop;
	say_md('', 'Goal: under 50 us per 100 sessions.', '',
		sprintf('Shared memory: %.0f KiB at the defaults (max_connections 100, history_size 3600, max_pools 256; goal under 1 MiB), %.0f KiB at max_connections 1100.',
			$shmem_default / 1024, $shmem_1100 / 1024));
}

if ($run{5})
{
	# 5. the exhaustion-rescue story
	my $rescue = eval { rescue_story() };
	say_md('', '## 5. Exhaustion rescue', '',
		'max_connections 60; a leaking application holds 50 sessions idle; an API needing',
		'30 connections is refused; then idle_lifetime (2 s here) is switched on with',
		'min_idle_per_pool 5 and max_terminations_per_prune 10.', '');
	if ($rescue)
	{
		say_md(sprintf('- first attempt refused: %s (%s)', $rescue->{refused_first} ? 'yes' : 'no',
				$rescue->{refusal_message}),
			sprintf('- time from the refusal to full service: %.1f s (%d retries); the leak was at its floor after %.1f s',
				$rescue->{seconds_to_service}, $rescue->{tries}, $rescue->{seconds_to_floor}),
			sprintf('- leaked sessions left (the floor): %s; terminations: %s; rejections counted: %s; rejected alerts: %s',
				@$rescue{qw(leak_left terminated rejected rejected_alerts)}));
	}
	else
	{
		say_md("- could not run: $@");
	}
}

if ($run{6})
{
	# 6. connection start-up against the number of pools in the table
	my @one = instructions_per_connection(pool_monitor => 1, pools => 1);
	my @many = instructions_per_connection(pool_monitor => 1, pools => 200);
	my $one = bench_cluster('pools1', pool_monitor => 1, scale => 1,
		conf => $PoolMonitorBench::API_SETTINGS);
	my $many = bench_cluster('pools200', pool_monitor => 1, scale => 1,
		conf => $PoolMonitorBench::API_SETTINGS);
	fill_pool_table($one, 1);
	fill_pool_table($many, 200);
	my $rs = $opt{'side-seconds'};
	my @ratios;
	for (1 .. $opt{'side-runs'})
	{
		my ($a, $b) = run_pgbench_together([ $many, $one ], builtin => 'select-only',
			clients => 1, jobs => 1, seconds => $rs, connect => 1);
		push @ratios, $a->{tps} / $b->{tps};
	}
	$one->stop;
	$many->stop;
	say_md('', '## 6. Connection start-up by number of pools', '',
		'A session\'s start-up credits its open to its pool, found by key in the',
		'shared pool table.  Two clusters with pool_monitor, one whose table holds',
		'1 pool and one whose table holds 200; every measured session belongs to',
		'the pool made last.', '',
		'| pools in the table | instructions per connection (median) | min | max |',
		'|---|---|---|---|',
		sprintf('| 1 | %d | %d | %d |', @one),
		sprintf('| 200 | %d | %d | %d |', @many), '',
		sprintf('200 pools cost %+d instructions per connection against 1 (%+.3f%%).',
			$many[0] - $one[0], ($many[0] - $one[0]) * 100 / $one[0]), '',
		sprintf('Connection churn (pgbench -C, 1 client) on both clusters side by side, %d runs of %d s:',
			$opt{'side-runs'}, $rs), '',
		'| tps ratio 200 pools / 1 pool, median | 25th percentile | 75th percentile |',
		'|---|---|---|', sprintf('| %.3f | %.3f | %.3f |', quartiles(\@ratios)));
}

if ($opt{out})
{
	open my $fh, '>', $opt{out} or die "cannot write $opt{out}: $!";
	print $fh "$_\n" for @md;
	close $fh;
	print "\nwritten to $opt{out}\n";
}

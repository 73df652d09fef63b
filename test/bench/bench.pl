#!/usr/bin/perl
# bench.pl: pool_monitor's benchmark.  Starts its own clusters (one with
# pool_monitor preloaded with the seed's settings, one without), drives
# them with pgbench, prints a markdown report and writes it to
# docs/benchmarks.md.  Run it through test/bench/run.sh (as root) or
# `make bench`; it runs as the postgres user.
#
#   bench.pl [--seconds 30] [--pairs 2] [--out docs/benchmarks.md]
#            [--sections 1,2,3,4,5]
use strict;
use warnings;

use Getopt::Long;
use IPC::Run;
use POSIX qw(strftime);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PoolMonitorBench;

my %opt = (seconds => 30, pairs => 2, out => 'docs/benchmarks.md',
	sections => '1,2,3,4,5');
GetOptions(\%opt, 'seconds=i', 'pairs=i', 'out=s', 'sections=s')
  or die "bad options\n";
my %run = map { $_ => 1 } split /,/, $opt{sections};
my $secs = $opt{seconds};
my @md;

sub say_md { push @md, @_; print "$_\n" for @_; }
sub median { my @s = sort { $a <=> $b } @_; return $s[ int($#s / 2) ]; }
sub fmt { my ($f, $v) = @_; return defined $v ? sprintf($f, $v) : 'n/a'; }

my $cores = `nproc`; chomp $cores;
my ($mem_kb) = `grep MemTotal /proc/meminfo` =~ /(\d+)/;
my $pgver = `pg_config --version`; chomp $pgver;
say_md('# pool_monitor benchmarks', '',
	sprintf('Run on %s: %d cores, %.0f GiB memory, %s; %d s per run.',
		strftime('%Y-%m-%d', gmtime), $cores, $mem_kb / 1048576, $pgver, $secs),
	'Produced by `make bench` (test/bench/bench.pl); rerun it to compare on your machine.',
	'"with" preloads pool_monitor with the seed\'s settings (idle_lifetime 300 s,',
	'min_idle_per_pool 5, prune_interval 10 s, sample_interval 1 s); "without" does not.', '');

my $with = bench_cluster('with', pool_monitor => 1, scale => 10,
	conf => $PoolMonitorBench::SEED_SETTINGS);
my $without = bench_cluster('without', scale => 10);

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
	# 2. overhead, alternated A B B A
	say_md('', '## 2. Overhead: with / without, alternated (A B, then B A)', '',
		'Churn reconnects for every transaction (pgbench -C, 20 clients), so the',
		'connection hooks run on every transaction.', '',
		'| pair | workload | tps with | tps without | ratio |', '|---|---|---|---|---|');
	my %ratios;
	for my $pair (1 .. $opt{pairs})
	{
		for my $w (['select-only', 100, 0], ['churn', 20, 1])
		{
			my ($name, $clients, $connect) = @$w;
			my %args = (builtin => 'select-only', clients => $clients,
				seconds => $secs, connect => $connect);
			# odd pairs run with first, even pairs without first
			my ($a, $b);
			if ($pair % 2)
			{
				$a = run_pgbench($with, %args);
				$b = run_pgbench($without, %args);
			}
			else
			{
				$b = run_pgbench($without, %args);
				$a = run_pgbench($with, %args);
			}
			my $ratio = $a->{tps} / $b->{tps};
			push @{ $ratios{$name} }, $ratio;
			say_md(sprintf('| %d | %s | %.0f | %.0f | %.3f |', $pair, $name,
				$a->{tps}, $b->{tps}, $ratio));
		}
	}
	say_md('', sprintf('Median ratio: select-only %.3f (goal >= 0.99), churn %.3f (goal >= 0.98).',
		median(@{ $ratios{'select-only'} }), median(@{ $ratios{churn} })));
}

if ($run{3})
{
	# 3. the views under load
	my $tmp = PostgreSQL::Test::Utils::tempdir;
	my @files;
	for my $view (qw(summary pools connections))
	{
		open my $fh, '>', "$tmp/$view.sql" or die $!;
		print $fh "SELECT * FROM pool_monitor.$view;\n";
		close $fh;
		push @files, "$tmp/$view.sql";
	}
	my $load = IPC::Run::start(
		[ 'pgbench', '-n', '-c', 100, '-j', 4, '-T', $secs + 2, '-S',
		  '-h', $with->host, '-p', $with->port, 'postgres' ],
		'>', \my $lout, '2>', \my $lerr);
	my $views = run_pgbench($with, files => \@files, clients => 3, jobs => 3,
		seconds => $secs);
	$load->finish;
	say_md('', '## 3. The views under load (3 readers while 100 clients run select-only)', '',
		'| view | p50 ms | p99 ms | queries |', '|---|---|---|---|');
	my $i = 0;
	for my $view (qw(summary pools connections))
	{
		my $l = $views->{by_script}{$i++} // [];
		say_md(sprintf('| %s | %s | %s | %d |', $view, fmt('%.3f', percentile($l, 50)),
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

if ($opt{out})
{
	open my $fh, '>', $opt{out} or die "cannot write $opt{out}: $!";
	print $fh "$_\n" for @md;
	close $fh;
	print "\nwritten to $opt{out}\n";
}

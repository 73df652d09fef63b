# PoolMonitorBench.pm: the building blocks of pool_monitor's benchmark
# (test/bench/bench.pl) and of its short check mode (test/t/090_bench_check.pl):
# clusters with and without pool_monitor, pgbench runs with per-transaction
# latency percentiles, sessions held open cheaply, and the sampler's cost.
package PoolMonitorBench;

use strict;
use warnings;

use File::Temp qw(tempdir);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Time::HiRes qw(time);

use Exporter 'import';
our @EXPORT = qw(bench_cluster run_pgbench hold_idle_sessions release_held
  sampler_cost percentile rescue_story);

# The seed's server-side settings: prune what clients will not, keep a
# warm floor of five per pool, as Npgsql's Minimum Pool Size=5 does.
our $SEED_SETTINGS = <<'CONF';
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

# Run pgbench and return its figures: tps, latency percentiles in ms (from
# the per-transaction log), failed transactions, connection time in ms.
#   builtin => 'select-only' | 'tpcb-like'   or   files => [script, ...]
#   clients, seconds, connect (reconnect for every transaction, -C)
sub run_pgbench
{
	my ($node, %o) = @_;
	my $dir = tempdir(CLEANUP => 1);
	my @cmd = ('pgbench', '-n', '-c', $o{clients}, '-j', $o{jobs} // 4,
		'-T', $o{seconds}, '-l', "--log-prefix=$dir/tx");
	push @cmd, '-C' if $o{connect};
	push @cmd, '-b', $o{builtin} if $o{builtin};
	push @cmd, map { ('-f', $_) } @{ $o{files} // [] };
	push @cmd, '-h', $node->host, '-p', $node->port, $o{db} // 'postgres';

	my ($out, $err);
	IPC::Run::run(\@cmd, '>', \$out, '2>', \$err)
	  or die "pgbench failed: $err\n$out";

	my %r = (output => $out);
	($r{tps}) = $out =~ /^tps = ([\d.]+)/m;
	($r{failed}) = $out =~ /number of failed transactions: (\d+)/;
	$r{failed} //= 0;
	($r{conn_ms}) = $out =~ /(?:initial|average) connection time = ([\d.]+) ms/;
	($r{transactions}) = $out =~ /number of transactions actually processed: (\d+)/;

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

# 050_metrics.pl: pool_monitor.metrics() on a node with sessions held in
# several pools passes `promtool check metrics`, declares HELP and TYPE for
# every family, names counters *_total and nothing else, escapes label
# values, and reports the counts the views show, per pool too: the idle
# policy's terminations and the longest idle in transaction.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PoolMonitorTest;

# the idle policy ends idle sessions of over a second, only when
# prune_now() says so
my $node = pm_node('metrics', conf => q{
pool_monitor.idle_lifetime = 1
pool_monitor.min_idle_per_pool = 0
pool_monitor.prune_interval = '1d'
});
$node->safe_psql('postgres', 'CREATE ROLE app LOGIN');

# an application name with a double quote and a backslash in it
my $odd_app = q{api "v2" \ main};
(my $odd_sql = $odd_app) =~ s/'/''/g;
my @held;
push @held, hold_session($node, $odd_sql, 'idle') for 1 .. 3;
push @held, hold_session($node, 'worker', 'idle in transaction') for 1 .. 2;
push @held, hold_session($node, 'batch', 'active');

# a session of pool "pruned" that the idle policy ends (the others belong
# to the superuser, whom the policy leaves alone), so that the pool's
# termination counter is 1
my $pruned = end_by_idle_policy($node, 'pruned', user => 'app');

my $metrics = $node->safe_psql('postgres', 'SELECT pool_monitor.metrics()');
my $file = $node->basedir . '/metrics.txt';
PostgreSQL::Test::Utils::append_to_file($file, "$metrics\n");

# promtool reads the exposition on stdin; lint problems go to stdout and
# make it exit non-zero
my ($out, $err) = ('', '');
my $ok = IPC::Run::run([ 'promtool', 'check', 'metrics' ],
	'<', $file, '>', \$out, '2>', \$err);
ok($ok, 'promtool check metrics passes') or diag("promtool: $out $err");
is($out . $err, '', 'promtool reports no lint problem');

# families: HELP and TYPE for each, counters and only counters end in _total
my (%type, %help, %seen);
for my $line (split /\n/, $metrics)
{
	if ($line =~ /^# HELP (\S+) /) { $help{$1} = 1; next; }
	if ($line =~ /^# TYPE (\S+) (\S+)$/) { $type{$1} = $2; next; }
	$line =~ /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{|\s)/ or fail("unparsable line: $line");
	$seen{$1}++;
}
my @undeclared = grep { !$type{$_} || !$help{$_} } sort keys %seen;
is("@undeclared", '', 'every series belongs to a family with HELP and TYPE');
my @bad_counters = grep { $type{$_} eq 'counter' && !/_total$/ } keys %type;
my @bad_gauges = grep { $type{$_} ne 'counter' && /_total$/ } keys %type;
is("@bad_counters @bad_gauges", ' ', 'counters end in _total, nothing else does');
ok(scalar(keys %type) >= 20, scalar(keys %type) . ' families');

# figures against the views, in the same sample
my ($total, $idle, $usable) = split /\|/, $node->safe_psql('postgres',
	'SELECT total, idle, usable_connections FROM pool_monitor.summary');
like($metrics, qr/^pool_monitor_connections\{state="idle"\} 3$/m, 'server idle count');
like($metrics, qr/^pool_monitor_connections\{state="idle_in_transaction"\} 2$/m,
	'server idle in transaction count');
like($metrics, qr/^pool_monitor_usable_connections $usable$/m, 'usable connections');
my $sum = 0;
$sum += $1 while $metrics =~ /^pool_monitor_connections\{state="[a-z_]+"\} (\d+)$/mg;
is($sum, $total, 'the states add up to all client connections');
my $ratio = sprintf('%.4f', $total / $usable);
like($metrics, qr/^pool_monitor_utilization_ratio \Q$ratio\E$/m, 'utilization ratio');
like($metrics, qr/^pool_monitor_samples_total [1-9]\d*$/m, 'samples counter');
like($metrics, qr/^pool_monitor_sample_duration_seconds [0-9.e-]+$/m, 'sample cost');
like($metrics, qr/^pool_monitor_worker_up 1$/m, 'worker up');

# per-pool series, with the escaped application name
my $escaped = q{api \"v2\" \\\\ main};
like($metrics,
	qr/^pool_monitor_pool_connections\{database="postgres",role="[^"]+",application="\Q$escaped\E",client_addr="",state="idle"\} 3$/m,
	'per-pool series labelled and escaped');
like($metrics,
	qr/^pool_monitor_pool_connections\{[^}]*application="worker"[^}]*state="idle_in_transaction"\} 2$/m,
	'per-pool idle in transaction');
like($metrics,
	qr/^pool_monitor_pool_peak_busy_connections\{[^}]*application="batch"[^}]*\} 1$/m,
	'per-pool peak busy');
like($metrics, qr/^pool_monitor_pool_longest_idle_seconds\{[^}]*application="\Q$escaped\E"/m,
	'per-pool longest idle');
like($metrics,
	qr/^pool_monitor_pool_terminated_total\{database="postgres",role="app",application="pruned",client_addr=""\} 1$/m,
	'per-pool terminations: pool pruned lost its session to the idle policy');
like($metrics, qr/^pool_monitor_pool_terminated_total\{[^}]*application="worker"[^}]*\} 0$/m,
	'per-pool terminations: none in pool worker');
# the longest idle in transaction of pool worker, as connections shows it
# in the same sample (extract() is numeric from 14, double precision
# before: compare numbers)
my $worker_iit = $node->safe_psql('postgres', q{
	SELECT extract(epoch FROM max(idle_for))::numeric FROM pool_monitor.connections
	 WHERE application_name = 'worker'
	   AND state IN ('idle in transaction', 'idle in transaction (aborted)')});
my ($worker_iit_series) = $metrics =~
  /^pool_monitor_pool_longest_idle_in_transaction_seconds\{database="postgres",role="[^"]+",application="worker",client_addr=""\} ([0-9.e+-]+)$/m;
ok(defined $worker_iit_series && $worker_iit ne '' && $worker_iit_series == $worker_iit,
	"per-pool longest idle in transaction of pool worker: $worker_iit s")
  or diag('series: ', $worker_iit_series // 'none', ', connections: ', $worker_iit);
is( join(' ', sort map { /application="([^"]*)"/ }
	  $metrics =~ /^pool_monitor_pool_longest_idle_in_transaction_seconds\{[^}]*\}/mg),
	'worker',
	'only pool worker, the one holding sessions idle in transaction, has that series');
is( $node->safe_psql('postgres',
		q{SELECT pool_monitor.metrics_label(E'a\\\\b"c\nd')}),
	q{a\\\\b\\"c\\nd}, 'label escaping: backslash, double quote, newline');

# series that come with accounting and termination: present exactly when
# the views have their columns
my $cols = $node->safe_psql('postgres',
	"SELECT string_agg(attname, ',') FROM pg_attribute WHERE attrelid = 'pool_monitor.summary'::regclass");
for my $pair ([ connections_opened => 'pool_monitor_connections_opened_total' ],
	[ connections_rejected => 'pool_monitor_connections_rejected_total' ],
	[ peak_total => 'pool_monitor_peak_connections' ],
	[ alerts => 'pool_monitor_alerts_total' ],
	[ terminated => 'pool_monitor_terminated_total' ])
{
	my ($col, $family) = @$pair;
	like($cols, qr/\b$col\b/, "summary has $col");
	like($metrics, qr/^$family \d+$/m, "$family from summary.$col");
}

release_sessions($node, @held);
$pruned->{run}->kill_kill;
$node->stop;
done_testing();

# 012_statslog.pl: pool_monitor.log_interval writes one key=value LOG line
# per interval, in the documented format, with the latest sample's figures
# and the exact sessions opened since the previous line; 0 turns it off.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PoolMonitorTest;

my $node = pm_node('statslog',
	conf => "pool_monitor.sample_interval = '200ms'\n"
	  . "pool_monitor.log_interval = '1s'\n");

my $line = qr/LOG:  pool_monitor: total=(\d+) active=(\d+) idle=(\d+) idle_in_transaction=(\d+) waiting=(\d+) usable=(\d+) utilization=(\d+\.\d)% longest_idle=(\d+)s opened=(\d+) rejected=(\d+) terminated=(\d+)$/m;

# Return the pool-stats lines logged after $offset, each as [time, fields].
sub stats_lines
{
	my ($offset) = @_;
	my @lines;
	for my $l (split /\n/, slurp_file($node->logfile, $offset))
	{
		next unless $l =~ $line;
		my @fields = ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11);
		my ($s) = $l =~ /^\S+ \d\d:\d\d:(\d\d\.\d+)/;
		my ($m) = $l =~ /^\S+ \d\d:(\d\d):/;
		push @lines, [ $m * 60 + $s, \@fields ];
	}
	return @lines;
}

my $offset = -s $node->logfile;
my @held = map { hold_session($node, 'held_idle', 'idle') } 1 .. 3;
# five sessions opened and closed
$node->safe_psql('postgres', 'SELECT 1') for 1 .. 5;
my $after_opens = -s $node->logfile;

# wait for two lines written after the opens
$node->wait_for_log(qr/$line.*\n(?:.*\n)*?.*$line/, $after_opens);
my @lines = stats_lines($offset);
cmp_ok(scalar @lines, '>=', 2, 'lines are written periodically');

my $last = $lines[-1][1];
is($last->[5], 97, 'usable is max_connections less the reserved slots');
cmp_ok($last->[0], '>=', 3, 'total counts the held sessions');
is($last->[6], sprintf('%.1f', 100.0 * $last->[0] / 97), 'utilization is total over usable');
is("$last->[9]|$last->[10]", '0|0', 'nothing rejected or terminated');

my $opened = 0;
$opened += $_->[1][8] for @lines;
cmp_ok($opened, '>=', 3 + 5, 'opened sums the sessions opened over the lines');

my $too_close = grep { $lines[$_][0] - $lines[ $_ - 1 ][0] < 0.95 } 1 .. $#lines;
is($too_close, 0, 'lines are at least log_interval apart');

# 0 turns the lines off
$node->append_conf('postgresql.conf', "pool_monitor.log_interval = 0\n");
$node->reload;
$node->poll_query_until('postgres',
	"SELECT current_setting('pool_monitor.log_interval') = '0'")
  or die 'log_interval not reloaded';
# let the worker see the reload: a sample after it
sample_now($node);
my $off_offset = -s $node->logfile;
my $samples = $node->safe_psql('postgres', 'SELECT samples FROM pool_monitor.summary');
$node->poll_query_until('postgres',
	"SELECT samples >= $samples + 8 FROM pool_monitor.summary")
  or die 'the worker stopped sampling';
is(scalar(stats_lines($off_offset)), 0, 'no line while log_interval is 0');

release_sessions($node, @held);
$node->stop;
done_testing();

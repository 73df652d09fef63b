# 053_report.pl: pool_monitor.report() renders in headless Chromium: the
# page is self-contained (no script, nothing external), the DOM Chromium
# built holds the SVG charts with their series and the tables, and a
# screenshot is made (tmp_check/report.png) for a person to look at.
#
# matrix: once (what it tests does not depend on the server version)
use strict;
use warnings;
use File::Path qw(make_path);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PoolMonitorTest;

my $chromium = '/usr/bin/chromium';
ok(-x $chromium, 'chromium is installed') or BAIL_OUT('no chromium');

my $node = pm_node('report');

# a history that changes: idle sessions grow, some go idle in transaction
my @held;
for my $step (1 .. 6)
{
	push @held, hold_session($node, 'api <main>', 'idle') for 1 .. 2;
	push @held, hold_session($node, 'worker', 'idle in transaction') if $step % 2;
	sample_now($node);
}

my $html = $node->safe_psql('postgres', 'SELECT pool_monitor.report()');
my $dir = $node->basedir . '/report';
make_path("$dir/profile");
my $page = "$dir/report.html";
PostgreSQL::Test::Utils::append_to_file($page, $html);

like($html, qr/^<!DOCTYPE html>/, 'an HTML page');
unlike($html, qr/<script|<link|\bsrc=|url\(|\@import/i, 'no script and no external asset');
like($html, qr/api &lt;main&gt;/, 'application names are escaped');
is(scalar(() = $html =~ /<svg /g), 4,
	'four charts: states, utilization, exact busy, and opened/rejected/terminated');
like($html, qr/busy now \/ busy peak \(exact\)/, 'a card with the exact busy figures');

my @flags = ('--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
	'--no-first-run', '--disable-background-networking',
	'--disable-component-update', '--disable-sync',
	"--user-data-dir=$dir/profile");
local $ENV{HOME} = $dir;
# under make sanitize-check the servers run with libasan preloaded; the
# browser renders HTML and must not inherit that
delete local $ENV{LD_PRELOAD};
delete local $ENV{ASAN_OPTIONS};

my ($dom, $err) = ('', '');
IPC::Run::run([ $chromium, @flags, '--dump-dom', "file://$page" ],
	'>', \$dom, '2>', \$err, IPC::Run::timeout(120))
  or diag("chromium: $err");
like($dom, qr/<h1>pool_monitor report<\/h1>/, 'Chromium rendered the page');
my @charts = $dom =~ /<svg [^>]*class="chart"/g;
ok(@charts >= 2, scalar(@charts) . ' SVG charts in the rendered DOM');
for my $state (qw(active idle_in_transaction idle))
{
	like($dom, qr/<polygon class="series" data-series="$state" points="(?:[\d.]+,[\d.]+ ){12}/,
		"stacked area of $state over the 6 samples");
}
like($dom, qr/<polyline class="series" data-series="utilization" points="(?:[\d.]+,[\d.]+ ){6}/,
	'utilization line over the 6 samples');
for my $section ('Pools', 'Pool sizing advice', 'Alerts', 'Terminations')
{
	like($dom, qr/<h2>$section<\/h2>/, "section $section");
}
like($dom, qr/<td>api &lt;main&gt;<\/td>.*?<td>12<\/td>/s, 'pools table: api <main> holds 12');
like($dom, qr/<td>worker<\/td>.*?Set Maximum Pool Size to 5:/s, 'advice table rendered');

like($dom, qr/<line class="threshold"/,
	'the utilization chart draws the alert threshold (alert_utilization, 90%)');
like($dom, qr/data-series="connections_opened"/,
	'the chart of connections opened, rejected and terminated is drawn');

my $png = "$dir/report.png";
my ($sout, $serr) = ('', '');
IPC::Run::run([ $chromium, @flags, '--hide-scrollbars', '--window-size=1000,1500',
		"--screenshot=$png", "file://$page" ],
	'>', \$sout, '2>', \$serr, IPC::Run::timeout(120))
  or diag("chromium: $serr");
ok(-s $png > 10_000, 'a screenshot was made: ' . (-s $png // 0) . ' bytes');
open(my $fh, '<:raw', $png) or die "$png: $!";
read($fh, my $header, 24);
close($fh);
my ($w, $h) = unpack('NN', substr($header, 16, 8));
is("$w x $h", '1000 x 1500', 'screenshot is a 1000 x 1500 PNG');
# keep a copy where a person finds it after the run
system("cp", $png, "$PostgreSQL::Test::Utils::tmp_check/report.png");

release_sessions($node, @held);
$node->stop;
done_testing();

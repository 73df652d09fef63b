# 056_prometheus_fleet.pl: the fleet path, live.  Two pool_monitor servers,
# a primary and its hot standby, each scraped by its own
# prometheus-postgres-exporter with docs/prometheus/queries.yaml; one
# Prometheus scrapes both with the rules of docs/prometheus/rules.yaml and
# sends to one Alertmanager.  A leak of idle sessions driven in pool
# "orders" of the standby fires PoolMonitorPoolLeak in Prometheus for that
# server and pool and for nothing else (the primary has a pool "orders"
# too), and Alertmanager receives it.  Then every query of
# docs/grafana/pool_monitor_fleet.json runs on that Prometheus for each
# server and must return that server's series, and only them.
#
# Prometheus scrapes and evaluates every second, so the rules are loaded
# from a copy of rules.yaml whose every duration (range windows, offsets,
# for:) is divided by 60: minutes become seconds, the same rules on a
# clock 60 times as fast.  The test checks that the copy differs from
# rules.yaml in nothing else.  docs/prometheus/rules.test.yaml tests the
# shipped rules unchanged (055_prometheus_rules.pl).  Every process (the
# exporters, Prometheus, Alertmanager) is the test's own, on free loopback
# ports with data directories under the test's temporary directory.
#
# matrix: once (what it tests does not depend on the server version)
use strict;
use warnings;
use Cwd qw(getcwd);
use HTTP::Tiny;
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use PoolMonitorTest;

my %bin = (
	exporter => '/usr/bin/prometheus-postgres-exporter',
	prometheus => '/usr/bin/prometheus',
	alertmanager => '/usr/bin/prometheus-alertmanager');
for my $tool (sort keys %bin)
{
	ok(-x $bin{$tool}, "$tool is installed") or BAIL_OUT("no $bin{$tool}");
}
my $top = getcwd();
my $tmp = PostgreSQL::Test::Utils::tempdir();
my $http = HTTP::Tiny->new(timeout => 10);
my $timeout = $PostgreSQL::Test::Utils::timeout_default;
my (%proc, %log);

END
{
	$_->kill_kill for values %proc;
}

# Start a program in the background, its output in $tmp/$name.log.
sub start_process
{
	my ($name, @cmd) = @_;
	$log{$name} = "$tmp/$name.log";
	$proc{$name} = IPC::Run::start(\@cmd, '>', $log{$name}, '2>&1');
	return $proc{$name};
}

sub process_log
{
	my ($name) = @_;
	return -f $log{$name} ? PostgreSQL::Test::Utils::slurp_file($log{$name}) : '';
}

# GET a JSON answer of an HTTP API on loopback; undef if there is none yet.
sub get_json
{
	my ($port, $path, %form) = @_;
	my $url = "http://127.0.0.1:$port$path";
	$url .= '?' . $http->www_form_urlencode(\%form) if %form;
	my $res = $http->get($url);
	return undef unless $res->{success};
	return eval { decode_json($res->{content}) };
}

# Call $check until it returns true, for at most $seconds; its last value.
sub wait_for
{
	my ($seconds, $check) = @_;
	my $deadline = time + $seconds;
	my $value;
	while (time < $deadline)
	{
		$value = $check->();
		return $value if $value;
		usleep(200_000);
	}
	return $value;
}

# two servers that sample every second, with room for the test's sessions
my $conf = "pool_monitor.sample_interval = '1s'\nmax_connections = 40\n";
my $primary = pm_node('fleet_primary', init => { allows_streaming => 1 }, conf => $conf);
$primary->backup('fleet_backup');
my $standby = PostgreSQL::Test::Cluster->new('fleet_standby');
$standby->init_from_backup($primary, 'fleet_backup', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't',
	'the second server is a hot standby');

# an exporter per server
my %instance;
for my $node ($primary, $standby)
{
	my $port = PostgreSQL::Test::Cluster::get_free_port();
	local $ENV{DATA_SOURCE_NAME} = sprintf(
		'host=%s port=%d user=postgres dbname=postgres sslmode=disable',
		$node->host, $node->port);
	start_process('exporter_' . $node->name, $bin{exporter},
		"--web.listen-address=127.0.0.1:$port",
		"--extend.query-path=$top/docs/prometheus/queries.yaml",
		'--disable-default-metrics', '--disable-settings-metrics');
	$instance{ $node->name } = "127.0.0.1:$port";
}
my $primary_instance = $instance{ $primary->name };
my $standby_instance = $instance{ $standby->name };

# the rules, on a clock 60 times as fast
my $rules = PostgreSQL::Test::Utils::slurp_file("$top/docs/prometheus/rules.yaml");
my %seconds = (s => 1, m => 60, h => 3600, d => 86400);
sub compress
{
	my ($n, $unit) = @_;
	my $s = $n * $seconds{$unit} / 60;
	die "$n$unit is too short to compress" if $s < 1 || $s != int($s);
	return "${s}s";
}
(my $fast_rules = $rules) =~ s/\[(\d+)([smhd])\]/'[' . compress($1, $2) . ']'/ge;
$fast_rules =~ s/\boffset (\d+)([smhd])\b/'offset ' . compress($1, $2)/ge;
$fast_rules =~ s/^(\s+for: )(\d+)([smhd])$/$1 . compress($2, $3)/gme;
my $durations = qr/\[\d+[smhd]\]|\boffset \d+[smhd]\b|^\s+for: \d+[smhd]$/m;
(my $shape = $rules) =~ s/$durations/D/g;
(my $fast_shape = $fast_rules) =~ s/$durations/D/g;
ok($fast_rules ne $rules && $fast_shape eq $shape,
	'the loaded rules differ from rules.yaml only in their durations');
my $rules_file = "$tmp/rules.fast.yaml";
PostgreSQL::Test::Utils::append_to_file($rules_file, $fast_rules);
my $check_out = '';
ok(IPC::Run::run([ 'promtool', 'check', 'rules', $rules_file ], '>&', \$check_out),
	'promtool check rules passes on the compressed copy') or diag($check_out);

# Alertmanager, without clustering
my $am_port = PostgreSQL::Test::Cluster::get_free_port();
PostgreSQL::Test::Utils::append_to_file("$tmp/alertmanager.yml", <<'EOF');
route:
  receiver: fleet-test
  group_by: [alertname, instance]
  group_wait: 1s
  group_interval: 1s
receivers:
  - name: fleet-test
EOF
start_process('alertmanager', $bin{alertmanager},
	"--config.file=$tmp/alertmanager.yml", "--storage.path=$tmp/alertmanager",
	"--web.listen-address=127.0.0.1:$am_port", '--cluster.listen-address=');

# Prometheus, scraping both exporters every second
my $prom_port = PostgreSQL::Test::Cluster::get_free_port();
PostgreSQL::Test::Utils::append_to_file("$tmp/prometheus.yml", <<"EOF");
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $rules_file
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['127.0.0.1:$am_port']
scrape_configs:
  - job_name: postgres
    static_configs:
      - targets: ['$primary_instance', '$standby_instance']
EOF
start_process('prometheus', $bin{prometheus},
	"--config.file=$tmp/prometheus.yml", "--storage.tsdb.path=$tmp/prometheus",
	"--web.listen-address=127.0.0.1:$prom_port");

# An instant query; its result vector (undef until Prometheus answers).
sub prom_query
{
	my ($expr) = @_;
	my $answer = get_json($prom_port, '/api/v1/query', query => $expr);
	return undef unless $answer && $answer->{status} eq 'success';
	return $answer->{data}{result};
}

# The value of a query that must return one series, or undef.
sub prom_value
{
	my ($expr) = @_;
	my $result = prom_query($expr) // [];
	return @$result == 1 ? $result->[0]{value}[1] : undef;
}

my $up = wait_for($timeout, sub {
	my $result = prom_query('pool_monitor_worker_up == 1') // [];
	return @$result == 2 ? $result : undef;
});
ok($up, 'Prometheus scrapes pool_monitor on both servers through the exporters')
  or diag(join("\n", map { "$_:\n" . process_log($_) } sort keys %log));
is( join(' ', sort map { $_->{metric}{instance} } @{ $up // [] }),
	join(' ', sort values %instance), 'one series per server, named by instance');
my $groups = get_json($prom_port, '/api/v1/rules');
my $loaded = 0;
$loaded += @{ $_->{rules} } for @{ $groups->{data}{groups} // [] };
my $shipped = () = $rules =~ /^\s+- (?:alert|record): /mg;
is($loaded, $shipped, "Prometheus loaded all $shipped rules");
ok( wait_for($timeout, sub {
		my $am = get_json($prom_port, '/api/v1/alertmanagers');
		return @{ $am->{data}{activeAlertmanagers} // [] } == 1;
	}),
	'Prometheus sends to the Alertmanager');

# the same pools on both servers: orders (one busy, one idle), billing
my @held;
for my $node ($primary, $standby)
{
	push @held, hold_session($node, 'orders', 'active');
	push @held, hold_session($node, 'orders', 'idle');
	push @held, hold_session($node, 'billing', 'idle');
	sample_now($node);
}
my $orders_idle = sub {
	my ($instance) = @_;
	return prom_value(qq{pool:pool_monitor_idle_connections:sum{instance="$instance",application="orders"}});
};
ok( wait_for($timeout, sub {
		($orders_idle->($primary_instance) // -1) == 1
		  && ($orders_idle->($standby_instance) // -1) == 1;
	}),
	'the recording rules see pool orders, one idle, on both servers');

# The leak rule compares the last 15 s with 45 to 60 s ago: wait until
# the standby's pool has been recorded that long (bounded), then check that
# nothing fires before the leak.
my $baseline = qq{count_over_time(pool:pool_monitor_idle_connections:sum{instance="$standby_instance",application="orders"}[15s] offset 45s)};
ok(wait_for(120, sub { (prom_value($baseline) // 0) >= 10 }),
	'a minute of history for pool orders before the leak');
is_deeply(prom_query('ALERTS{alertstate="firing"}'), [], 'no alert fires before the leak');

# the leak: six sessions of orders on the standby taken and never given
# back, one at a time, each seen by Prometheus before the next
my $leak_start = time;
my @leaked;
for my $k (1 .. 6)
{
	push @leaked, hold_session($standby, 'orders', 'idle');
	sample_now($standby);
	wait_for($timeout, sub { ($orders_idle->($standby_instance) // 0) == 1 + $k })
	  or last;
}
is($orders_idle->($standby_instance), 7, 'Prometheus sees the leak: 7 idle sessions of orders on the standby');
my $leak_end = time;
note(sprintf('leak driven in %.1f s', $leak_end - $leak_start));

my $firing = wait_for(120, sub {
	my $alerts = get_json($prom_port, '/api/v1/alerts') // return undef;
	my @firing = grep { $_->{state} eq 'firing' } @{ $alerts->{data}{alerts} // [] };
	return @firing ? \@firing : undef;
});
my $fired_after = time - $leak_end;
ok($firing, sprintf('an alert fires %.1f s after the leak', $fired_after));
is(scalar(@{ $firing // [] }), 1, 'exactly one alert fires')
  or diag(explain($firing));
my $alert = $firing->[0] // {};
is($alert->{labels}{alertname}, 'PoolMonitorPoolLeak', 'it is PoolMonitorPoolLeak');
is($alert->{labels}{instance}, $standby_instance, 'for the standby');
is($alert->{labels}{application}, 'orders', 'for pool orders');
is($alert->{labels}{database}, 'postgres', "for the pool's database");
# (Prometheus drops a label whose value is empty, as client_addr is for
# Unix-domain sockets)
my $pool = $standby->safe_psql('postgres', q{
	SELECT role || '|' || coalesce(host(client_addr), '')
	  FROM pool_monitor.pools WHERE application_name = 'orders'});
is(join('|', map { $alert->{labels}{$_} // '' } qw(role client_addr)), $pool,
	"with the pool's role and client address");
like($alert->{annotations}{summary} // '',
	qr/^\Q$standby_instance\E: pool application="orders" is leaking idle sessions$/,
	'its summary names server and pool');
like($alert->{annotations}{description} // '', qr/ is 6 above what it was /,
	'its description says by how much the idle floor rose');
is_deeply(prom_query(qq{ALERTS{instance="$primary_instance"}}), [],
	'nothing fires or is pending for the primary, whose orders pool did not leak');

# Alertmanager receives it
my $received = wait_for(60, sub {
	my $alerts = get_json($am_port, '/api/v2/alerts') // return undef;
	return @$alerts ? $alerts : undef;
});
is(scalar(@{ $received // [] }), 1, 'Alertmanager received one alert')
  or diag(process_log('alertmanager'));
my $am_alert = ($received // [])->[0] // {};
is( join(' ', map { $am_alert->{labels}{$_} // '' } qw(alertname instance application)),
	"PoolMonitorPoolLeak $standby_instance orders",
	'Alertmanager has it for the standby and pool orders');
is($am_alert->{status}{state}, 'active', 'and holds it active');

# the fleet dashboard: every query on this Prometheus
my $dashboard = decode_json(PostgreSQL::Test::Utils::slurp_file(
	"$top/docs/grafana/pool_monitor_fleet.json"));
is($dashboard->{__inputs}[0]{pluginId}, 'prometheus', 'the fleet dashboard asks for a Prometheus data source');
my %ids;
$ids{ $_->{id} }++ for @{ $dashboard->{panels} };
is(scalar(grep { $_ > 1 } values %ids), 0, 'its panel ids are unique');
is(join(', ', map { $_->{title} } grep { $_->{type} ne 'row' && !@{ $_->{targets} // [] } }
	  @{ $dashboard->{panels} }), '', 'every panel but the rows has a query');
my %variable = map { $_->{name} => $_ } @{ $dashboard->{templating}{list} };
ok($variable{instance}, 'it has a server selector');
my ($match) = ($variable{instance}{query}{query} // '') =~ /^label_values\((.+), instance\)$/;
my $servers = get_json($prom_port, '/api/v1/label/instance/values', 'match[]' => $match);
is( join(' ', sort @{ $servers->{data} // [] }), join(' ', sort values %instance),
	'the server selector offers both servers');

# Grafana's variables and intervals, for one server
sub substitute
{
	my ($expr, $instance) = @_;
	$expr =~ s/\$__rate_interval/4s/g;
	$expr =~ s/\$__interval/1s/g;
	$expr =~ s/\$instance\b/$instance/g;
	$expr =~ s/\$application\b/.*/g;
	return $expr;
}
for my $instance ($primary_instance, $standby_instance)
{
	my ($app_match) = (substitute($variable{application}{query}{query}, $instance))
	  =~ /^label_values\((.+), application\)$/;
	my $apps = get_json($prom_port, '/api/v1/label/application/values', 'match[]' => $app_match);
	ok(grep({ $_ eq 'orders' } @{ $apps->{data} // [] }),
		"$instance: the application selector offers orders");
}

my $queries = 0;
for my $panel (@{ $dashboard->{panels} })
{
	for my $target (@{ $panel->{targets} // [] })
	{
		is($target->{datasource}{type}, 'prometheus', "$panel->{title}: Prometheus data source");
		my $per_server = $target->{expr} =~ /\$instance\b/;
		for my $instance ($per_server ? ($primary_instance, $standby_instance) : (''))
		{
			my $expr = substitute($target->{expr}, $instance);
			my $result = prom_query($expr);
			my @seen = sort map { $_->{metric}{instance} // '' } @{ $result // [] };
			my $what = "$panel->{title} ($target->{refId}"
			  . ($per_server ? " on $instance)" : ', fleet)');
			if ($per_server)
			{
				ok(@seen && !grep({ $_ ne $instance } @seen),
					"$what returns that server's series only")
				  or diag("$expr: @seen");
			}
			else
			{
				my %servers = map { $_ => 1 } @seen;
				is(join(' ', sort keys %servers), join(' ', sort values %instance),
					"$what returns every server") or diag($expr);
			}
			$queries++;
		}
	}
}
note("$queries dashboard queries run");

# the per-pool figures are the right server's: idle sessions of orders
my ($idle_panel) = grep { $_->{title} eq 'Idle sessions per pool' } @{ $dashboard->{panels} };
for my $node ($primary, $standby)
{
	sample_now($node);
	my $idle = $node->safe_psql('postgres',
		q{SELECT idle FROM pool_monitor.pools WHERE application_name = 'orders'});
	my $expr = substitute($idle_panel->{targets}[0]{expr}, $instance{ $node->name });
	my $value = wait_for($timeout, sub {
		my ($orders) = grep { $_->{metric}{application} eq 'orders' } @{ prom_query($expr) // [] };
		return $orders && $orders->{value}[1] == $idle ? $orders->{value}[1] : undef;
	});
	is($value, $idle, $node->name . ": Idle sessions per pool shows orders' $idle idle sessions");
}

release_sessions($standby, @leaked);
release_sessions($primary, @held[0 .. 2]);
release_sessions($standby, @held[3 .. 5]);
$_->kill_kill for values %proc;
%proc = ();
$standby->stop;
$primary->stop;
done_testing();

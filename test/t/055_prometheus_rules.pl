# 055_prometheus_rules.pl: docs/prometheus/rules.yaml, as shipped, passes
# `promtool check rules`, and `promtool test rules` passes its unit tests
# (docs/prometheus/rules.test.yaml), which fire every alert on one series
# and leave it silent on another.  Every metric the rules read is one that
# docs/prometheus/queries.yaml exports, under the name of a family of
# pool_monitor.metrics() on a live node; every alert names its server (and
# per-pool alerts their pool), has a row in docs/observability.md, and
# links a section of docs/runbook.md.
#
# matrix: once (what it tests does not depend on the server version)
use strict;
use warnings;
use Cwd qw(getcwd);
use CPAN::Meta::YAML;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PoolMonitorTest;

my $dir = getcwd() . '/docs/prometheus';
my $rules_file = "$dir/rules.yaml";
my $tests_file = "$dir/rules.test.yaml";

sub read_yaml
{
	my ($file) = @_;
	my $doc = CPAN::Meta::YAML->read_string(
		PostgreSQL::Test::Utils::slurp_file($file));
	die "$file: " . CPAN::Meta::YAML->errstr unless $doc;
	return $doc->[0];
}

my ($out, $err) = ('', '');
my $ok = IPC::Run::run([ 'promtool', 'check', 'rules', $rules_file ],
	'>', \$out, '2>', \$err);
ok($ok, 'promtool check rules passes') or diag("$out $err");

my $rules = read_yaml($rules_file);
my (@alerts, @records);
for my $group (@{ $rules->{groups} })
{
	for my $rule (@{ $group->{rules} })
	{
		push @alerts, $rule if $rule->{alert};
		push @records, $rule if $rule->{record};
	}
}
my $count = @alerts + @records;
like($out, qr/SUCCESS: $count rules found/,
	"promtool found all $count rules (" . scalar(@alerts) . ' alerts)');

($out, $err) = ('', '');
$ok = IPC::Run::run([ 'promtool', 'test', 'rules', $tests_file ],
	'>', \$out, '2>', \$err);
ok($ok, 'promtool test rules passes') or diag("$out $err");
like($out, qr/^\s*SUCCESS\s*$/m, 'promtool reports the unit tests a success');
unlike($out, qr/FAILED/, 'no unit test failed');

# what the unit tests cover: for each alert, an evaluation where it fires
# and one where it must be silent
my $tests = read_yaml($tests_file);
my (%fires, %silent, %fire_labels);
for my $test (@{ $tests->{tests} })
{
	for my $case (@{ $test->{alert_rule_test} // [] })
	{
		my $expected = $case->{exp_alerts};
		if (ref $expected eq 'ARRAY' && @$expected)
		{
			$fires{ $case->{alertname} }++;
			push @{ $fire_labels{ $case->{alertname} } },
			  map { $_->{exp_labels} } @$expected;
		}
		else
		{
			$silent{ $case->{alertname} }++;
		}
	}
}
my %known = map { $_->{alert} => 1 } @alerts;
for my $alert (@alerts)
{
	my $name = $alert->{alert};
	ok($fires{$name}, "$name: a unit test fires it");
	ok($silent{$name}, "$name: a unit test expects it silent");
}
is(join(' ', grep { !$known{$_} } sort keys %fires, keys %silent), '',
	'the unit tests name no alert that rules.yaml lacks');

# metric names: what queries.yaml exports (namespace_column for each
# GAUGE or COUNTER column), postgres_exporter's pg_up, and the recording
# rules; nothing else
my $queries = read_yaml("$dir/queries.yaml");
my %exported = (pg_up => 1);
for my $namespace (keys %$queries)
{
	for my $metric (@{ $queries->{$namespace}{metrics} })
	{
		my ($column, $spec) = %$metric;
		$exported{"${namespace}_$column"} = 1 if $spec->{usage} ne 'LABEL';
	}
}
# and each is a family of metrics() under the same name, so the rules read
# the same series whichever of the two a server is scraped through (a
# session idle in transaction, so that the families of such sessions have
# samples)
my $node = pm_node('rules');
my $held = hold_session($node, 'rules', 'idle in transaction');
sample_now($node);
my %family = map { $_ => 1 }
  $node->safe_psql('postgres', 'SELECT pool_monitor.metrics()') =~ /^# TYPE (\S+) /mg;
release_sessions($node, $held);
$node->stop;
is(join(' ', grep { !$family{$_} && $_ ne 'pg_up' } sort keys %exported), '',
	'every series queries.yaml exports has the name of a metrics() family');
my %recorded = map { $_->{record} => 1 } @records;
my (@unknown, %read);
for my $rule (@alerts, @records)
{
	# the expression without its strings (label values may look like
	# names) and label matchers, and the annotations, whose templates may
	# query series
	(my $text = $rule->{expr}) =~ s/"[^"]*"//g;
	1 while $text =~ s/\{[^{}]*\}//g;
	$text = join("\n", $text, values %{ $rule->{annotations} // {} });
	for my $name ($text =~ /\b((?:pool_monitor_|pg_up\b)[a-z_]*|[a-z]+:[a-z_]+:[a-z0-9_]+)/g)
	{
		$read{$name} = 1;
		push @unknown, "$name in " . ($rule->{alert} // $rule->{record})
		  unless $exported{$name} || $recorded{$name};
	}
}
is(join(', ', @unknown), '', 'the rules read only exported or recorded series');
my @read_exported = grep { $exported{$_} } sort keys %read;
ok(@read_exported >= 8, 'exported series the rules read: ' . join(' ', @read_exported));

# docs/observability.md explains every alert
my $guide = PostgreSQL::Test::Utils::slurp_file(getcwd() . '/docs/observability.md');
is(join(' ', grep { $guide !~ /^\| \Q$_\E \|/m } map { $_->{alert} } @alerts), '',
	'docs/observability.md has a row for every alert');
ok(scalar(grep { /^pool_monitor_pool_connections$/ } keys %exported),
	'queries.yaml exports pool_monitor_pool_connections');
is(scalar(grep { !/^[a-z]+:pool_monitor_[a-z_]+:[a-z0-9_]+$/ } keys %recorded), 0,
	'recording rules are named level:metric:operations');

# labels and annotations: a severity, the server in the summary, the pool
# in per-pool alerts, and a runbook section that exists
my $runbook = PostgreSQL::Test::Utils::slurp_file(getcwd() . '/docs/runbook.md');
my %anchors;
for my $heading ($runbook =~ /^#+ (.+)$/mg)
{
	(my $anchor = lc $heading) =~ s/[^a-z0-9 _-]//g;
	$anchor =~ s/ /-/g;
	$anchors{$anchor} = 1;
}
for my $alert (@alerts)
{
	my $name = $alert->{alert};
	my $annotations = $alert->{annotations} // {};
	like($alert->{labels}{severity} // '', qr/^(warning|critical)$/, "$name: severity");
	like($annotations->{summary} // '', qr/\{\{ \$labels\.instance \}\}/,
		"$name: the summary names the server");
	ok(length($annotations->{description} // '') > 80, "$name: a description");
	my ($anchor) = ($annotations->{runbook_url} // '') =~ m{^docs/runbook\.md#(.+)$};
	ok($anchor && $anchors{$anchor}, "$name: runbook_url links a section of docs/runbook.md")
	  or diag('runbook_url: ', $annotations->{runbook_url} // 'none');
	# an alert whose firing series carry a pool's labels must name the pool
	my @per_pool = grep { exists $_->{application} } @{ $fire_labels{$name} // [] };
	next unless @per_pool;
	for my $label (qw(database role application client_addr))
	{
		like($annotations->{description}, qr/\{\{ \$labels\.$label \}\}/,
			"$name: the description names the pool's $label");
	}
}

done_testing();

# 070_docs_settings.pl: docs/configuration.md documents every setting the
# library defines, with the default, unit and context pg_settings reports,
# and documents no setting that does not exist.  Fails when a setting is
# added (or its default changed) without updating the page.
#
# matrix: once (what it tests does not depend on the server version)
use strict;
use warnings;
use Cwd qw(getcwd);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PoolMonitorTest;

my $file = getcwd() . '/docs/configuration.md';
my $doc = slurp_file($file);

# the summary table: | `pool_monitor.x` | type | unit | default | range | context |
my %row;
while ($doc =~ /^\|\s*`(pool_monitor\.[a-z_]+)`\s*\|(.*)\|\s*$/mg)
{
	my ($name, $rest) = ($1, $2);
	my @cells = map { s/^\s+|\s+$//gr } split /\|/, $rest;
	$row{$name} = { type => $cells[0], unit => $cells[1],
		default => $cells[2], context => $cells[4] };
}

my $node = pm_node('docs_settings');
my @settings = split /\n/, $node->safe_psql('postgres', q{
	SELECT name, vartype, coalesce(unit, ''), boot_val, context
	  FROM pg_settings WHERE name LIKE 'pool_monitor.%' ORDER BY name});
cmp_ok(scalar @settings, '>=', 3, 'pg_settings lists the settings');

my %context_word = (sighup => 'reload', postmaster => 'restart');
my %type_word = (integer => 'integer', bool => 'boolean', string => 'string',
	real => 'real', enum => 'enum');
my %exists;
for my $line (@settings)
{
	my ($name, $vartype, $unit, $boot, $context) = split /\|/, $line, -1;
	$exists{$name} = 1;
	my $r = $row{$name};
	ok($r, "$name has a row in the summary table") or next;
	my $shown = $boot eq '' ? "`''`" : "`$boot`";
	like($r->{default}, qr/^\Q$shown\E(\s|$)/,
		"$name: documented default is pg_settings.boot_val $shown");
	like($r->{type}, qr/^\Q$type_word{$vartype}\E/, "$name: type $vartype");
	if ($unit ne '')
	{
		is($r->{unit}, $unit, "$name: unit $unit");
	}
	else
	{
		unlike($r->{unit}, qr/^(ms|s|min|h|d|kB|MB)$/,
			"$name: no time or size unit");
	}
	is($r->{context}, $context_word{$context} // $context,
		"$name: context $context");
	like($doc, qr/^### `\Q$name\E`$/m, "$name has its own section");
	like($doc, qr/^### `\Q$name\E`\n\n[^\n]*default \Q$shown\E/m,
		"$name: its section states the default");
}

for my $name (sort keys %row)
{
	ok($exists{$name}, "documented $name exists in pg_settings");
}

$node->stop;
done_testing();

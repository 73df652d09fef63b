# 071_packaging.pl: META.json is valid PGXN metadata for this release, it
# claims what the version matrix proves (the oldest version it requires is
# the Makefile's version guard's, the range it says is tested is the
# README's, and it is "stable" only while the README's table shows the
# whole TAP suite run on every version of that range), and "make dist"
# produces pool_monitor-<version>.zip holding the committed tree under
# pool_monitor-<version>/.
#
# The suite runs in a copy of the tree without .git, so the archive is made
# from a throw-away repository holding the copy's files that git would track.
#
# matrix: once (what it tests does not depend on the server version)
use strict;
use warnings;
use Cwd qw(getcwd);
use File::Copy qw(copy);
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;

my $top = getcwd();
my $meta = eval { decode_json(slurp_file("$top/META.json")) };
ok($meta, 'META.json parses as JSON') or diag($@);
$meta //= {};

for my $key (qw(name abstract version maintainer license provides prereqs
	generated_by meta-spec tags))
{
	ok(exists $meta->{$key}, "META.json has $key");
}
is($meta->{name}, 'pool_monitor', 'name');
is($meta->{'meta-spec'}{version}, '1.0.0', 'meta-spec 1.0.0');
is($meta->{license}, 'postgresql', 'license PostgreSQL');
like($meta->{version} // '', qr/^\d+\.\d+\.\d+$/,
	'version is a semantic version');
is(ref $meta->{maintainer}, 'ARRAY', 'maintainer is a list');
is(ref $meta->{tags}, 'ARRAY', 'tags are a list');

# the extension's version, as PGXN normalises it (1.0 becomes 1.0.0)
my ($default_version) =
  slurp_file("$top/pool_monitor.control") =~ /^default_version\s*=\s*'([^']+)'/m;
ok($default_version, "the control file's default_version: $default_version");
my @parts = split /\./, $default_version // '';
push @parts, 0 while @parts < 3;
my $semver = join '.', @parts;
my $provided = $meta->{provides}{pool_monitor} // {};
is($provided->{version}, $semver,
	'provides.pool_monitor.version is the control file\'s default_version');
is($meta->{version}, $semver, 'the release version matches too');
ok(-f "$top/$provided->{file}", "provides.pool_monitor.file $provided->{file} exists")
  if $provided->{file};

# what the matrix proves: the Makefile's guard, the README's range and table
my $makefile = slurp_file("$top/Makefile");
my ($guard_min) = $makefile =~ /test \$\(PM_PG_MAJOR\) -lt (\d+) && echo old/;
my ($guard_max) = $makefile =~ /test \$\(PM_PG_MAJOR\) -gt (\d+) && echo new/;
ok($guard_min && $guard_max,
	"the Makefile's version guard: $guard_min to $guard_max");
my $readme = slurp_file("$top/README.md");
my ($supported) = $readme =~ /^## Supported PostgreSQL versions\n(.*?)(?=^## )/ms;
my ($readme_min, $readme_max) = ($supported // '') =~ /^PostgreSQL (\d+) to (\d+):/m;
is("$readme_min to $readme_max", "$guard_min to $guard_max",
	'the README supports the range the Makefile guards');

is($meta->{prereqs}{runtime}{requires}{PostgreSQL}, "$guard_min.0.0",
	"META.json requires PostgreSQL $guard_min or later, the guard's oldest");
like($meta->{description} // '',
	qr/\bRequires PostgreSQL $guard_min or later; tested on PostgreSQL $guard_min to $guard_max\b/,
	"META.json's description says it is tested on $guard_min to $guard_max");

# every version of the range has a row whose tests include the TAP suite
my @untested;
for my $v ($guard_min .. $guard_max)
{
	push @untested, $v
	  unless ($supported // '') =~ /^\| $v \|[^\n]*\|[^|\n]*\bTAP suite\b[^|\n]*\|$/m;
}
is("@untested", '', "the README's table shows the TAP suite run on every version from $guard_min to $guard_max");
is($meta->{release_status}, @untested ? 'testing' : 'stable',
	'release_status is stable only while every supported version is tested');

# make dist, from a repository holding what git would track here
my $repo = PostgreSQL::Test::Utils::tempdir('dist');
my @files = split /\n/, run_command_ok(
	[ 'bash', '-c', "cd '$top' && find . -path ./tmp_check -prune -o -path ./.git -prune -o -type f -print" ]);
system('git', 'init', '-q', $repo) == 0 or BAIL_OUT('git init failed');
for my $f (@files)
{
	(my $rel = $f) =~ s{^\./}{};
	my ($dir) = $rel =~ m{^(.*)/[^/]+$};
	system('mkdir', '-p', "$repo/$dir") if $dir;
	copy("$top/$rel", "$repo/$rel") or BAIL_OUT("copy $rel: $!");
}
is(system("cd '$repo' && git add -A && git -c user.name=test -c user.email=test\@localhost commit -qm release"),
	0, 'the tree commits');

my $zip = "pool_monitor-$meta->{version}.zip";
is(system("cd '$repo' && make -s dist >/dev/null"), 0, 'make dist succeeds');
ok(-f "$repo/$zip", "make dist wrote $zip");
my $listing = run_command_ok([ 'unzip', '-Z1', "$repo/$zip" ]);
my $prefix = "pool_monitor-$meta->{version}/";
like($listing, qr/^\Q${prefix}\Epool_monitor\.control$/m,
	'the archive holds the control file');
like($listing, qr/^\Q${prefix}\EMETA\.json$/m, 'the archive holds META.json');
like($listing, qr/^\Q${prefix}\EMakefile$/m, 'the archive holds the Makefile');
unlike($listing, qr/\.(o|so)$/m, 'the archive holds no build products');
unlike($listing, qr/^(?!\Q$prefix\E)/m, 'everything is under the prefix');

done_testing();

# Run a command that must succeed; return its standard output.
sub run_command_ok
{
	my ($cmd) = @_;
	my ($out, $err);
	IPC::Run::run($cmd, '>', \$out, '2>', \$err)
	  or BAIL_OUT("@$cmd: $err");
	return $out;
}

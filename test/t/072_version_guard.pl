# 072_version_guard.pl: building against a PostgreSQL older than 13 stops
# with an error that names the supported range, both in the Makefile (from
# pg_config --version) and in src/compat.h (from pg_config.h, for builds
# that do not use the Makefile); a newer one builds with a warning.
#
# The older server is played by a pg_config that reports 12.22 and
# otherwise answers as the real one, and by a pg_config.h that defines
# PG_VERSION_NUM 120022 placed first on the include path.
#
# matrix: once (what it tests does not depend on the server version)
use strict;
use warnings;
use Cwd qw(getcwd);
use IPC::Run qw(run);
use PostgreSQL::Test::Utils;
use Test::More;

my $top = getcwd();
my $tmp = PostgreSQL::Test::Utils::tempdir();
my $range = qr/pool_monitor supports PostgreSQL 13 to 18/;

my $real = `pg_config --bindir`;
chomp $real;
$real .= '/pg_config';
ok(-x $real, "the server's pg_config: $real");

# a pg_config for another version, otherwise the real one
sub fake_pg_config
{
	my ($version) = @_;
	my $path = "$tmp/pg_config_$version";
	open my $fh, '>', $path or die "cannot write $path: $!";
	print $fh <<"SH";
#!/bin/sh
if [ "\$1" = --version ]; then echo "PostgreSQL $version"; exit 0; fi
exec "$real" "\$@"
SH
	close $fh;
	chmod 0755, $path;
	return $path;
}

my ($out, $err);
my $old = fake_pg_config('12.22');
my $ok = run [ 'make', '-s', '-n', '-C', $top, "PG_CONFIG=$old" ], '>', \$out, '2>', \$err;
ok(!$ok, 'make stops against PostgreSQL 12');
like($err, $range, 'make names the supported range');
like($err, qr/PostgreSQL 12\.22/, 'make names the version it found');

my $new = fake_pg_config('19devel');
$ok = run [ 'make', '-s', '-n', '-C', $top, "PG_CONFIG=$new" ], '>', \$out, '2>', \$err;
ok($ok, 'make goes on against PostgreSQL 19') or diag($err);
like($err, qr/tested on PostgreSQL 13 to 18; building for PostgreSQL 19devel, untested/,
	'with a warning that it is untested');

# src/compat.h on its own: the real headers compile, a 12 pg_config.h stops
my $server = `pg_config --includedir-server`;
chomp $server;
my $cc = `pg_config --cc`;
chomp $cc;
mkdir "$tmp/inc12" or die;
PostgreSQL::Test::Utils::append_to_file("$tmp/inc12/pg_config.h",
	"#define PG_VERSION_NUM 120022\n#define PG_MAJORVERSION \"12\"\n");
my $source = "#include \"compat.h\"\nint pm_guard_probe;\n";

$ok = run [ split(' ', $cc), '-fsyntax-only', "-I$top/src", "-I$server", '-x', 'c', '-' ],
  '<', \$source, '>', \$out, '2>', \$err;
ok($ok, "compat.h compiles against this server's headers") or diag($err);

$ok = run [ split(' ', $cc), '-fsyntax-only', "-I$top/src", "-I$tmp/inc12", "-I$server", '-x', 'c', '-' ],
  '<', \$source, '>', \$out, '2>', \$err;
ok(!$ok, 'compat.h stops against a PostgreSQL 12 pg_config.h');
like($err, qr/#error.*$range/, 'with an #error that names the supported range');

done_testing();

# 040_railway_image.pl: the Railway image of docs/railway/Dockerfile keeps
# the base image's command and adds the preload.
#
# No image is built here (no Docker engine), so what can be proven without
# one is:
#   - the Dockerfile's last stage sets neither ENTRYPOINT nor CMD, so the
#     base image's are kept, and it installs docs/railway/postgres-preload.sh
#     as /usr/local/bin/postgres;
#   - the Dockerfile records the base command of every supported version
#     (the range of the Makefile's version guard);
#   - run as "postgres" first on PATH, with a fake server after it, the
#     script passes each recorded base command's arguments on unchanged and
#     appends -c shared_preload_libraries=pg_stat_statements,pool_monitor;
#     it leaves the modes that start no server alone, finds the server past
#     its own directory however PATH names it, and says so when there is
#     none;
#   - with the real server binary after it, the server's effective
#     shared_preload_libraries is the preload even when postgresql.conf,
#     postgresql.auto.conf and an earlier -c say otherwise;
#   - docs/railway.md shows the same base commands, names in its Watch
#     Paths every file the image is built from, says that every push
#     rebuilds and restarts the database, pins a minor tag of the tag
#     scheme the template's workflow pushes, and says to drop the extension
#     before switching back to the stock image; and what it says of a
#     server without the library holds: pool_monitor.* settings left in
#     postgresql.auto.conf do not stop it, a preload it lacks does.
#
# matrix: once (what it tests does not depend on the server version)
use strict;
use warnings;
use Cwd qw(getcwd);
use File::Copy qw(copy);
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $top = getcwd();
my $dockerfile = slurp_file("$top/docs/railway/Dockerfile");
my $shim = "$top/docs/railway/postgres-preload.sh";
my $preload = 'shared_preload_libraries=pg_stat_statements,pool_monitor';

# ---- the Dockerfile ----

# instructions (comments and continuation lines joined), by stage
my @stages;
my $text = $dockerfile =~ s/\\\n/ /gr;
for my $line (split /\n/, $text)
{
	next if $line =~ /^\s*(#|$)/;
	push @stages, [] if $line =~ /^FROM\s/i;
	push @{ $stages[-1] }, $line if @stages;
}
cmp_ok(scalar @stages, '>=', 2, 'the Dockerfile has a build stage and a final stage');
my @final = @{ $stages[-1] // [] };
like($final[0] // '', qr/^FROM \$\{BASE_IMAGE\}\s*$/,
	'the final stage starts from the base image');
is(join("\n", grep { /^(CMD|ENTRYPOINT)\b/i } map { @$_ } @stages), '',
	'no stage sets CMD or ENTRYPOINT: the base image\'s are kept');
ok((grep { m{^COPY --from=build /out/ /$} } @final),
	'the final stage adds what the build stage staged in /out');
my $build = join "\n", map { @$_ } @stages[ 0 .. $#stages - 1 ];
like($build, qr{^COPY docs/railway/postgres-preload\.sh \./$}m,
	'the build stage takes postgres-preload.sh');
like($build, qr{install -D -m 0755 postgres-preload\.sh /out/usr/local/bin/postgres\b},
	'and stages it, executable, as /usr/local/bin/postgres');
ok(-x $shim, 'docs/railway/postgres-preload.sh is executable in the tree');

# the base commands the Dockerfile records: "#   CMD [...]   for 13, 17, 18"
my %base_cmd;
while ($dockerfile =~ /^#\s+CMD (\[[^\]]*\])\s+for (.+)$/mg)
{
	my ($json, $for) = ($1, $2);
	my $cmd = eval { decode_json($json) };
	ok($cmd, "the recorded command $json is a JSON array") or next;
	$base_cmd{$_} = $cmd for split /,\s*/, $for;
}

# the supported range, from the Makefile's version guard
my $makefile = slurp_file("$top/Makefile");
my ($min) = $makefile =~ /test \$\(PM_PG_MAJOR\) -lt (\d+) && echo old/;
my ($max) = $makefile =~ /test \$\(PM_PG_MAJOR\) -gt (\d+) && echo new/;
ok($min && $max, "the Makefile's supported range: " . ($min // '?') . ' to ' . ($max // '?'));
for my $v (($min // 1) .. ($max // 0))
{
	ok($base_cmd{$v}, "the Railway base command of PostgreSQL $v is recorded");
}
ok($base_cmd{'postgres:N'}, 'the official image\'s base command is recorded');
like(slurp_file($shim), qr/^preload=pg_stat_statements,pool_monitor$/m,
	'the script preloads pg_stat_statements, as the template does, and pool_monitor');

# ---- the script, with a fake server after it on PATH ----

my $tmp = PostgreSQL::Test::Utils::tempdir();
mkdir "$tmp/$_" for qw(local fake empty);
copy($shim, "$tmp/local/postgres") or die "copy: $!";
chmod 0755, "$tmp/local/postgres";
symlink("$tmp/local", "$tmp/local-link") or die "symlink: $!";
# the fake server writes its arguments, one a line, to stdout
open my $fh, '>', "$tmp/fake/postgres" or die $!;
print $fh "#!/bin/sh\nfor a in \"\$@\"; do printf '%s\\n' \"\$a\"; done\n";
close $fh;
chmod 0755, "$tmp/fake/postgres";

# Run "postgres ARGS" as the entrypoints do (exec "$@", found on PATH).
sub run_postgres
{
	my ($path, @args) = @_;
	my ($out, $err) = ('', '');
	local $ENV{PATH} = $path;
	IPC::Run::run([ 'sh', '-c', 'exec postgres "$@"', 'sh', @args ],
		'>', \$out, '2>', \$err);
	return ($? >> 8, $out, $err);
}

my $path = "$tmp/local:$tmp/fake:/usr/bin:/bin";
for my $for (sort keys %base_cmd)
{
	my @cmd = @{ $base_cmd{$for} };
	is(shift(@cmd), 'postgres', "the base command of $for runs postgres");
	my ($rc, $out, $err) = run_postgres($path, @cmd);
	is($rc, 0, "$for: the script runs the server") or diag($err);
	is($out, join('', map { "$_\n" } @cmd, '-c', $preload),
		"$for: the server gets the base command's arguments (@cmd), then the preload");
}

for my $mode ([ '--version' ], [ '-V' ], [ '--help' ], [ '--describe-config' ],
	[ '-C', 'password_encryption', '-p', '5432', '-c', 'listen_addresses=*' ],
	[ '--single', '-D', '/data', 'postgres' ], [ '--boot', '-D', '/data' ],
	[ '--check', '-D', '/data' ])
{
	my ($rc, $out) = run_postgres($path, @$mode);
	is($out, join('', map { "$_\n" } @$mode), "@$mode: passed on unchanged");
}

my ($rc, $out, $err) = run_postgres("$tmp/local-link:$tmp/local:$tmp/fake:/usr/bin:/bin",
	'-p', '5432');
is($out, "-p\n5432\n-c\n$preload\n",
	'the script skips its own directory however PATH names it');

($rc, $out, $err) = run_postgres("$tmp/local:$tmp/empty:/usr/bin:/bin", '-p', '5432');
is($rc, 127, 'with no server on PATH past the script: exit 127');
like($err, qr/no PostgreSQL server binary on PATH/, 'and a message that says why');

# ---- the script, with the real server after it ----

my $bindir = `pg_config --bindir`;
chomp $bindir;
my $real_version = `$bindir/postgres --version`;
($rc, $out) = run_postgres("$tmp/local:$bindir:/usr/bin:/bin", '--version');
is($out, $real_version, "--version reaches the real server: $real_version" =~ s/\n//r);

# postgresql.conf and postgresql.auto.conf say pg_stat_statements only, as
# Railway's wrapper and an ALTER SYSTEM would, and so does an earlier -c:
# the server still takes the script's preload
my $node = PostgreSQL::Test::Cluster->new('railway_preload');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'pg_stat_statements'\n");
$node->append_conf('postgresql.auto.conf', "shared_preload_libraries = 'pg_stat_statements'\n");
($rc, $out, $err) = run_postgres("$tmp/local:$bindir:/usr/bin:/bin",
	'-D', $node->data_dir, '-c', 'shared_preload_libraries=pg_stat_statements',
	'-C', 'shared_preload_libraries');
is($out, "pg_stat_statements,pool_monitor\n",
	'the real server\'s shared_preload_libraries is the preload') or diag($err);

# ---- docs/railway.md ----

my $doc = slurp_file("$top/docs/railway.md");
my %doc_cmd;
while ($doc =~ /^\s*\|\s*([\d, ]+?)\s*\|\s*`(\[[^`]*\])`\s*\|\s*$/mg)
{
	my ($for, $json) = ($1, $2);
	$doc_cmd{$_} = $json for split /,\s*/, $for;
}
for my $v (($min // 1) .. ($max // 0))
{
	is($doc_cmd{$v} // '', encode_json($base_cmd{$v} // []) =~ s/,/, /gr,
		"docs/railway.md shows the base command of $v as the Dockerfile records it");
}

# every file COPY takes from the build context is in the Watch Paths
my ($watch) = $doc =~ /\*\*Watch Paths\*\*(.*?)so that other pushes/s;
my @watch = grep { m{^/} } ($watch // '') =~ /`([^`]+)`/g;
ok(@watch, 'docs/railway.md lists Watch Paths: ' . join(' ', @watch));
for my $copy (grep { /^COPY (?!--from)/ } map { @$_ } @stages)
{
	my @words = split ' ', $copy;
	for my $src (@words[ 1 .. $#words - 1 ])
	{
		my $covered = grep {
			my $re = quotemeta($_) =~ s/\\\*\\\*/.*/gr =~ s/\\\*/[^\/]*/gr;
			"/$src" =~ /^$re$/ || "/$src/x" =~ /^$re$/
		} @watch;
		ok($covered, "the Watch Paths cover $src, which the image is built from");
	}
}

like($doc, qr/every push to that branch rebuilds\s+this image and redeploys the service, which \*\*stops and restarts the\s+database\*\*/,
	'docs/railway.md says every push rebuilds the image and restarts the database');
# the template's workflow tags ghcr.io/<repo>:<major> and :<major>.<minor>
like($doc, qr{^ARG BASE_IMAGE=ghcr\.io/railwayapp-templates/postgres-ssl:\d+\.\d+$}m,
	'docs/railway.md pins BASE_IMAGE to a minor tag');
my ($switch_back) = $doc =~ /^## Switching back to the stock image\n(.*?)(?=^## |\z)/ms;
like($switch_back // '', qr/^DROP EXTENSION pool_monitor;$/m,
	'docs/railway.md says to drop the extension before switching back');
like($switch_back // '', qr/^ALTER SYSTEM RESET shared_preload_libraries;$/m,
	'and to remove a preload set with ALTER SYSTEM');

# a server without the library: pool_monitor.* placeholders are harmless,
# a preload library it does not have stops it
my $stock = PostgreSQL::Test::Cluster->new('stock_server');
$stock->init;
$stock->append_conf('postgresql.auto.conf', "pool_monitor.idle_lifetime = '15min'\n");
$stock->start;
is($stock->safe_psql('postgres', 'SHOW pool_monitor.idle_lifetime'), '15min',
	'a pool_monitor.* setting left in postgresql.auto.conf stays a placeholder');
$stock->stop;
$stock->append_conf('postgresql.auto.conf',
	"shared_preload_libraries = 'pool_monitor_not_installed'\n");
ok(!$stock->start(fail_ok => 1), 'a preload library the server lacks stops it from starting');
like(slurp_file($stock->logfile), qr/could not access file "pool_monitor_not_installed"/,
	'and the log says which');

done_testing();

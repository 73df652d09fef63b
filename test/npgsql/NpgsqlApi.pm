# NpgsqlApi.pm: helpers for the TAP tests that run the orders API on
# Npgsql (test/t/060_npgsql*.pl): build it and the load driver from NuGet
# (build.sh), start the API against a test node over TCP with a chosen
# connection string, call its endpoints, and run the load driver.
#
# The tests skip, saying why, when the .NET SDK is not installed.
package NpgsqlApi;

use strict;
use warnings;

use Cwd qw(getcwd);
use HTTP::Tiny;
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);

use Exporter 'import';
our @EXPORT = qw(npgsql_build npgsql_conf api_start api_stop api_get api_post
  drive drive_start drive_finish user_connection_string);

# The connection string of the API the tests stand for, less host, port
# and database, which api_start adds.
sub user_connection_string
{
	return 'Pooling=true;Minimum Pool Size=5;Maximum Pool Size=100;'
	  . 'Connection Idle Lifetime=300;Connection Pruning Interval=10';
}

# postgresql.conf lines a node needs for the API: TCP on 127.0.0.1 (the
# API connects as a remote client would, with a client address).
sub npgsql_conf
{
	return "listen_addresses = '127.0.0.1'\n";
}

my $out;
my @started;

# An API left running by a test that died is stopped when the test exits.
END
{
	local $?;
	$_->kill_kill for grep { $_->pumpable } @started;
}

# Build the API and the driver (once per tree); skip the whole test file
# when dotnet is missing.  Returns the output directory.
sub npgsql_build
{
	return $out if $out;
	my $script = getcwd() . '/test/npgsql/build.sh';
	my ($stdout, $stderr);
	my $t0 = time;
	IPC::Run::run([ 'bash', $script ], '>', \$stdout, '2>', \$stderr);
	my $rc = $? >> 8;
	plan skip_all => "Npgsql tests need the .NET SDK: $stderr" if $rc == 2;
	die "building the orders API failed:\n$stderr$stdout" if $rc != 0;
	chomp($out = $stdout);
	note sprintf('the orders API and the load driver are built (%.1f s)', time - $t0);
	return $out;
}

# Start the orders API against $node as role $opts{role} (default
# orders_api), with connection string $opts{conn} (default the user's)
# and Application Name $opts{app}.  Waits until it answers.
sub api_start
{
	my ($node, %opts) = @_;
	my $dir = npgsql_build();
	my $port = PostgreSQL::Test::Cluster::get_free_port();
	my $conn = join(';',
		'Host=127.0.0.1', 'Port=' . $node->port, 'Database=postgres',
		'Username=' . ($opts{role} // 'orders_api'),
		$opts{conn} // user_connection_string(),
		'Application Name=' . ($opts{app} // 'orders-api'));
	my $log = "$PostgreSQL::Test::Utils::log_path/orders-api-$port.log";
	local $ENV{ConnectionStrings__Orders} = $conn;
	local $ENV{ASPNETCORE_URLS} = "http://127.0.0.1:$port";
	local $ENV{Logging__LogLevel__Default} = 'Warning';
	local $ENV{DOTNET_NOLOGO} = 1;
	local $ENV{DOTNET_CLI_TELEMETRY_OPTOUT} = 1;
	my $handle = IPC::Run::start([ 'dotnet', "$dir/OrdersApi/OrdersApi.dll" ],
		'<', \undef, '>', $log, '2>&1');
	push @started, $handle;
	my $api = { url => "http://127.0.0.1:$port", handle => $handle, log => $log,
		conn => $conn };
	my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
	while (time < $deadline)
	{
		my ($status) = api_get($api, '/pool');
		if ($status == 200)
		{
			note "orders API on port $port: $conn";
			return $api;
		}
		die "the orders API exited:\n" . slurp_file($log) unless $handle->pumpable;
		usleep(100_000);
	}
	die "the orders API did not answer:\n" . slurp_file($log);
}

# Stop the API (SIGTERM: the host disposes its data source, closing the
# pool's connections) and wait for it.
sub api_stop
{
	my ($api) = @_;
	$api->{handle}->signal('TERM');
	$api->{handle}->finish;
}

sub request
{
	my ($api, $method, $path) = @_;
	my $r = HTTP::Tiny->new(timeout => 30)->request($method, $api->{url} . $path);
	my $body = length($r->{content} // '') ? eval { decode_json($r->{content}) } : undef;
	return ($r->{status}, $body // $r->{content});
}

# GET or POST $path; returns the status and the decoded JSON answer.
sub api_get { return request($_[0], 'GET', $_[1]); }
sub api_post { return request($_[0], 'POST', $_[1]); }

sub driver_command
{
	my ($api, %opts) = @_;
	my $path = delete $opts{path} // '/orders/1';
	$opts{'warmup-url'} = $api->{url} . $opts{'warmup-url'} if $opts{'warmup-url'};
	return [ 'dotnet', npgsql_build() . '/LoadDriver/LoadDriver.dll',
		'--url', $api->{url} . $path, map { ("--$_", $opts{$_}) } sort keys %opts ];
}

sub parse_figures
{
	my ($stdout, $stderr) = @_;
	my %f;
	my ($line, $failure) = split / first_failure=/, $stdout, 2;
	$f{$1} = $2 while $line =~ /(\w+)=(\S+)/g;
	$f{first_failure} = $failure // '';
	$f{waves} = $stderr;
	return \%f;
}

# Run the load driver to its end (options as LoadDriver's, without the
# dashes, plus path); returns its figures as a hash: requests, ok, failed,
# timeouts, p50, p95, p99, max (ms), first_failure, waves (its stderr).
sub drive
{
	my ($api, %opts) = @_;
	my ($stdout, $stderr);
	IPC::Run::run(driver_command($api, %opts), '>', \$stdout, '2>', \$stderr)
	  or die "the load driver failed: $stderr";
	return parse_figures($stdout, $stderr);
}

# The same in the background; drive_finish waits and returns the figures.
sub drive_start
{
	my ($api, %opts) = @_;
	my $run = { stdout => '', stderr => '' };
	$run->{handle} = IPC::Run::start(driver_command($api, %opts),
		'>', \$run->{stdout}, '2>', \$run->{stderr});
	return $run;
}

sub drive_finish
{
	my ($run) = @_;
	$run->{handle}->finish or die "the load driver failed: $run->{stderr}";
	return parse_figures($run->{stdout}, $run->{stderr});
}

1;

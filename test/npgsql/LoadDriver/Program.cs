// Program.cs: the load driver of pool_monitor's Npgsql tests.  Fires
// concurrent HTTP GETs at one URL and reports latency and failures.
//
//   LoadDriver --url U --concurrency N --waves W [--warmup-waves K] [--pause-ms P]
//       W waves of N requests sent at once; a wave starts when the one
//       before has finished (plus P ms).  The first K waves warm the pool
//       and are left out of the figures; with --warmup-url they go to that
//       URL instead (e.g. one without a query, to warm the driver and its
//       HTTP connections but not the pool).
//   LoadDriver --url U --concurrency N --seconds S
//       N clients, each sending its next request as soon as the last one
//       answered, for S seconds.
//
// Prints one line per wave (or per second) on stderr, and on stdout one
// line of key=value figures: requests, ok, failed (answers other than
// 200), timeouts (no answer within --timeout-ms, default 10000),
// p50/p95/p99/max in ms, and the failed answers' first body.
using System.Diagnostics;
using System.Globalization;

var opt = new Dictionary<string, string>();
for (var i = 0; i + 1 < args.Length; i += 2)
    opt[args[i].TrimStart('-')] = args[i + 1];
string Opt(string name, string fallback) => opt.TryGetValue(name, out var v) ? v : fallback;

var url = Opt("url", "http://127.0.0.1:5000/orders/1");
var warmupUrl = Opt("warmup-url", url);
var concurrency = int.Parse(Opt("concurrency", "100"));
var waves = int.Parse(Opt("waves", "0"));
var warmup = int.Parse(Opt("warmup-waves", "0"));
var pauseMs = int.Parse(Opt("pause-ms", "0"));
var seconds = double.Parse(Opt("seconds", "0"), CultureInfo.InvariantCulture);
var timeout = TimeSpan.FromMilliseconds(int.Parse(Opt("timeout-ms", "10000")));

using var http = new HttpClient(new SocketsHttpHandler
{
    MaxConnectionsPerServer = int.MaxValue,
    PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
}) { Timeout = Timeout.InfiniteTimeSpan };

var latencies = new List<double>();
int requests = 0, ok = 0, failed = 0, timeouts = 0;
string? firstFailure = null;

// One request: its latency in ms, counted into the totals when recorded.
async Task<double> One(bool record)
{
    var target = record ? url : warmupUrl;
    var sw = Stopwatch.StartNew();
    using var cts = new CancellationTokenSource(timeout);
    string? failure = null;
    bool timedOut = false;
    try
    {
        using var response = await http.GetAsync(target, cts.Token);
        if (response.StatusCode != System.Net.HttpStatusCode.OK)
            failure = $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}";
    }
    catch (OperationCanceledException)
    {
        timedOut = true;
        failure = "timeout";
    }
    catch (HttpRequestException e)
    {
        failure = $"http {e.Message}";
    }
    var ms = sw.Elapsed.TotalMilliseconds;
    if (record)
        lock (latencies)
        {
            requests++;
            latencies.Add(ms);
            if (failure is null)
                ok++;
            else
            {
                failed++;
                if (timedOut)
                    timeouts++;
                firstFailure ??= failure;
            }
        }
    return ms;
}

static double Percentile(List<double> sorted, double p) =>
    sorted.Count == 0 ? 0 : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p / 100 * sorted.Count) - 1)];

string Figures(List<double> l)
{
    var s = l.OrderBy(x => x).ToList();
    return string.Create(CultureInfo.InvariantCulture,
        $"p50={Percentile(s, 50):F1} p95={Percentile(s, 95):F1} p99={Percentile(s, 99):F1} max={(s.Count > 0 ? s[^1] : 0):F1}");
}

var total = Stopwatch.StartNew();
if (waves > 0)
{
    for (var w = 0; w < waves; w++)
    {
        var record = w >= warmup;
        var wave = await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => One(record)));
        Console.Error.WriteLine($"wave {w + 1}{(record ? "" : " (warm-up)")}: {Figures(wave.ToList())}");
        if (pauseMs > 0)
            await Task.Delay(pauseMs);
    }
}
else
{
    var end = TimeSpan.FromSeconds(seconds);
    var clients = Enumerable.Range(0, concurrency).Select(async _ =>
    {
        while (total.Elapsed < end)
            await One(true);
    });
    await Task.WhenAll(clients);
}

Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"requests={requests} ok={ok} failed={failed} timeouts={timeouts} {Figures(latencies)} seconds={total.Elapsed.TotalSeconds:F1}")
    + (firstFailure is null ? "" : $" first_failure={firstFailure.ReplaceLineEndings(" ")}"));

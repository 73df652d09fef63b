// Program.cs: the orders API, an ASP.NET Core minimal API on Npgsql, as a
// .NET team would write it: one NpgsqlDataSource for the process, built
// from the connection string in configuration (ConnectionStrings:Orders,
// e.g. the environment variable ConnectionStrings__Orders), connections
// opened late and disposed early.
//
// Endpoints:
//   GET  /orders/{id}?ms=N  one query that holds its connection N ms
//                           (default 5); answers the backend's pid, or 503
//                           with the Npgsql error (type, SqlState, message)
//   POST /leak              opens a connection, runs one query and never
//                           disposes it: the bug pool_monitor must clean up
//   GET  /pool              Npgsql's own figures for its pool, read from
//                           its metrics (meter "Npgsql"), and the errors the
//                           endpoints met, by type and SqlState
//   POST /pool/reset        start the peak and the error counts again
//
// pool_monitor's tests (test/t/060_npgsql*.pl) drive it; docs/npgsql-pooling.md
// shows its essentials.
using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Npgsql;

var builder = WebApplication.CreateBuilder(args);

var connectionString = builder.Configuration.GetConnectionString("Orders")
    ?? throw new InvalidOperationException("Set ConnectionStrings:Orders (env ConnectionStrings__Orders).");
// One data source for the whole process: it is the pool.
builder.Services.AddNpgsqlDataSource(connectionString);
builder.Services.AddSingleton<PoolMetrics>();
builder.Services.AddSingleton<ErrorCounts>();

var app = builder.Build();
var metrics = app.Services.GetRequiredService<PoolMetrics>();
metrics.Start();

app.MapGet("/orders/{id:int}", async (int id, int? ms, NpgsqlDataSource db, ErrorCounts errors,
    CancellationToken ct) =>
{
    try
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var cmd = new NpgsqlCommand("SELECT $1, pg_backend_pid() FROM pg_sleep($2)", conn);
        cmd.Parameters.Add(new NpgsqlParameter { Value = id });
        cmd.Parameters.Add(new NpgsqlParameter { Value = (ms ?? 5) / 1000.0 });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return Results.Ok(new { id = reader.GetInt32(0), pid = reader.GetInt32(1) });
    }
    catch (NpgsqlException e)
    {
        return Results.Json(errors.Count(e), statusCode: StatusCodes.Status503ServiceUnavailable);
    }
});

// The bug: the connection is never disposed, so Npgsql never gets it back.
app.MapPost("/leak", async (NpgsqlDataSource db, CancellationToken ct) =>
{
    var conn = await db.OpenConnectionAsync(ct);
    await using var cmd = new NpgsqlCommand("SELECT pg_backend_pid()", conn);
    return Results.Ok(new { pid = (int)(await cmd.ExecuteScalarAsync(ct))! });
});

app.MapGet("/pool", (ErrorCounts errors) => metrics.Read() with { Errors = errors.Snapshot() });

app.MapPost("/pool/reset", (ErrorCounts errors) =>
{
    metrics.ResetPeak();
    errors.Reset();
    return Results.NoContent();
});

app.Run();

// What one failed request saw.
record ErrorSeen(string Type, string? SqlState, string Message, string? Inner);

// The Npgsql errors the endpoints caught, by "Type SqlState", and the
// first one of each with its message.
sealed class ErrorCounts
{
    readonly ConcurrentDictionary<string, int> _counts = new();
    readonly ConcurrentDictionary<string, ErrorSeen> _first = new();

    public ErrorSeen Count(NpgsqlException e)
    {
        var seen = new ErrorSeen(e.GetType().Name, (e as PostgresException)?.SqlState,
            e.Message, e.InnerException?.GetType().Name);
        var key = $"{seen.Type} {seen.SqlState ?? seen.Inner ?? "-"}";
        _counts.AddOrUpdate(key, 1, (_, n) => n + 1);
        _first.TryAdd(key, seen);
        Console.Error.WriteLine($"request failed: {key}: {e.Message}");
        return seen;
    }

    public IDictionary<string, int> Snapshot() => new SortedDictionary<string, int>(_counts);

    public void Reset()
    {
        _counts.Clear();
        _first.Clear();
    }
}

// Npgsql's figures for its pool, as its meter "Npgsql" publishes them.
record PoolFigures(int Idle, int Used, int Max, int Pending, long Created, long Timeouts,
    int PeakUsed, IDictionary<string, int>? Errors = null);

// Listens to Npgsql's metrics in-process, as an OpenTelemetry exporter
// would: db.client.connection.count (state idle / used), .max,
// npgsql.pending_requests, npgsql.timeouts, and npgsql.create_time
// (one record per physical connection opened).  A background loop reads
// the observable counts every millisecond to keep the peak of "used".
sealed class PoolMetrics : IDisposable
{
    readonly MeterListener _listener = new();
    readonly object _lock = new();
    int _idle, _used, _max, _pending, _peakUsed;
    long _created, _timeouts;
    readonly CancellationTokenSource _stop = new();

    public void Start()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "Npgsql" && instrument.Name is "db.client.connection.count"
                    or "db.client.connection.max" or "db.client.connection.npgsql.pending_requests"
                    or "db.client.connection.npgsql.timeouts" or "db.client.connection.npgsql.create_time")
                listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<int>(OnInt);
        _listener.SetMeasurementEventCallback<double>((instrument, _, _, _) =>
        {
            if (instrument.Name == "db.client.connection.npgsql.create_time")
                Interlocked.Increment(ref _created);
        });
        _listener.Start();
        var peakLoop = new Thread(() =>
        {
            while (!_stop.IsCancellationRequested)
            {
                Read();
                Thread.Sleep(1);
            }
        }) { IsBackground = true, Name = "npgsql-peak" };
        peakLoop.Start();
    }

    void OnInt(Instrument instrument, int value, ReadOnlySpan<KeyValuePair<string, object?>> tags, object? state)
    {
        switch (instrument.Name)
        {
            case "db.client.connection.count":
                foreach (var tag in tags)
                    if (tag.Key == "db.client.connection.state")
                    {
                        if ((string?)tag.Value == "idle")
                            _idle += value;
                        else
                            _used += value;
                    }
                break;
            case "db.client.connection.max":
                _max += value;
                break;
            case "db.client.connection.npgsql.pending_requests":
                Interlocked.Add(ref _pending, value);
                break;
            case "db.client.connection.npgsql.timeouts":
                Interlocked.Add(ref _timeouts, value);
                break;
        }
    }

    // Take a reading of the observable instruments now.
    public PoolFigures Read()
    {
        lock (_lock)
        {
            _idle = _used = _max = 0;
            _listener.RecordObservableInstruments();
            if (_used > _peakUsed)
                _peakUsed = _used;
            return new PoolFigures(_idle, _used, _max, Volatile.Read(ref _pending),
                Interlocked.Read(ref _created), Interlocked.Read(ref _timeouts), _peakUsed);
        }
    }

    public void ResetPeak()
    {
        lock (_lock)
            _peakUsed = 0;
        Read();
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Dispose();
    }
}

using System.Buffers;
using System.Globalization;
using System.Net;
using System.Text.Json;

namespace CityOS.Server.Bench;

/// <summary>
/// Runs the scenarios of <c>cityos bench</c> against a running server over the NGSI-LD HTTP API
/// and writes the results file.
/// </summary>
internal sealed partial class BenchRunner : IDisposable
{
    /// <summary>Exit code of a run that was interrupted (Ctrl+C); the partial results are still written.</summary>
    public const int InterruptedExitCode = 130;

    private const string UpsertPath = "entityOperations/upsert";
    private const string ResultsCountHeader = "NGSILD-Results-Count";
    private const int GeoReferencePoints = 1024;
    private const double GeoMaxDistanceMetres = 2000;
    private const int QueryLimit = 100;
    private const double LatencyTargetMs = 20;
    private const long Mebibyte = 1024 * 1024;
    private const string LedgerType = "BenchLedger";
    private const string UpdateAttributePrefix = "u";
    private static readonly TimeSpan ProbeTimeoutFloor = TimeSpan.FromSeconds(10);

    /// <summary>The q filters of the query scenario, cycled: about two thirds and about one twelfth of the dataset match.</summary>
    internal static readonly IReadOnlyList<string> QueryFilters = ["temperature>20", "temperature>35;relativeHumidity<0.5"];

    private static readonly HttpRequestOptionsKey<long> UpdateKey = new("cityos.bench.update");

    private readonly BenchOptions _options;
    private readonly TextWriter _output;
    private readonly HttpClient _client;
    private readonly LoadGenerator _load;

    // Makes the ids of entities created by this run unique, so a second run against the same data
    // directory creates rather than conflicts (409) or silently updates.
    private readonly string _runId = Guid.NewGuid().ToString("N")[..8];
    private WriteTargets _targets = WriteTargets.For(null);
    private DatasetState? _dataset;
    private bool _memoryWarningShown;

    public BenchRunner(BenchOptions options, TextWriter output)
    {
        _options = options;
        _output = output;
        _client = CreateClient(options);
        _load = new LoadGenerator(_client, options.RequestTimeout);
    }

    /// <summary>
    /// One client for the whole run: a connection per in-flight request, no proxy, no redirects, and a
    /// connect callback that only ever dials loopback addresses.
    /// </summary>
    internal static HttpClient CreateClient(BenchOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            MaxConnectionsPerServer = Math.Max(options.Concurrency, options.ModestConcurrency),
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            ConnectCallback = LoopbackTarget.ConnectAsync,
        };
        // Measured requests are bounded by the load generator itself; the unmeasured probes (version, counts,
        // samples) go through this timeout, which never drops below a floor so a tight --timeout for the load
        // cannot make the probes fail and the run stop as if the server were unreachable.
        var probeTimeout = options.RequestTimeout > ProbeTimeoutFloor ? options.RequestTimeout : ProbeTimeoutFloor;
        var client = new HttpClient(handler, disposeHandler: true) { Timeout = probeTimeout };
        client.DefaultRequestHeaders.Accept.ParseAdd("application/json");
        if (!string.IsNullOrEmpty(options.Tenant))
        {
            client.DefaultRequestHeaders.TryAddWithoutValidation("NGSILD-Tenant", options.Tenant);
        }

        return client;
    }

    public void Dispose() => _client.Dispose();

    /// <summary>Runs every requested scenario, prints each result and a final table, and writes the results file.</summary>
    /// <returns>0 when the run completed (missed targets included), 1 when the server cannot be reached or the file not written, 130 when interrupted.</returns>
    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        var report = new BenchReport
        {
            ToolVersion = typeof(BenchRunner).Assembly.GetName().Version?.ToString(3) ?? "unknown",
            Date = DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
            Target = _options.BaseUrl,
            Target2 = _options.BaseUrl2,
            Machine = ProcStatus.Machine(),
            Settings = new BenchSettingsReport
            {
                Scenarios = _options.Scenarios,
                DurationSeconds = _options.DurationSeconds,
                WarmupSeconds = _options.WarmupSeconds,
                Concurrency = _options.Concurrency,
                Entities = _options.Entities,
                BatchSize = _options.BatchSize,
                Tenant = string.IsNullOrEmpty(_options.Tenant) ? null : _options.Tenant,
                ServerPid = _options.ServerPid,
            },
        };

        try
        {
            (report.ServerVersion, report.Store) = await ReadServerVersionAsync(cancellationToken).ConfigureAwait(false);
            _targets = WriteTargets.For(report.Store);
        }
        catch (Exception e) when (IsNoAnswer(e, cancellationToken))
        {
            await _output.WriteLineAsync($"cityos bench: cannot reach the server at {_options.BaseUrl}: {e.Message}\nStart it first, e.g. `cityos serve --data-dir /tmp/bench-data` (see docs/benchmarks.md).").ConfigureAwait(false);
            return 1;
        }

        await _output.WriteLineAsync(string.Create(
            CultureInfo.InvariantCulture,
            $"cityos bench → {_options.BaseUrl}{(_options.BaseUrl2 is { } second ? " and " + second : string.Empty)} ({report.ServerVersion ?? "unknown server"}); {report.Machine.Cores} cores; scenarios {string.Join(",", _options.Scenarios)}; {_options.DurationSeconds} s per phase; concurrency {_options.Concurrency}; tenant {_options.Tenant ?? "(default)"}")).ConfigureAwait(false);

        var interrupted = false;
        try
        {
            foreach (var scenario in _options.Scenarios)
            {
                var results = scenario switch
                {
                    ScenarioNames.Create => [await CreateAsync(cancellationToken).ConfigureAwait(false)],
                    ScenarioNames.Update => [await UpdateAsync(cancellationToken).ConfigureAwait(false)],
                    ScenarioNames.Batch => [await BatchAsync(cancellationToken).ConfigureAwait(false)],
                    ScenarioNames.Query => await QueryAsync(cancellationToken).ConfigureAwait(false),
                    ScenarioNames.Geo => await GeoAsync(cancellationToken).ConfigureAwait(false),
                    ScenarioNames.Rss1m => [await Rss1mAsync(cancellationToken).ConfigureAwait(false)],
                    ScenarioNames.TwoNode => [await TwoNodeAsync(cancellationToken).ConfigureAwait(false)],
                    ScenarioNames.Temporal => await TemporalAsync(cancellationToken).ConfigureAwait(false),
                    _ => throw new InvalidOperationException($"Unknown scenario {scenario}."),
                };
                var memory = await ReadServerMemoryAsync(cancellationToken).ConfigureAwait(false);
                foreach (var result in results)
                {
                    result.ServerMemory ??= memory;
                    report.Scenarios.Add(result);
                    await _output.WriteLineAsync(BenchConsole.FormatLine(result)).ConfigureAwait(false);
                    if (result.Note is { } note)
                    {
                        await _output.WriteLineAsync("           " + note).ConfigureAwait(false);
                    }

                    if (result.FirstError is { } error)
                    {
                        await _output.WriteLineAsync("           first error: " + error).ConfigureAwait(false);
                    }
                }
            }

            report.Completed = true;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            interrupted = true;
            await _output.WriteLineAsync("cityos bench: interrupted; writing the results measured so far.").ConfigureAwait(false);
        }

        await _output.WriteLineAsync().ConfigureAwait(false);
        await _output.WriteAsync(BenchConsole.FormatTable(report.Scenarios)).ConfigureAwait(false);
        try
        {
            // Not cancellable: an interrupted run still leaves what it measured.
            await BenchReportFile.WriteAsync(report, _options.OutPath, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            await _output.WriteLineAsync($"cityos bench: cannot write {_options.OutPath}: {e.Message}").ConfigureAwait(false);
            return 1;
        }

        await _output.WriteLineAsync($"results written to {Path.GetFullPath(_options.OutPath)}").ConfigureAwait(false);
        return interrupted ? InterruptedExitCode : 0;
    }

    private async Task<ScenarioResult> CreateAsync(CancellationToken cancellationToken)
    {
        var result = NewResult(ScenarioNames.Create, "POST /ngsi-ld/v1/entities, one small AirQualityObserved (4 Properties + location) per request", _targets.Create, Units.RequestsPerSecond, Comparisons.AtLeast);
        var template = IdSlotTemplate.Create(IdPrefix(EntityPayloads.AirQualityType, $"bench-{_runId}-c"), 1, asArray: false, EntityPayloads.WriteAirQuality);
        var buffers = WorkerBuffers(template, _options.Concurrency);
        var uri = Api("entities");
        long next = -1;
        HttpRequestMessage Build(int worker, long sequence)
        {
            var body = buffers[worker];
            template.Fill(body, Interlocked.Increment(ref next));
            return JsonRequest(HttpMethod.Post, uri, body);
        }

        var phase = await TimedAsync(_options.Concurrency, Build, cancellationToken).ConfigureAwait(false);
        Record(result, phase, entitiesPerRequest: 1);
        result.SetAchieved(phase.SuccessesPerSecond);
        return result;
    }

    private async Task<ScenarioResult> UpdateAsync(CancellationToken cancellationToken)
    {
        var result = NewResult(ScenarioNames.Update, $"PATCH /ngsi-ld/v1/entities/{{id}}/attrs/{EntityPayloads.UpdatedAttribute} (partial attribute update) over a pool of existing entities", _targets.Update, Units.RequestsPerSecond, Comparisons.AtLeast);
        var prefix = IdPrefix(EntityPayloads.AirQualityType, "bench-u");
        var poolSize = _options.UpdatePoolBatches * _options.BatchSize;
        var template = IdSlotTemplate.Create(prefix, _options.BatchSize, asArray: true, EntityPayloads.WriteAirQuality);
        var pool = await UpsertTemplateAsync(template, _options.UpdatePoolBatches, cancellationToken).ConfigureAwait(false);
        if (pool.Successes < _options.UpdatePoolBatches)
        {
            result.Errors = pool.Errors;
            result.FirstError = pool.FirstError;
            result.Note = $"could not create the {poolSize:N0} entities to update ({pool.Successes} of {_options.UpdatePoolBatches} batch upserts succeeded); nothing measured.";
            result.SetAchieved(null);
            return result;
        }

        var uris = new Uri[poolSize];
        for (var i = 0; i < poolSize; i++)
        {
            uris[i] = Api($"entities/{Uri.EscapeDataString(EntityPayloads.Id(prefix, i))}/attrs/{EntityPayloads.UpdatedAttribute}");
        }

        var writers = new BodyWriter[_options.Concurrency];
        for (var w = 0; w < writers.Length; w++)
        {
            writers[w] = new BodyWriter(256);
        }

        HttpRequestMessage Build(int worker, long sequence)
        {
            var body = writers[worker].Write(static (writer, value) => EntityPayloads.WritePartialUpdate(writer, value), 10 + (sequence % 1000 / 10.0));
            return JsonRequest(HttpMethod.Patch, uris[sequence % poolSize], body);
        }

        try
        {
            var phase = await TimedAsync(_options.Concurrency, Build, cancellationToken).ConfigureAwait(false);
            Record(result, phase, entitiesPerRequest: 1);
            result.SetAchieved(phase.SuccessesPerSecond);
        }
        finally
        {
            foreach (var writer in writers)
            {
                writer.Dispose();
            }
        }

        return result;
    }

    private async Task<ScenarioResult> BatchAsync(CancellationToken cancellationToken)
    {
        var concurrency = Math.Min(_options.Concurrency, _options.ModestConcurrency);
        var result = NewResult(ScenarioNames.Batch, $"POST /ngsi-ld/v1/{UpsertPath}, {_options.BatchSize:N0} new AirQualityObserved per request", _targets.BatchEntities, Units.EntitiesPerSecond, Comparisons.AtLeast);
        var template = IdSlotTemplate.Create(IdPrefix(EntityPayloads.AirQualityType, $"bench-{_runId}-b"), _options.BatchSize, asArray: true, EntityPayloads.WriteAirQuality);
        var buffers = WorkerBuffers(template, concurrency);
        var uri = Api(UpsertPath);
        long next = -1;
        HttpRequestMessage Build(int worker, long sequence)
        {
            var body = buffers[worker];
            template.Fill(body, Interlocked.Increment(ref next) * _options.BatchSize);
            return JsonRequest(HttpMethod.Post, uri, body);
        }

        var phase = await TimedAsync(concurrency, Build, cancellationToken).ConfigureAwait(false);
        Record(result, phase, _options.BatchSize);
        result.SetAchieved(result.EntitiesPerSecond);
        return result;
    }

    private async Task<List<ScenarioResult>> QueryAsync(CancellationToken cancellationToken)
    {
        var uris = QueryFilters
            .Select(q => Api(string.Create(CultureInfo.InvariantCulture, $"entities?type={EntityPayloads.WeatherType}&q={Uri.EscapeDataString(q)}&limit={QueryLimit}")))
            .ToArray();
        var description = $"GET /ngsi-ld/v1/entities?type={EntityPayloads.WeatherType}&q=…&limit={QueryLimit}, q cycling {string.Join(" / ", QueryFilters)}";
        return await LatencyScenarioAsync(ScenarioNames.Query, description, uris, cancellationToken).ConfigureAwait(false);
    }

    private async Task<List<ScenarioResult>> GeoAsync(CancellationToken cancellationToken)
    {
        var description = $"GET /ngsi-ld/v1/entities?type={EntityPayloads.WeatherType}&georel=near;maxDistance=={GeoMaxDistanceMetres}&geometry=Point&coordinates=[lon,lat]&limit={QueryLimit}, {GeoReferencePoints} random reference points";
        return await LatencyScenarioAsync(ScenarioNames.Geo, description, GeoQueryUris(_options.BaseUrl, GeoReferencePoints), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Near-queries around reference points spread over both cities' boxes, reproducible between runs.</summary>
    internal static Uri[] GeoQueryUris(string baseUrl, int count)
    {
        var georel = Uri.EscapeDataString(string.Create(CultureInfo.InvariantCulture, $"near;maxDistance=={GeoMaxDistanceMetres}"));
        var state = 0x5EEDUL;
        var uris = new Uri[count];
        for (var i = 0; i < count; i++)
        {
            var box = i % 2 == 0 ? GeoBox.BinhDuong : GeoBox.DaNang;
            var (lon, lat) = box.At(EntityPayloads.Uniform(ref state), EntityPayloads.Uniform(ref state));
            var coordinates = Uri.EscapeDataString(string.Create(CultureInfo.InvariantCulture, $"[{lon},{lat}]"));
            uris[i] = new Uri(string.Create(
                CultureInfo.InvariantCulture,
                $"{baseUrl}/ngsi-ld/v1/entities?type={EntityPayloads.WeatherType}&georel={georel}&geometry=Point&coordinates={coordinates}&limit={QueryLimit}"));
        }

        return uris;
    }

    /// <summary>Runs GETs cycling over <paramref name="uris"/> once sequentially and once at modest concurrency.</summary>
    private async Task<List<ScenarioResult>> LatencyScenarioAsync(string name, string description, Uri[] uris, CancellationToken cancellationToken)
    {
        var concurrency = Math.Min(_options.Concurrency, _options.ModestConcurrency);
        var sequential = NewResult(name, description + ", one request at a time", LatencyTargetMs, Units.Milliseconds, Comparisons.AtMost);
        var concurrent = NewResult($"{name}-c{concurrency}", description + $", {concurrency} in flight", LatencyTargetMs, Units.Milliseconds, Comparisons.AtMost);
        List<ScenarioResult> results = concurrency > 1 ? [sequential, concurrent] : [sequential];

        var dataset = await EnsureDatasetAsync(cancellationToken).ConfigureAwait(false);
        if (dataset.Count is 0 or null)
        {
            foreach (var r in results)
            {
                r.Note = dataset.Note + " The dataset is empty or could not be counted, so latencies would be meaningless; nothing measured.";
                r.FirstError = dataset.FirstError;
                r.SetAchieved(null);
            }

            return results;
        }

        var sample = await SampleAsync(uris[0], cancellationToken).ConfigureAwait(false);
        HttpRequestMessage Build(int worker, long sequence) => new(HttpMethod.Get, uris[sequence % uris.Length]);

        var phases = new[] { 1, concurrency };
        for (var i = 0; i < results.Count; i++)
        {
            var phase = await TimedAsync(phases[i], Build, cancellationToken).ConfigureAwait(false);
            Record(results[i], phase, entitiesPerRequest: null);
            results[i].SetAchieved(phase.Successes > 0 ? results[i].LatencyMs!.P95 : null);
            if (phase.Errors > 0)
            {
                // Latencies are of successful queries only; a query that fails cannot meet a latency target.
                results[i].Met = false;
                results[i].Note = Join(results[i].Note, $"not met: {phase.Errors:N0} queries failed.");
            }

            results[i].Note = Join(dataset.Note, sample, results[i].Note);
        }

        return results;
    }

    private async Task<ScenarioResult> Rss1mAsync(CancellationToken cancellationToken)
    {
        var result = NewResult(ScenarioNames.Rss1m, $"server resident memory after batch-upserting {_options.Rss1mEntities:N0} small NoiseLevelObserved", 1024, Units.Mebibytes, Comparisons.AtMost);
        if (_options.ServerPid is null)
        {
            result.Note = "needs --server-pid to read the server's memory; nothing loaded.";
            result.SetAchieved(null);
            return result;
        }

        var concurrency = Math.Min(_options.Concurrency, _options.ModestConcurrency);
        var batches = (_options.Rss1mEntities + _options.BatchSize - 1) / _options.BatchSize;
        var template = IdSlotTemplate.Create(IdPrefix(EntityPayloads.NoiseType, "bench-r"), _options.BatchSize, asArray: true, EntityPayloads.WriteNoiseLevel);
        await _output.WriteLineAsync($"rss1m: loading {batches * (long)_options.BatchSize:N0} entities…").ConfigureAwait(false);
        var load = await UpsertTemplateAsync(template, batches, cancellationToken).ConfigureAwait(false);
        Record(result, load, _options.BatchSize);
        result.Concurrency = concurrency;
        result.LatencyMs = null;
        var memory = await ReadServerMemoryAsync(cancellationToken).ConfigureAwait(false);
        result.ServerMemory = memory;
        result.SetAchieved(memory is null ? null : (double)memory.VmRssBytes / Mebibyte);
        result.Note = Join(result.Note, $"loaded {load.Successes * _options.BatchSize:N0} entities in {load.ElapsedSeconds:N1} s ({result.EntitiesPerSecond:N0} entities/s); VmHWM {(memory?.VmHwmBytes ?? 0) / Mebibyte:N0} MiB.");
        return result;
    }

    /// <summary>
    /// Concurrent updates split between two nodes, each appending an attribute no other update writes
    /// (<c>u&lt;k&gt;</c>), so that every acknowledged update must be visible afterwards: an update lost to a
    /// concurrent write on the other node shows as a missing attribute. Consecutive updates go to the same
    /// entity through different nodes, so they race each other.
    /// </summary>
    private async Task<ScenarioResult> TwoNodeAsync(CancellationToken cancellationToken)
    {
        var nodes = new[] { _options.BaseUrl, _options.BaseUrl2 ?? throw new InvalidOperationException("twonode needs --target2.") };
        var entities = _options.TwoNodeEntities;
        var result = NewResult(
            ScenarioNames.TwoNode,
            $"POST /ngsi-ld/v1/entities/{{id}}/attrs appending a unique attribute {UpdateAttributePrefix}<k> per request, alternating between {nodes[0]} and {nodes[1]} over {entities:N0} entities; then every entity read back through both nodes",
            0,
            Units.LostUpdates,
            Comparisons.AtMost);
        var prefix = IdPrefix(LedgerType, $"bench-{_runId}-n");
        var created = await CreateLedgersAsync(prefix, entities, cancellationToken).ConfigureAwait(false);
        if (created.Errors > 0 || created.Successes == 0)
        {
            result.Errors = created.Errors;
            result.FirstError = created.FirstError;
            result.Note = $"could not create the {entities:N0} entities to update through {nodes[0]}; nothing measured.";
            result.SetAchieved(null);
            return result;
        }

        var ids = new string[entities];
        var attrs = new Uri[2][];
        for (var n = 0; n < 2; n++)
        {
            attrs[n] = new Uri[entities];
        }

        for (var e = 0; e < entities; e++)
        {
            ids[e] = EntityPayloads.Id(prefix, e);
            for (var n = 0; n < 2; n++)
            {
                attrs[n][e] = new Uri($"{nodes[n]}/ngsi-ld/v1/entities/{Uri.EscapeDataString(ids[e])}/attrs");
            }
        }

        var writers = new BodyWriter[_options.Concurrency];
        var acknowledged = new List<long>[_options.Concurrency];
        for (var w = 0; w < writers.Length; w++)
        {
            writers[w] = new BodyWriter(128);
            acknowledged[w] = [];
        }

        // One counter across warm-up and measured phase: every update of the run names a distinct attribute.
        long next = -1;
        HttpRequestMessage Build(int worker, long sequence)
        {
            var k = Interlocked.Increment(ref next);
            var (node, entity) = TwoNodeTarget(k, entities);
            var body = writers[worker].Write(static (writer, key) => WriteAppend(writer, key), k);
            var request = JsonRequest(HttpMethod.Post, attrs[node][entity], body);
            request.Options.Set(UpdateKey, k);
            return request;
        }

        void Completed(int worker, HttpRequestMessage request, bool succeeded)
        {
            if (succeeded && request.Options.TryGetValue(UpdateKey, out var k))
            {
                acknowledged[worker].Add(k);
            }
        }

        LoadPhaseResult phase;
        long warmupErrors = 0;
        try
        {
            if (_options.WarmupSeconds > 0)
            {
                var warmup = await _load.RunAsync(_options.Concurrency, TimeSpan.FromSeconds(_options.WarmupSeconds), _options.MaxRequestsPerTimedPhase, Build, cancellationToken, Completed).ConfigureAwait(false);
                warmupErrors = warmup.Errors;
            }

            phase = await _load.RunAsync(_options.Concurrency, _options.MeasuredPhase, _options.MaxRequestsPerTimedPhase, Build, cancellationToken, Completed).ConfigureAwait(false);
        }
        finally
        {
            foreach (var writer in writers)
            {
                writer.Dispose();
            }
        }

        Record(result, phase, entitiesPerRequest: 1);
        result.Errors += warmupErrors;
        var sent = next + 1;
        var check = await CheckLedgersAsync(nodes, ids, acknowledged.SelectMany(a => a), cancellationToken).ConfigureAwait(false);
        if (check.ReadError is { } readError)
        {
            result.FirstError ??= readError;
            result.Note = Join(result.Note, $"reading the entities back failed, so lost updates could not be counted: {readError}");
            result.SetAchieved(null);
            return result;
        }

        result.LostUpdates = check.Lost;
        result.SetAchieved(check.Acknowledged == 0 ? null : check.Lost);
        var summary = string.Create(
            CultureInfo.InvariantCulture,
            $"lost updates: {check.Lost:N0}. {sent:N0} updates sent, {check.Acknowledged:N0} acknowledged, all read back through both nodes: {check.Acknowledged - check.Lost:N0} found, {check.Unacknowledged:N0} stored without an acknowledgement (failed or timed out after the write), {check.NodesDisagree:N0} entities read differently on the two nodes.");
        result.Note = Join(result.Note, summary);
        if (result.Errors > 0)
        {
            // A node that refuses concurrent updates loses nothing it acknowledged, but does not handle the load either.
            result.Met = false;
            result.Note = Join(result.Note, $"not met: {result.Errors:N0} updates failed.");
        }
        else if (check.Acknowledged == 0)
        {
            result.Note = Join(result.Note, "no update was acknowledged.");
        }

        return result;
    }

    /// <summary>Update <paramref name="k"/> goes to node k mod 2 and entity (k div 2) mod n: consecutive updates race on one entity through both nodes.</summary>
    internal static (int Node, int Entity) TwoNodeTarget(long k, int entities) => ((int)(k % 2), (int)(k / 2 % entities));

    /// <summary>The attribute name update <paramref name="k"/> appends.</summary>
    internal static string UpdateAttribute(long k) => UpdateAttributePrefix + k.ToString(CultureInfo.InvariantCulture);

    private static void WriteAppend(Utf8JsonWriter writer, long k)
    {
        writer.WriteStartObject();
        writer.WriteStartObject(UpdateAttribute(k));
        writer.WriteString("type", "Property");
        writer.WriteNumber("value", k);
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    /// <summary>Batch-upserts <paramref name="count"/> entities with no attributes through the first node.</summary>
    private async Task<LoadPhaseResult> CreateLedgersAsync(string prefix, int count, CancellationToken cancellationToken)
    {
        var batches = (count + _options.BatchSize - 1) / _options.BatchSize;
        var uri = Api(UpsertPath);
        HttpRequestMessage Build(int worker, long sequence)
        {
            var first = sequence * _options.BatchSize;
            var last = Math.Min(first + _options.BatchSize, count);
            var buffer = new ArrayBufferWriter<byte>(64 * (int)(last - first));
            using (var writer = EntityPayloads.CreateWriter(buffer))
            {
                writer.WriteStartArray();
                for (var e = first; e < last; e++)
                {
                    writer.WriteStartObject();
                    writer.WriteString("id", EntityPayloads.Id(prefix, e));
                    writer.WriteString("type", LedgerType);
                    writer.WriteEndObject();
                }

                writer.WriteEndArray();
            }

            return JsonRequest(HttpMethod.Post, uri, buffer.WrittenMemory);
        }

        return await _load.RunAsync(Math.Min(_options.Concurrency, _options.ModestConcurrency), _options.SeedTimeout, batches, Build, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads every entity through every node and compares the update attributes stored with those acknowledged.</summary>
    private async Task<LedgerCheck> CheckLedgersAsync(string[] nodes, string[] ids, IEnumerable<long> acknowledged, CancellationToken cancellationToken)
    {
        var expected = new HashSet<long>[ids.Length];
        for (var e = 0; e < ids.Length; e++)
        {
            expected[e] = [];
        }

        var acknowledgedCount = 0L;
        foreach (var k in acknowledged)
        {
            expected[TwoNodeTarget(k, ids.Length).Entity].Add(k);
            acknowledgedCount++;
        }

        long lost = 0, unacknowledged = 0, disagree = 0;
        string? readError = null;
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Min(_options.Concurrency, _options.ModestConcurrency), CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(Enumerable.Range(0, ids.Length), parallel, async (e, token) =>
        {
            var stored = new HashSet<long>[nodes.Length];
            for (var n = 0; n < nodes.Length; n++)
            {
                var (keys, error) = await ReadUpdateKeysAsync(new Uri($"{nodes[n]}/ngsi-ld/v1/entities/{Uri.EscapeDataString(ids[e])}"), token).ConfigureAwait(false);
                if (keys is null)
                {
                    Interlocked.CompareExchange(ref readError, error, null);
                    return;
                }

                stored[n] = keys;
            }

            var (missing, extra, differ) = CompareLedger(expected[e], stored[0], stored[1]);
            Interlocked.Add(ref lost, missing);
            Interlocked.Add(ref unacknowledged, extra);
            if (differ)
            {
                Interlocked.Increment(ref disagree);
            }
        }).ConfigureAwait(false);
        return new LedgerCheck(acknowledgedCount, lost, unacknowledged, disagree, readError);
    }

    /// <summary>
    /// Compares the updates acknowledged for one entity with what each node's read of it shows. An update is
    /// lost when either node does not show it: both read the one database, so a missing one is missing.
    /// </summary>
    internal static (long Lost, long Unacknowledged, bool NodesDiffer) CompareLedger(IReadOnlySet<long> acknowledged, IReadOnlySet<long> onFirst, IReadOnlySet<long> onSecond)
    {
        var lost = acknowledged.Count(k => !onFirst.Contains(k) || !onSecond.Contains(k));
        var unacknowledged = onFirst.Union(onSecond).Count(k => !acknowledged.Contains(k));
        return (lost, unacknowledged, !onFirst.SetEquals(onSecond));
    }

    /// <summary>GETs one entity and returns the keys k of its <c>u&lt;k&gt;</c> attributes, or why it could not.</summary>
    private async Task<(HashSet<long>? Keys, string? Error)> ReadUpdateKeysAsync(Uri uri, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await _client.GetAsync(uri, cancellationToken).ConfigureAwait(false);
            var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                return (null, $"GET {uri.PathAndQuery} → {(int)response.StatusCode}: {System.Text.Encoding.UTF8.GetString(body, 0, Math.Min(body.Length, 300))}");
            }

            return (ParseUpdateKeys(body), null);
        }
        catch (Exception e) when (IsNoAnswer(e, cancellationToken) || e is JsonException)
        {
            return (null, $"GET {uri.PathAndQuery}: {e.Message}");
        }
    }

    /// <summary>The keys k of the <c>u&lt;k&gt;</c> attributes of an entity body (normalized or simplified).</summary>
    internal static HashSet<long> ParseUpdateKeys(ReadOnlyMemory<byte> entity)
    {
        var keys = new HashSet<long>();
        using var document = JsonDocument.Parse(entity);
        foreach (var member in document.RootElement.EnumerateObject())
        {
            if (member.Name.StartsWith(UpdateAttributePrefix, StringComparison.Ordinal)
                && long.TryParse(member.Name.AsSpan(UpdateAttributePrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var k))
            {
                keys.Add(k);
            }
        }

        return keys;
    }

    /// <summary>Makes sure the query/geo dataset holds --entities WeatherObserved, seeding it with batch upserts unless already there.</summary>
    private async Task<DatasetState> EnsureDatasetAsync(CancellationToken cancellationToken)
    {
        if (_dataset is not null)
        {
            return _dataset;
        }

        var (count, countNote) = await CountWeatherAsync(cancellationToken).ConfigureAwait(false);
        if (count >= _options.Entities)
        {
            _dataset = new DatasetState(count, $"dataset already seeded ({count:N0} {EntityPayloads.WeatherType}); seeding skipped.", null);
            return _dataset;
        }

        var batches = (_options.Entities + _options.BatchSize - 1) / _options.BatchSize;
        var concurrency = Math.Min(_options.Concurrency, _options.ModestConcurrency);
        await _output.WriteLineAsync($"seeding {_options.Entities:N0} {EntityPayloads.WeatherType} ({batches:N0} batch upserts, {concurrency} in flight)…").ConfigureAwait(false);
        var writers = new BodyWriter[concurrency];
        for (var w = 0; w < writers.Length; w++)
        {
            writers[w] = new BodyWriter(_options.BatchSize * 512);
        }

        var uri = Api(UpsertPath);
        var prefix = IdPrefix(EntityPayloads.WeatherType, "bench-");
        HttpRequestMessage Build(int worker, long sequence)
        {
            var first = sequence * _options.BatchSize;
            var count = (int)Math.Min(_options.BatchSize, _options.Entities - first);
            var body = writers[worker].WriteRaw(buffer => EntityPayloads.WriteWeatherBatch(buffer, prefix, first, count));
            return JsonRequest(HttpMethod.Post, uri, body);
        }

        LoadPhaseResult seed;
        try
        {
            seed = await _load.RunAsync(concurrency, _options.SeedTimeout, batches, Build, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            foreach (var writer in writers)
            {
                writer.Dispose();
            }
        }

        (count, var recountNote) = await CountWeatherAsync(cancellationToken).ConfigureAwait(false);
        var note = string.Create(CultureInfo.InvariantCulture, $"seeded {seed.Successes * (long)_options.BatchSize:N0} {EntityPayloads.WeatherType} in {seed.ElapsedSeconds:N1} s ({seed.Errors} failed batches); the server now counts {count?.ToString("N0", CultureInfo.InvariantCulture) ?? "?"}.");
        _dataset = new DatasetState(count, Join(countNote, note, recountNote)!, seed.FirstError);
        await _output.WriteLineAsync(note).ConfigureAwait(false);
        return _dataset;
    }

    /// <summary><c>GET /entities?type=WeatherObserved&amp;limit=0&amp;count=true</c> → NGSILD-Results-Count; an unknown tenant counts 0.</summary>
    private async Task<(long? Count, string? Note)> CountWeatherAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await CountWeatherCoreAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsNoAnswer(e, cancellationToken))
        {
            return (null, $"counting the dataset got no answer: {e.Message}");
        }
    }

    private async Task<(long? Count, string? Note)> CountWeatherCoreAsync(CancellationToken cancellationToken)
    {
        using var response = await _client.GetAsync(Api($"entities?type={EntityPayloads.WeatherType}&limit=0&count=true"), cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            // NonexistentTenant: the tenant is created by the first upsert.
            return (0, null);
        }

        if (!response.IsSuccessStatusCode)
        {
            var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            return (null, $"counting the dataset failed: {(int)response.StatusCode} {body}");
        }

        return response.Headers.TryGetValues(ResultsCountHeader, out var values)
            && long.TryParse(values.FirstOrDefault(), NumberStyles.None, CultureInfo.InvariantCulture, out var count)
            ? (count, null)
            : (null, $"the count query answered without a {ResultsCountHeader} header.");
    }

    /// <summary>One unmeasured request with count=true, so the results show how much a query actually matched.</summary>
    private async Task<string> SampleAsync(Uri uri, CancellationToken cancellationToken)
    {
        try
        {
            return await SampleCoreAsync(uri, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsNoAnswer(e, cancellationToken))
        {
            return $"sample {uri.PathAndQuery} got no answer: {e.Message}";
        }
    }

    private async Task<string> SampleCoreAsync(Uri uri, CancellationToken cancellationToken)
    {
        using var response = await _client.GetAsync(new Uri(uri + "&count=true"), cancellationToken).ConfigureAwait(false);
        var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            return $"sample {uri.PathAndQuery} answered {(int)response.StatusCode}: {body[..Math.Min(body.Length, 300)]}";
        }

        var returned = "?";
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind == JsonValueKind.Array)
            {
                returned = document.RootElement.GetArrayLength().ToString(CultureInfo.InvariantCulture);
            }
        }
        catch (JsonException)
        {
            returned = "unparseable";
        }

        var matched = response.Headers.TryGetValues(ResultsCountHeader, out var values) ? values.FirstOrDefault() : "?";
        return $"sample {Uri.UnescapeDataString(uri.PathAndQuery)}: {matched} matched, {returned} returned.";
    }

    private async Task<LoadPhaseResult> UpsertTemplateAsync(IdSlotTemplate template, int batches, CancellationToken cancellationToken)
    {
        var concurrency = Math.Min(_options.Concurrency, _options.ModestConcurrency);
        var buffers = WorkerBuffers(template, concurrency);
        var uri = Api(UpsertPath);
        HttpRequestMessage Build(int worker, long sequence)
        {
            var body = buffers[worker];
            template.Fill(body, sequence * template.IdCount);
            return JsonRequest(HttpMethod.Post, uri, body);
        }

        return await _load.RunAsync(concurrency, _options.SeedTimeout, batches, Build, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>An unmeasured warm-up, then the measured phase of --duration seconds.</summary>
    private async Task<LoadPhaseResult> TimedAsync(int concurrency, Func<int, long, HttpRequestMessage> build, CancellationToken cancellationToken)
    {
        if (_options.WarmupSeconds > 0)
        {
            await _load.RunAsync(concurrency, TimeSpan.FromSeconds(_options.WarmupSeconds), _options.MaxRequestsPerTimedPhase, build, cancellationToken).ConfigureAwait(false);
        }

        return await _load.RunAsync(concurrency, _options.MeasuredPhase, _options.MaxRequestsPerTimedPhase, build, cancellationToken).ConfigureAwait(false);
    }

    private async Task<ServerMemory?> ReadServerMemoryAsync(CancellationToken cancellationToken)
    {
        if (_options.ServerPid is not { } pid)
        {
            return null;
        }

        var memory = await ProcStatus.ReadServerMemoryAsync(pid, cancellationToken).ConfigureAwait(false);
        if (memory is null && !_memoryWarningShown)
        {
            _memoryWarningShown = true;
            await _output.WriteLineAsync($"cityos bench: cannot read /proc/{pid}/status; server memory is not reported.").ConfigureAwait(false);
        }

        return memory;
    }

    private async Task<(string? Version, string? Store)> ReadServerVersionAsync(CancellationToken cancellationToken)
    {
        using var response = await _client.GetAsync(new Uri(_options.BaseUrl + "/version"), cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            return (null, null);
        }

        var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object
                && root.TryGetProperty("product", out var product) && root.TryGetProperty("version", out var version))
            {
                var store = root.TryGetProperty("store", out var storeName) && storeName.ValueKind == JsonValueKind.String ? storeName.GetString() : null;
                return ($"{product} {version}", store);
            }
        }
        catch (JsonException)
        {
            // Another broker's /version may not be JSON; its text still identifies it.
        }

        return (body.Length <= 200 ? body : body[..200], null);
    }

    private void Record(ScenarioResult result, LoadPhaseResult phase, int? entitiesPerRequest)
    {
        result.Concurrency = phase.Concurrency;
        result.DurationSeconds = Math.Round(phase.ElapsedSeconds, 3);
        result.Requests = phase.Successes;
        result.Errors = phase.Errors;
        result.RequestsPerSecond = Math.Round(phase.SuccessesPerSecond, 1);
        result.EntitiesPerSecond = entitiesPerRequest is { } n ? Math.Round(phase.SuccessesPerSecond * n, 1) : null;
        result.LatencyMs = phase.Latency.Count > 0 ? phase.Latency.Summarize() : null;
        result.FirstError = phase.FirstError;
        if (phase.GaveUp)
        {
            result.Note = $"stopped early: the first {LoadGenerator.GiveUpAfterErrors} requests all failed.";
        }
        else if (phase.Successes == 0 && phase.Errors == 0)
        {
            result.Note = $"no request completed within {_options.MeasuredPhase.TotalSeconds:0.###} s.";
        }
    }

    /// <summary>The server did not answer (refused, reset, timed out) and the run itself was not cancelled.</summary>
    private static bool IsNoAnswer(Exception e, CancellationToken cancellationToken) =>
        !cancellationToken.IsCancellationRequested && e is HttpRequestException or IOException or TaskCanceledException;

    private static ScenarioResult NewResult(string name, string description, double target, string unit, string comparison) => new()
    {
        Name = name,
        Description = description,
        Target = target,
        Unit = unit,
        Comparison = comparison,
    };

    private static byte[][] WorkerBuffers(IdSlotTemplate template, int workers)
    {
        var buffers = new byte[workers][];
        for (var w = 0; w < workers; w++)
        {
            buffers[w] = template.CreateBuffer();
        }

        return buffers;
    }

    private static HttpRequestMessage JsonRequest(HttpMethod method, Uri uri, ReadOnlyMemory<byte> body)
    {
        var content = new ReadOnlyMemoryContent(body);
        content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
        return new HttpRequestMessage(method, uri) { Content = content };
    }

    private static string IdPrefix(string type, string local) => $"urn:ngsi-ld:{type}:{local}";

    private static string? Join(params string?[] parts)
    {
        var present = parts.Where(p => !string.IsNullOrEmpty(p)).ToArray();
        return present.Length == 0 ? null : string.Join(" ", present);
    }

    private Uri Api(string relative) => new($"{_options.BaseUrl}/ngsi-ld/v1/{relative}");

    private sealed record DatasetState(long? Count, string Note, string? FirstError);

    private sealed record LedgerCheck(long Acknowledged, long Lost, long Unacknowledged, long NodesDisagree, string? ReadError);

    /// <summary>A worker's reusable body buffer and JSON writer; the written bytes stay valid until the next write.</summary>
    private sealed class BodyWriter : IDisposable
    {
        private readonly ArrayBufferWriter<byte> _buffer;
        private readonly Utf8JsonWriter _writer;

        public BodyWriter(int initialCapacity)
        {
            _buffer = new ArrayBufferWriter<byte>(initialCapacity);
            _writer = EntityPayloads.CreateWriter(_buffer);
        }

        public ReadOnlyMemory<byte> Write<TState>(Action<Utf8JsonWriter, TState> write, TState state)
        {
            _buffer.ResetWrittenCount();
            _writer.Reset(_buffer);
            write(_writer, state);
            _writer.Flush();
            return _buffer.WrittenMemory;
        }

        public ReadOnlyMemory<byte> WriteRaw(Action<IBufferWriter<byte>> write)
        {
            _buffer.ResetWrittenCount();
            write(_buffer);
            return _buffer.WrittenMemory;
        }

        public void Dispose() => _writer.Dispose();
    }
}

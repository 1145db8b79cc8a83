using System.Diagnostics.CodeAnalysis;

namespace CityOS.Server.Bench;

/// <summary>Settings of one <c>cityos bench</c> run.</summary>
internal sealed record BenchOptions
{
    /// <summary>Scenarios run when --scenarios is not given (rss1m loads a million entities, so it is opt-in).</summary>
    public static readonly IReadOnlyList<string> DefaultScenarios = [ScenarioNames.Create, ScenarioNames.Update, ScenarioNames.Batch, ScenarioNames.Query, ScenarioNames.Geo];

    /// <summary>Every scenario name, in the order they are documented.</summary>
    public static readonly IReadOnlyList<string> KnownScenarios = [.. DefaultScenarios, ScenarioNames.Rss1m, ScenarioNames.TwoNode, ScenarioNames.Temporal];

    /// <summary>The server's base address (loopback only, no trailing slash).</summary>
    public required Uri Target { get; init; }

    /// <summary>The target as text without a trailing slash, to which API paths are appended.</summary>
    public string BaseUrl => Target.GetLeftPart(UriPartial.Path).TrimEnd('/');

    /// <summary>A second node on the same database (loopback only), for the twonode scenario.</summary>
    public Uri? Target2 { get; init; }

    /// <summary><see cref="Target2"/> as text without a trailing slash; null without a second node.</summary>
    public string? BaseUrl2 => Target2?.GetLeftPart(UriPartial.Path).TrimEnd('/');

    public required string OutPath { get; init; }

    public IReadOnlyList<string> Scenarios { get; init; } = DefaultScenarios;

    public int DurationSeconds { get; init; } = 10;

    public int Concurrency { get; init; } = 32;

    /// <summary>Size of the query/geo dataset.</summary>
    public int Entities { get; init; } = 100_000;

    /// <summary>Sent as <c>NGSILD-Tenant</c>; null or empty means the default tenant.</summary>
    public string? Tenant { get; init; } = "bench";

    /// <summary>The server's process id, for reading its memory from /proc.</summary>
    public int? ServerPid { get; init; }

    // The knobs below are not on the command line: they fix the shape of the benchmark (so results stay
    // comparable between runs) and exist as settings only so tests can shrink them.

    /// <summary>Entities per batch upsert request.</summary>
    public int BatchSize { get; init; } = 1000;

    /// <summary>Unmeasured time run before each measured phase, so JIT and connection setup are not timed.</summary>
    public double WarmupSeconds { get; init; } = 1;

    /// <summary>In-flight requests of batch uploads, seeding, and the concurrent query/geo phases.</summary>
    public int ModestConcurrency { get; init; } = 4;

    /// <summary>Batches of entities created for the update scenario to patch.</summary>
    public int UpdatePoolBatches { get; init; } = 10;

    /// <summary>
    /// Entities the twonode scenario spreads its updates over: few enough that concurrent updates often hit
    /// the same entity through different nodes, which is what could lose one.
    /// </summary>
    public int TwoNodeEntities { get; init; } = 100;

    /// <summary>Entities loaded by rss1m.</summary>
    public int Rss1mEntities { get; init; } = 1_000_000;

    /// <summary>Attribute instances back-filled by the temporal scenario.</summary>
    public int TemporalInstances { get; init; } = 1_000_000;

    /// <summary>Instances per temporal provision request of the temporal scenario.</summary>
    public int TemporalBatchSize { get; init; } = 10_000;

    /// <summary>Length of each measured phase; null means <see cref="DurationSeconds"/> (tests use sub-second phases).</summary>
    public TimeSpan? PhaseDuration { get; init; }

    /// <summary>The length of each measured phase.</summary>
    public TimeSpan MeasuredPhase => PhaseDuration ?? TimeSpan.FromSeconds(DurationSeconds);

    /// <summary>Time bound of each seeding step.</summary>
    public TimeSpan SeedTimeout { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>Per-request bound: a request unanswered for this long counts as an error.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Count bound of timed phases: a rate no loopback server reaches, so time is what ends them.</summary>
    public long MaxRequestsPerTimedPhase => (long)DurationSeconds * 1_000_000;

    /// <summary>Parses a comma-separated scenario list; <c>rss</c> is accepted for <c>rss1m</c>, duplicates are dropped.</summary>
    public static bool TryParseScenarios(string? text, [NotNullWhen(true)] out IReadOnlyList<string>? scenarios, [NotNullWhen(false)] out string? error)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            scenarios = DefaultScenarios;
            error = null;
            return true;
        }

        var list = new List<string>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var name = part.ToLowerInvariant() switch
            {
                "rss" => ScenarioNames.Rss1m,
                var n when KnownScenarios.Contains(n) => n,
                _ => null,
            };
            if (name is null)
            {
                scenarios = null;
                error = $"unknown scenario '{part}'; known: {string.Join(", ", KnownScenarios)} (rss = rss1m).";
                return false;
            }

            if (!list.Contains(name))
            {
                list.Add(name);
            }
        }

        if (list.Count == 0)
        {
            scenarios = null;
            error = "--scenarios names no scenario.";
            return false;
        }

        scenarios = list;
        error = null;
        return true;
    }

    /// <summary>Checks the numeric settings; returns the first problem, or null.</summary>
    public string? Validate() => this switch
    {
        { DurationSeconds: < 1 or > 3600 } => "--duration must be between 1 and 3600 seconds.",
        { WarmupSeconds: < 0 or > 600 } => "--warmup must be between 0 and 600 seconds.",
        { Concurrency: < 1 or > 1024 } => "--concurrency must be between 1 and 1024.",
        { Entities: < 1 or > 10_000_000 } => "--entities must be between 1 and 10,000,000.",
        { ServerPid: <= 0 } => "--server-pid must be a positive process id.",
        { TemporalInstances: < 1 or > 100_000_000 } => "--temporal-instances must be between 1 and 100,000,000.",
        { Tenant: { } t } when t.Any(c => char.IsControl(c) || char.IsWhiteSpace(c)) => "--tenant must not contain spaces or control characters.",
        { Target2: null } when Scenarios.Contains(ScenarioNames.TwoNode) => "--scenarios twonode needs --target2, the second node on the same database.",
        { TwoNodeEntities: < 1 } => "the twonode scenario needs at least one entity.",
        _ => null,
    };
}

/// <summary>Scenario names.</summary>
internal static class ScenarioNames
{
    public const string Create = "create";
    public const string Update = "update";
    public const string Batch = "batch";
    public const string Query = "query";
    public const string Geo = "geo";
    public const string Rss1m = "rss1m";

    /// <summary>Concurrent updates split between --target and --target2, then every one checked through both.</summary>
    public const string TwoNode = "twonode";

    /// <summary>Back-fills one attribute's history, then times aggregation and lastN over it.</summary>
    public const string Temporal = "temporal";
}

using System.CommandLine;

namespace CityOS.Server.Bench;

/// <summary>
/// The <c>cityos bench</c> verb: an end-to-end load generator that measures an already running CityOS
/// server (on this machine) over real HTTP and writes the results to a JSON file.
/// </summary>
internal static class BenchCommand
{
    /// <summary>Exit code of invalid arguments.</summary>
    public const int UsageExitCode = 2;

    public static Command Create()
    {
        var target = new Option<string>("--target")
        {
            Description = "Base address of the running server; loopback only (127.0.0.0/8, ::1 or localhost).",
            DefaultValueFactory = _ => "http://127.0.0.1:1026",
        };
        var target2 = new Option<string?>("--target2")
        {
            Description = "Base address of a second node on the same database (loopback only), for the twonode scenario.",
        };
        var output = new Option<string>("--out")
        {
            Description = "JSON file to write the results to (machine, settings, and per scenario: target, achieved, unit, met).",
            DefaultValueFactory = _ => "bench-results.json",
        };
        var scenarios = new Option<string?>("--scenarios")
        {
            Description = "Comma-separated scenarios to run, in order: create, update, batch, query, geo, rss1m (alias rss; loads 1,000,000 entities), twonode (updates split between --target and --target2, then checked for lost updates), temporal (back-fills --temporal-instances readings of one attribute, then times hourly avg/min/max over 30 days and lastN=100). Default: create,update,batch,query,geo.",
        };
        var duration = new Option<int>("--duration")
        {
            Description = "Seconds of each measured phase (after the unmeasured warm-up, see --warmup).",
            DefaultValueFactory = _ => 10,
        };
        var warmup = new Option<int>("--warmup")
        {
            Description = "Seconds of unmeasured load before each timed phase. The server's JIT keeps recompiling hot code for several seconds after start (tiered, profile-guided), so a steady-state figure needs 5 or more.",
            DefaultValueFactory = _ => 1,
        };
        var concurrency = new Option<int>("--concurrency")
        {
            Description = "Requests in flight for create and update; batch, seeding and the concurrent query/geo phases use at most 4.",
            DefaultValueFactory = _ => 32,
        };
        var entities = new Option<int>("--entities")
        {
            Description = "Size of the WeatherObserved dataset the query and geo scenarios search (seeded by batch upsert unless already there).",
            DefaultValueFactory = _ => 100_000,
        };
        var tenant = new Option<string?>("--tenant")
        {
            Description = "NGSI-LD tenant (NGSILD-Tenant header) the benchmark writes to and reads from; empty for the default tenant.",
            DefaultValueFactory = _ => "bench",
        };
        var temporalInstances = new Option<int>("--temporal-instances")
        {
            Description = "Readings of one attribute the temporal scenario back-fills (one every 30 s) before it measures.",
            DefaultValueFactory = _ => 1_000_000,
        };
        var serverPid = new Option<int?>("--server-pid")
        {
            Description = "Process id of the server: its VmRSS/VmHWM are read from /proc after each scenario (needed by rss1m).",
        };

        var command = new Command("bench", "Measure a running CityOS server end to end over HTTP (NGSI-LD create, update, batch upsert, query, geo-query, memory) and write the results to a JSON file.")
        {
            target, target2, output, scenarios, duration, warmup, concurrency, entities, tenant, serverPid, temporalInstances,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (!LoopbackTarget.TryParse(parse.GetValue(target), out var targetUri, out var targetError))
            {
                await Console.Error.WriteLineAsync("cityos bench: " + targetError).ConfigureAwait(false);
                return UsageExitCode;
            }

            Uri? target2Uri = null;
            if (parse.GetValue(target2) is { Length: > 0 } second
                && !LoopbackTarget.TryParse(second, out target2Uri, out var target2Error, "--target2"))
            {
                await Console.Error.WriteLineAsync("cityos bench: " + target2Error).ConfigureAwait(false);
                return UsageExitCode;
            }

            if (!BenchOptions.TryParseScenarios(parse.GetValue(scenarios), out var scenarioList, out var scenarioError))
            {
                await Console.Error.WriteLineAsync("cityos bench: " + scenarioError).ConfigureAwait(false);
                return UsageExitCode;
            }

            var options = new BenchOptions
            {
                Target = targetUri,
                Target2 = target2Uri,
                OutPath = parse.GetValue(output) is { Length: > 0 } o ? o : "bench-results.json",
                Scenarios = scenarioList,
                DurationSeconds = parse.GetValue(duration),
                WarmupSeconds = parse.GetValue(warmup),
                Concurrency = parse.GetValue(concurrency),
                Entities = parse.GetValue(entities),
                Tenant = parse.GetValue(tenant),
                ServerPid = parse.GetValue(serverPid),
                TemporalInstances = parse.GetValue(temporalInstances),
            };
            if (options.Validate() is { } invalid)
            {
                await Console.Error.WriteLineAsync("cityos bench: " + invalid).ConfigureAwait(false);
                return UsageExitCode;
            }

            using var runner = new BenchRunner(options, Console.Out);
            return await runner.RunAsync(cancellationToken).ConfigureAwait(false);
        });
        return command;
    }
}

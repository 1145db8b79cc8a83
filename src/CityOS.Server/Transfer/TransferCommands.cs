using System.CommandLine;
using CityOS.Broker.Storage;
using CityOS.Server.Hosting;
using CityOS.Storage.Postgres;
using CityOS.Storage.Sqlite;

namespace CityOS.Server.Transfer;

/// <summary>The <c>cityos export</c> and <c>cityos import</c> verbs: entities to and from NDJSON, on the store directly.</summary>
internal static class TransferCommands
{
    /// <summary>Exit code of a faulty import file or a failed transfer.</summary>
    public const int FailureExitCode = 1;

    /// <summary>Exit code of invalid settings or a store that cannot be opened.</summary>
    public const int UsageExitCode = 2;

    public static Command Export()
    {
        var (store, dataDir, connection) = StoreOptions();
        var output = new Option<string>("--out")
        {
            Description = "File to write (replaced if it exists), or - for standard output.",
            Required = true,
        };
        var tenants = new Option<string[]>("--tenant")
        {
            Description = "Tenant to export (repeatable; \"\" is the default tenant). Default: every tenant.",
            AllowMultipleArgumentsPerToken = false,
        };
        var command = new Command(
            "export",
            "Write every tenant's entities to an NDJSON file (docs/export-format.md), streaming. Works on the store directly; "
            + "the server may keep running (entities written meanwhile may or may not be included).")
        {
            output, tenants, store, dataDir, connection,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var path = parse.GetValue(output)!;
            var selected = parse.GetValue(tenants) ?? [];
            return await WithStoreAsync("export", parse, store, dataDir, connection, async s =>
            {
                TransferSummary summary;
                if (path == "-")
                {
                    await using var stdout = new BufferedStream(Console.OpenStandardOutput(), 1 << 16);
                    summary = await EntityExporter.ExportAsync(s, stdout, selected, DateTimeOffset.UtcNow, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous);
                    summary = await EntityExporter.ExportAsync(s, file, selected, DateTimeOffset.UtcNow, cancellationToken).ConfigureAwait(false);
                }

                await Console.Error.WriteLineAsync($"cityos export: {summary.Entities} entities of {summary.Tenants} tenants from the {s.Name} store written to {(path == "-" ? "standard output" : path)}").ConfigureAwait(false);
                return 0;
            }, cancellationToken).ConfigureAwait(false);
        });
        return command;
    }

    public static Command Import()
    {
        var (store, dataDir, connection) = StoreOptions();
        var input = new Option<string>("--in")
        {
            Description = "NDJSON file written by cityos export, or - for standard input (spooled to a temporary file: the file is read twice).",
            Required = true,
        };
        var mode = new Option<string>("--mode")
        {
            Description = "create: an entity that already exists fails the import; upsert: it is replaced.",
            DefaultValueFactory = _ => "create",
        };
        mode.AcceptOnlyFromAmong("create", "upsert");
        var command = new Command(
            "import",
            "Read an NDJSON export (docs/export-format.md) into the store. The whole file is checked first: a faulty line "
            + "stops the import with its line number and nothing written; then each tenant is written in one transaction. "
            + "With the sqlite store, stop the server first (the import holds the database's only writer).")
        {
            input, mode, store, dataDir, connection,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var path = parse.GetValue(input)!;
            var importMode = parse.GetValue(mode) == "upsert" ? ImportMode.Upsert : ImportMode.Create;
            if (path != "-" && !File.Exists(path))
            {
                await Console.Error.WriteLineAsync($"cityos import: no such file: {path}").ConfigureAwait(false);
                return UsageExitCode;
            }

            return await WithStoreAsync("import", parse, store, dataDir, connection, async s =>
            {
                string? spool = null;
                try
                {
                    if (path == "-")
                    {
                        spool = Path.GetTempFileName();
                        await using (var copy = new FileStream(spool, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
                        {
                            await using var stdin = Console.OpenStandardInput();
                            await stdin.CopyToAsync(copy, cancellationToken).ConfigureAwait(false);
                        }
                    }

                    var summary = await EntityImporter.ImportAsync(s, spool ?? path, importMode, cancellationToken).ConfigureAwait(false);
                    await Console.Error.WriteLineAsync($"cityos import: {summary.Entities} entities ({summary.Created} created, {summary.Replaced} replaced) of {summary.Tenants} tenants into the {s.Name} store").ConfigureAwait(false);
                    return 0;
                }
                catch (ImportFileException e)
                {
                    await Console.Error.WriteLineAsync($"cityos import: {(path == "-" ? "standard input" : path)}: {e.Message}").ConfigureAwait(false);
                    return FailureExitCode;
                }
                finally
                {
                    if (spool is not null)
                    {
                        File.Delete(spool);
                    }
                }
            }, cancellationToken).ConfigureAwait(false);
        });
        return command;
    }

    /// <summary>The store options of <c>serve</c>, with the same settings and environment variables.</summary>
    private static (Option<string?> Store, Option<string?> DataDir, Option<string?> Connection) StoreOptions() =>
    (
        new Option<string?>("--store") { Description = "Storage backend: sqlite (default) or postgres (setting CityOS:Store, env CITYOS__STORE)." },
        new Option<string?>("--data-dir") { Description = "Directory of the embedded store's files (default ./data; setting CityOS:DataDirectory, env CITYOS__DATADIRECTORY)." },
        new Option<string?>("--connection") { Description = "PostgreSQL connection string of --store postgres (setting CityOS:ConnectionString, env CITYOS__CONNECTIONSTRING)." }
    );

    /// <summary>Opens the store the settings name, runs <paramref name="work"/> on it and closes it; settings and open failures are one line.</summary>
    private static async Task<int> WithStoreAsync(
        string verb,
        ParseResult parse,
        Option<string?> store,
        Option<string?> dataDir,
        Option<string?> connection,
        Func<IEntityStore, Task<int>> work,
        CancellationToken cancellationToken)
    {
        // The same sources as serve, in the same order: appsettings.json beside the executable, the environment, then the options.
        var configuration = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true)
            .AddEnvironmentVariables()
            .Build();
        var kind = parse.GetValue(store) ?? configuration["CityOS:Store"] ?? "sqlite";
        IEntityStore opened;
        if (kind == "postgres")
        {
            var connectionString = parse.GetValue(connection) ?? configuration["CityOS:ConnectionString"];
            if (string.IsNullOrWhiteSpace(connectionString))
            {
                await Console.Error.WriteLineAsync($"cityos {verb}: invalid setting CityOS:ConnectionString: the postgres store needs a connection string (--connection \"Host=…;Database=…;Username=…\")").ConfigureAwait(false);
                return UsageExitCode;
            }

            try
            {
                opened = new PostgresEntityStore(connectionString);
            }
            catch (ArgumentException e)
            {
                await Console.Error.WriteLineAsync($"cityos {verb}: invalid setting CityOS:ConnectionString: {e.Message}").ConfigureAwait(false);
                return UsageExitCode;
            }
        }
        else if (kind == "sqlite")
        {
            var directory = parse.GetValue(dataDir) ?? configuration["CityOS:DataDirectory"] ?? new CityOSOptions().DataDirectory;
            opened = new SqliteEntityStore(Path.GetFullPath(directory));
        }
        else
        {
            await Console.Error.WriteLineAsync($"cityos {verb}: invalid setting CityOS:Store: '{kind}' is not sqlite or postgres").ConfigureAwait(false);
            return UsageExitCode;
        }

        try
        {
            try
            {
                await opened.InitializeAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is InvalidOperationException or ArgumentException)
            {
                await Console.Error.WriteLineAsync($"cityos {verb}: cannot open the store: {e.Message}").ConfigureAwait(false);
                return UsageExitCode;
            }

            try
            {
                return await work(opened).ConfigureAwait(false);
            }
            catch (Exception e) when (e is InvalidOperationException or IOException or UnauthorizedAccessException or CityOS.NgsiLd.Errors.NgsiLdException)
            {
                await Console.Error.WriteLineAsync($"cityos {verb}: {e.Message}").ConfigureAwait(false);
                return FailureExitCode;
            }
        }
        finally
        {
            await ((IAsyncDisposable)opened).DisposeAsync().ConfigureAwait(false);
        }
    }
}

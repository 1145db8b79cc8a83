using System.CommandLine;

namespace CityOS.Server.Hosting;

/// <summary>The verbs of the cityos executable.</summary>
internal static class CommandLine
{
    public static RootCommand Build()
    {
        var root = new RootCommand("CityOS: an open smart-city platform. Its heart is an ETSI NGSI-LD context broker.");
        var serve = ServeCommand();
        root.Subcommands.Add(serve);
        root.Subcommands.Add(Bench.BenchCommand.Create());
        root.Subcommands.Add(Transfer.TransferCommands.Export());
        root.Subcommands.Add(Transfer.TransferCommands.Import());

        // `cityos` with no verb serves, like `cityos serve`.
        foreach (var option in serve.Options)
        {
            root.Options.Add(option);
        }

        root.Action = serve.Action;
        return root;
    }

    private static Command ServeCommand()
    {
        var urls = new Option<string?>("--urls")
        {
            Description = "Addresses to listen on, separated by ';' (default http://localhost:1026; setting CityOS:Urls, env CITYOS__URLS).",
        };
        var dataDir = new Option<string?>("--data-dir")
        {
            Description = "Directory of the embedded store's files (default ./data; setting CityOS:DataDirectory, env CITYOS__DATADIRECTORY).",
        };
        var store = new Option<string?>("--store")
        {
            Description = "Storage backend: sqlite (default) or postgres (setting CityOS:Store, env CITYOS__STORE).",
        };
        var connection = new Option<string?>("--connection")
        {
            Description = "PostgreSQL connection string of --store postgres, e.g. \"Host=db;Database=cityos;Username=cityos;Password=…\" (setting CityOS:ConnectionString, env CITYOS__CONNECTIONSTRING).",
        };
        var maxPage = new Option<int?>("--max-page-size")
        {
            Description = "Largest page a query may ask for; larger limits get 403 TooManyResults (default 1000; env CITYOS__BROKER__MAXPAGESIZE).",
        };

        var command = new Command("serve", "Run the CityOS server (the NGSI-LD API under /ngsi-ld/v1, /health, /version, /openapi/v1.json).")
        {
            urls, dataDir, store, connection, maxPage,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var overrides = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
            if (parse.GetValue(urls) is { } u)
            {
                overrides["CityOS:Urls"] = u;
            }

            if (parse.GetValue(dataDir) is { } d)
            {
                overrides["CityOS:DataDirectory"] = d;
            }

            if (parse.GetValue(store) is { } s)
            {
                overrides["CityOS:Store"] = s;
            }

            if (parse.GetValue(connection) is { } c)
            {
                overrides["CityOS:ConnectionString"] = c;
            }

            if (parse.GetValue(maxPage) is { } m)
            {
                overrides["CityOS:Broker:MaxPageSize"] = m.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }

            return await ServerHost.RunAsync(overrides, cancellationToken).ConfigureAwait(false);
        });
        return command;
    }
}

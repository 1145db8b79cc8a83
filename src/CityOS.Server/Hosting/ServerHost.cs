using CityOS.Broker;
using CityOS.Broker.Api;
using CityOS.Storage.Sqlite;
using Microsoft.Extensions.Options;

namespace CityOS.Server.Hosting;

/// <summary>Builds and runs the web application; tests use <see cref="Build"/> to start the real app.</summary>
public static class ServerHost
{
    /// <summary>Builds the application. <paramref name="overrides"/> are configuration keys that win over every other source.</summary>
    public static WebApplication Build(IReadOnlyDictionary<string, string?> overrides)
    {
        ArgumentNullException.ThrowIfNull(overrides);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ContentRootPath = AppContext.BaseDirectory,
        });
        // Defaults first, so that the environment and the command line can still change them. Without an
        // appsettings file ASP.NET Core logged five Information lines per request to the console, about a
        // tenth of the server's CPU under load (profiled: 8 s of create at ~7,000 requests/s).
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
        });
        builder.Configuration.AddEnvironmentVariables();
        builder.Configuration.AddInMemoryCollection(overrides);
        var urls = builder.Configuration["CityOS:Urls"] ?? "http://localhost:1026";
        builder.WebHost.UseUrls(urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        var maxBody = builder.Configuration.GetValue<long?>("CityOS:Broker:MaxBodyBytes") ?? new BrokerOptions().MaxBodyBytes;
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = maxBody;
        });

        builder.Services.AddOptions<CityOSOptions>().BindConfiguration(CityOSOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<BrokerOptions>().BindConfiguration(BrokerOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOpenApi();
        var dataDirectory = builder.Configuration["CityOS:DataDirectory"] ?? new CityOSOptions().DataDirectory;
        builder.Services.AddSqliteStore(Path.GetFullPath(dataDirectory));
        builder.Services.AddNgsiLdBroker(PublicBaseUrl(urls));

        var app = builder.Build();
        app.MapNgsiLdApi();
        app.MapOpenApi();
        app.MapSystemEndpoints();
        return app;
    }

    /// <summary>The base URL under which hosted @contexts are published (first listen address; wildcard hosts become localhost).</summary>
    private static string PublicBaseUrl(string urls)
    {
        var first = urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[0];
        return first.Replace("://*", "://localhost", StringComparison.Ordinal).Replace("://+", "://localhost", StringComparison.Ordinal)
            .Replace("://0.0.0.0", "://localhost", StringComparison.Ordinal).TrimEnd('/');
    }

    /// <summary>Runs the server until shutdown; invalid settings print which one and why and return 2.</summary>
    public static async Task<int> RunAsync(IReadOnlyDictionary<string, string?> overrides, CancellationToken cancellationToken)
    {
        WebApplication app;
        try
        {
            app = Build(overrides);
        }
        catch (InvalidOperationException e)
        {
            await Console.Error.WriteLineAsync($"cityos: cannot start: {e.Message}").ConfigureAwait(false);
            return 2;
        }

        try
        {
            await app.RunAsync(cancellationToken).ConfigureAwait(false);
            return 0;
        }
        catch (OptionsValidationException e)
        {
            await Console.Error.WriteLineAsync($"cityos: invalid setting in section {e.OptionsName}: {string.Join("; ", e.Failures)}").ConfigureAwait(false);
            return 2;
        }
        catch (IOException e)
        {
            await Console.Error.WriteLineAsync($"cityos: cannot start: {e.Message}").ConfigureAwait(false);
            return 2;
        }
        finally
        {
            await app.DisposeAsync().ConfigureAwait(false);
        }
    }
}

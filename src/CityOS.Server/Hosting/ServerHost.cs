using CityOS.Broker;
using CityOS.Broker.Api;
using CityOS.NgsiLd.JsonLd;
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

        // A failed start is reported by RunAsync in one line; the host's own stack-trace log adds only noise.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
        var urls = ListenUrls(builder.Configuration["CityOS:Urls"] ?? "http://localhost:1026");
        builder.WebHost.UseUrls(urls);
        var maxBody = builder.Configuration.GetValue<long?>("CityOS:Broker:MaxBodyBytes") ?? new BrokerOptions().MaxBodyBytes;
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = maxBody;
        });

        builder.Services.AddOptions<CityOSOptions>().BindConfiguration(CityOSOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<BrokerOptions>().BindConfiguration(BrokerOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<CityOS.Broker.Temporal.TemporalOptions>().BindConfiguration(CityOS.Broker.Temporal.TemporalOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOpenApi();
        AddStore(builder.Services, builder.Configuration);
        builder.Services.AddNgsiLdBroker(PublicBaseUrl(builder.Configuration["CityOS:PublicUrl"], urls));

        var app = builder.Build();
        if (string.IsNullOrWhiteSpace(builder.Configuration["CityOS:PublicUrl"]) && ListensOnEphemeralPort(urls))
        {
            // The OS picks the port at start; hosted @context URLs (Location, listings) must name the real one.
            // Resolved only then, so invalid settings still fail in StartAsync, not here.
            app.Lifetime.ApplicationStarted.Register(() =>
                app.Services.GetRequiredService<JsonLdContextOptions>().BaseUrl = PublicBaseUrl(null, [.. app.Urls]));
        }

        app.MapNgsiLdApi();
        app.MapOpenApi();
        app.MapSystemEndpoints();
        return app;
    }

    /// <summary>
    /// Registers the store CityOS:Store names: PostgreSQL when "postgres" (CityOS:ConnectionString required),
    /// else the embedded SQLite store (an unknown name fails later, in option validation, naming the setting).
    /// </summary>
    private static void AddStore(IServiceCollection services, ConfigurationManager configuration)
    {
        if (string.Equals(configuration["CityOS:Store"], "postgres", StringComparison.Ordinal))
        {
            var connectionString = configuration["CityOS:ConnectionString"];
            if (string.IsNullOrWhiteSpace(connectionString))
            {
                throw new InvalidSettingException("CityOS:ConnectionString", "the postgres store needs a connection string (--connection \"Host=…;Database=…;Username=…\")");
            }

            // A malformed string fails when the store is first resolved, which RunAsync reports in one line.
            services.AddPostgresStore(connectionString);
            return;
        }

        var dataDirectory = configuration["CityOS:DataDirectory"] ?? new CityOSOptions().DataDirectory;
        services.AddSqliteStore(Path.GetFullPath(dataDirectory));
    }

    /// <summary>Splits and checks CityOS:Urls: each must be an absolute http or https URL.</summary>
    private static string[] ListenUrls(string value)
    {
        var urls = value.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (urls.Length == 0)
        {
            throw new InvalidSettingException("CityOS:Urls", "no address given");
        }

        foreach (var url in urls)
        {
            var checkable = url.Replace("://*", "://localhost", StringComparison.Ordinal).Replace("://+", "://localhost", StringComparison.Ordinal);
            if (!Uri.TryCreate(checkable, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                throw new InvalidSettingException("CityOS:Urls", $"'{url}' is not an http:// or https:// address such as http://localhost:1026");
            }
        }

        return urls;
    }

    /// <summary>
    /// The base URL under which hosted @contexts are published: CityOS:PublicUrl, else the first listen
    /// address (wildcard hosts become localhost).
    /// </summary>
    private static string PublicBaseUrl(string? configured, string[] urls)
    {
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return Uri.TryCreate(configured, UriKind.Absolute, out _)
                ? configured.TrimEnd('/')
                : throw new InvalidSettingException("CityOS:PublicUrl", $"'{configured}' is not an absolute URL");
        }

        return urls[0].Replace("://*", "://localhost", StringComparison.Ordinal).Replace("://+", "://localhost", StringComparison.Ordinal)
            .Replace("://0.0.0.0", "://localhost", StringComparison.Ordinal).TrimEnd('/');
    }

    /// <summary>Resolves every options class once so that an invalid setting fails here, not on first use.</summary>
    public static void ValidateSettings(IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(services);
        Check<CityOSOptions>(services, CityOSOptions.Section);
        Check<BrokerOptions>(services, BrokerOptions.Section);
        Check<CityOS.Broker.Temporal.TemporalOptions>(services, CityOS.Broker.Temporal.TemporalOptions.Section);

        static void Check<T>(IServiceProvider services, string section)
            where T : class
        {
            try
            {
                _ = services.GetRequiredService<IOptions<T>>().Value;
            }
            catch (OptionsValidationException e)
            {
                throw new InvalidSettingException(section, string.Join("; ", e.Failures));
            }
        }
    }

    private static bool ListensOnEphemeralPort(string[] urls) =>
        Uri.TryCreate(PublicBaseUrl(null, urls), UriKind.Absolute, out var uri) && uri.Port == 0;

    /// <summary>Runs the server until shutdown; invalid settings print which one and why and return 2.</summary>
    public static async Task<int> RunAsync(IReadOnlyDictionary<string, string?> overrides, CancellationToken cancellationToken)
    {
        WebApplication? app = null;
        try
        {
            app = Build(overrides);
            ValidateSettings(app.Services);
            // Opened before the host starts so that an unreachable database is one clear line, not a
            // hosted-service stack trace (the broker's own start-up call then finds it open).
            try
            {
                await app.Services.GetRequiredService<CityOS.Broker.Storage.IEntityStore>().InitializeAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is InvalidOperationException or ArgumentException)
            {
                // Unreachable or missing database, no PostGIS, a newer schema, a malformed connection string.
                await Console.Error.WriteLineAsync($"cityos: cannot open the store: {e.Message}").ConfigureAwait(false);
                return 2;
            }

            await app.RunAsync(cancellationToken).ConfigureAwait(false);
            return 0;
        }
        catch (InvalidSettingException e)
        {
            await Console.Error.WriteLineAsync($"cityos: invalid setting {e.Setting}: {e.Reason}").ConfigureAwait(false);
            return 2;
        }
        catch (IOException e)
        {
            // Typically the address is already in use.
            await Console.Error.WriteLineAsync($"cityos: cannot start: {e.Message}").ConfigureAwait(false);
            return 2;
        }
        finally
        {
            if (app is not null)
            {
                await app.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}

/// <summary>A setting that stops start-up, with the reason.</summary>
public sealed class InvalidSettingException : Exception
{
    public InvalidSettingException(string setting, string reason)
        : base($"Invalid setting {setting}: {reason}")
    {
        Setting = setting;
        Reason = reason;
    }

    public InvalidSettingException()
        : this("?", "invalid")
    {
    }

    public InvalidSettingException(string message)
        : this("?", message)
    {
    }

    public InvalidSettingException(string message, Exception innerException)
        : base(message, innerException)
    {
        Setting = "?";
        Reason = message;
    }

    public string Setting { get; }

    public string Reason { get; }
}

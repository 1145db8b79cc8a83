using System.Net.Http.Headers;
using CityOS.Server.Hosting;
using Microsoft.AspNetCore.Builder;

namespace CityOS.Server.Tests;

/// <summary>
/// The real CityOS app on Kestrel at a free loopback port with its own temporary data directory;
/// tests talk to it over real HTTP.
/// </summary>
public sealed class CityOSServer : IAsyncLifetime
{
    private WebApplication? _app;

    public string DataDirectory { get; } = Path.Combine(Path.GetTempPath(), "cityos-test-" + Guid.NewGuid().ToString("N"));

    public HttpClient Client { get; private set; } = null!;

    public Uri BaseAddress { get; private set; } = null!;

    public Dictionary<string, string?> Settings { get; } = new(StringComparer.OrdinalIgnoreCase);

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(DataDirectory);
        Settings["CityOS:Urls"] = "http://127.0.0.1:0";
        Settings["CityOS:DataDirectory"] = DataDirectory;
        Settings["Logging:LogLevel:Default"] = "Warning";
        _app = ServerHost.Build(Settings);
        await _app.StartAsync();
        BaseAddress = new Uri(_app.Urls.First());
        Client = new HttpClient { BaseAddress = BaseAddress };
        Client.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
    }

    public async Task DisposeAsync()
    {
        Client?.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A file still held by the OS is left for the temp cleaner.
        }
    }
}

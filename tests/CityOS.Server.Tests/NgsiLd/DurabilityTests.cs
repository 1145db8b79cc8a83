using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace CityOS.Server.Tests.NgsiLd;

/// <summary>An acknowledged write survives kill -9 of the server process (on each store).</summary>
public abstract class DurabilityTests : IAsyncLifetime
{
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "cityos-kill-" + Guid.NewGuid().ToString("N"));

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private Process Start(int port)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "cityos.dll");
        var info = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { dll, "serve", "--urls", $"http://127.0.0.1:{port}", "--data-dir", _dataDirectory },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in StoreArguments)
        {
            info.ArgumentList.Add(argument);
        }

        info.Environment["Logging__LogLevel__Default"] = "Warning";
        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static async Task WaitReadyAsync(HttpClient client)
    {
        for (var i = 0; i < 300; i++)
        {
            try
            {
                using var response = await client.NgGetAsync("/health");
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(100);
        }

        throw new TimeoutException("cityos did not become ready");
    }

    [Fact]
    public async Task Acknowledged_writes_survive_kill_9()
    {
        var port = FreePort();
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        var ids = Enumerable.Range(0, 200).Select(i => $"urn:ngsi-ld:Durable:{i}").ToList();
        using (var process = Start(port))
        {
            await WaitReadyAsync(client);
            // Concurrent single creates (group commit) and one batch, all acknowledged before the kill.
            await Parallel.ForEachAsync(ids.Take(100), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (id, ct) =>
            {
                using var r = await client.NgPostAsync("entities", $$"""{"id": "{{id}}", "type": "T", "p": {"type": "Property", "value": 1} }""");
                Assert.Equal(HttpStatusCode.Created, r.StatusCode);
            });
            var batch = "[" + string.Join(',', ids.Skip(100).Select(id => $$"""{"id": "{{id}}", "type": "T"}""")) + "]";
            using (var r = await client.NgPostAsync("entityOperations/create", batch))
            {
                Assert.Equal(HttpStatusCode.Created, r.StatusCode);
            }

            using (var r = await client.NgPatchAsync($"entities/{ids[0]}/attrs/p", """{"value": 42}"""))
            {
                Assert.Equal(HttpStatusCode.NoContent, r.StatusCode);
            }

            process.Kill(entireProcessTree: true); // SIGKILL: no shutdown hooks run
            await process.WaitForExitAsync();
        }

        var port2 = FreePort();
        using var client2 = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port2}") };
        using var restarted = Start(port2);
        try
        {
            await WaitReadyAsync(client2);
            using var count = await client2.NgGetAsync("entities?type=T&count=true&limit=0");
            Assert.Equal("200", count.Headers.GetValues("NGSILD-Results-Count").Single());
            var first = await (await client2.NgGetAsync("entities/" + ids[0])).JsonAsync();
            Assert.Equal(42, (int)first["p"]!["value"]!);
        }
        finally
        {
            restarted.Kill(entireProcessTree: true);
            await restarted.WaitForExitAsync();
        }
    }

    /// <summary>The command-line arguments that choose the store (none: the default SQLite one).</summary>
    protected abstract IEnumerable<string> StoreArguments { get; }

    public virtual Task InitializeAsync() => Task.CompletedTask;

    public virtual Task DisposeAsync()
    {
        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return Task.CompletedTask;
    }
}

public sealed class DurabilityTestsOnSqlite : DurabilityTests
{
    protected override IEnumerable<string> StoreArguments => [];
}

/// <summary>The PostgreSQL run: the server process writes to a fresh schema, dropped afterwards.</summary>
public sealed class DurabilityTestsOnPostgres : DurabilityTests
{
    private PostgresTestSchema? _schema;

    protected override IEnumerable<string> StoreArguments => ["--store", "postgres", "--connection", _schema!.ConnectionString];

    public override async Task InitializeAsync() => _schema = await PostgresTestSchema.CreateAsync();

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (_schema is not null)
        {
            await _schema.DropAsync();
        }
    }
}

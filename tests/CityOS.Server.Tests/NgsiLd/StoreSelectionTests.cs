using System.Net;

namespace CityOS.Server.Tests.NgsiLd;

/// <summary>Each run of the NGSI-LD classes really talks to the store its name says.</summary>
public abstract class StoreSelectionTests(CityOSServer server)
{
    [Fact]
    public async Task Server_reports_the_store_of_the_run_in_health_and_version()
    {
        var expected = server.Store == TestStore.Postgres ? "postgres" : "sqlite";
        using var health = await server.Client.NgGetAsync("/health");
        await health.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(expected, (string?)(await health.JsonAsync())["store"]);
        using var version = await server.Client.NgGetAsync("/version");
        Assert.Equal(expected, (string?)(await version.JsonAsync())["store"]);
    }
}

[Collection(SharedSqliteServer.Name)]
public sealed class StoreSelectionTestsOnSqlite(SqliteServer server) : StoreSelectionTests(server);

[Collection(SharedPostgresServer.Name)]
public sealed class StoreSelectionTestsOnPostgres(PostgresServer server) : StoreSelectionTests(server);

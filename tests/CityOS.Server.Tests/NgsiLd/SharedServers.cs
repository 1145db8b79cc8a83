namespace CityOS.Server.Tests.NgsiLd;

/// <summary>
/// One real server on SQLite shared by the SQLite runs of the NGSI-LD test classes (each test uses its own
/// ids or tenant). The collection runs in parallel with <see cref="SharedPostgresServer"/>.
/// </summary>
[CollectionDefinition(Name)]
public sealed class SharedSqliteServer : ICollectionFixture<SqliteServer>
{
    public const string Name = "server on sqlite";
}

/// <summary>One real server on PostgreSQL (its own schema) shared by the PostgreSQL runs of the test classes.</summary>
[CollectionDefinition(Name)]
public sealed class SharedPostgresServer : ICollectionFixture<PostgresServer>
{
    public const string Name = "server on postgres";
}

namespace CityOS.Server.Tests.NgsiLd;

/// <summary>One real server shared by the NGSI-LD test classes (each test uses its own ids or tenant).</summary>
[CollectionDefinition(Name)]
public sealed class SharedServer : ICollectionFixture<CityOSServer>
{
    public const string Name = "server";
}

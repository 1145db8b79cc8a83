using CityOS.Server.Bench;

namespace CityOS.Server.Tests.Bench;

public sealed class WriteTargetsTests
{
    [Fact]
    public void Postgres_is_held_to_half_the_sqlite_write_targets()
    {
        var sqlite = WriteTargets.For("sqlite");
        var postgres = WriteTargets.For("postgres");

        Assert.Equal(new WriteTargets(8_000, 8_000, 60_000), sqlite);
        Assert.Equal(new WriteTargets(4_000, 4_000, 30_000), postgres);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("orion-ld")]
    public void An_unknown_store_is_held_to_the_embedded_targets(string? store) =>
        Assert.Equal(WriteTargets.For("sqlite"), WriteTargets.For(store));
}

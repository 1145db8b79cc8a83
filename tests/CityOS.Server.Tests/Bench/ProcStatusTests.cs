using CityOS.Server.Bench;

namespace CityOS.Server.Tests.Bench;

public sealed class ProcStatusTests
{
    [Fact]
    public void Status_text_yields_rss_and_peak_in_bytes()
    {
        const string status = "Name:\tcityos\nVmPeak:\t 3000000 kB\nVmHWM:\t  524288 kB\nVmRSS:\t  262144 kB\nThreads:\t24\n";
        var memory = ProcStatus.ParseStatus(status);
        Assert.NotNull(memory);
        Assert.Equal(262_144L * 1024, memory.VmRssBytes);
        Assert.Equal(524_288L * 1024, memory.VmHwmBytes);
    }

    [Fact]
    public void Status_without_rss_yields_nothing() =>
        Assert.Null(ProcStatus.ParseStatus("Name:\tkthreadd\nState:\tS (sleeping)\n"));

    [Fact]
    public async Task Own_process_memory_is_readable_on_linux()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        var memory = await ProcStatus.ReadServerMemoryAsync(Environment.ProcessId, CancellationToken.None);
        Assert.NotNull(memory);
        Assert.True(memory.VmRssBytes > 1024 * 1024);
        Assert.True(memory.VmHwmBytes >= memory.VmRssBytes);
    }

    [Fact]
    public async Task Unknown_process_yields_nothing() =>
        Assert.Null(await ProcStatus.ReadServerMemoryAsync(int.MaxValue, CancellationToken.None));
}

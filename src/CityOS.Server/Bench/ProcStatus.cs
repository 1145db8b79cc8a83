using System.Globalization;
using System.Runtime.InteropServices;

namespace CityOS.Server.Bench;

/// <summary>Reads process memory and machine facts from Linux <c>/proc</c>.</summary>
internal static class ProcStatus
{
    /// <summary>VmRSS and VmHWM of process <paramref name="pid"/>, or null when /proc has no readable status for it.</summary>
    public static async Task<ServerMemory?> ReadServerMemoryAsync(int pid, CancellationToken cancellationToken)
    {
        string text;
        try
        {
            text = await File.ReadAllTextAsync($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/status", cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        return ParseStatus(text);
    }

    /// <summary>Parses the <c>VmRSS:</c> and <c>VmHWM:</c> lines (values in kB) of a /proc/&lt;pid&gt;/status text.</summary>
    public static ServerMemory? ParseStatus(string statusText)
    {
        ArgumentNullException.ThrowIfNull(statusText);
        long? rss = null;
        long? hwm = null;
        foreach (var line in statusText.AsSpan().EnumerateLines())
        {
            if (line.StartsWith("VmRSS:"))
            {
                rss = ParseKilobytes(line["VmRSS:".Length..]);
            }
            else if (line.StartsWith("VmHWM:"))
            {
                hwm = ParseKilobytes(line["VmHWM:".Length..]);
            }
        }

        return rss is { } r ? new ServerMemory { VmRssBytes = r, VmHwmBytes = hwm ?? r } : null;
    }

    /// <summary>The "model name" of the first CPU in /proc/cpuinfo, when there is one.</summary>
    public static string? CpuModel()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
            {
                if (line.StartsWith("model name", StringComparison.Ordinal) && line.IndexOf(':', StringComparison.Ordinal) is var colon and > 0)
                {
                    return line[(colon + 1)..].Trim();
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Not Linux, or /proc hidden: the model is optional information.
        }

        return null;
    }

    /// <summary>Facts about this machine for the results file.</summary>
    public static MachineInfo Machine() => new()
    {
        Cores = Environment.ProcessorCount,
        CpuModel = CpuModel(),
        MemoryBytes = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes is var m and > 0 ? m : null,
        Os = RuntimeInformation.OSDescription,
        Architecture = RuntimeInformation.OSArchitecture.ToString(),
        Runtime = RuntimeInformation.FrameworkDescription,
    };

    private static long? ParseKilobytes(ReadOnlySpan<char> rest)
    {
        rest = rest.Trim();
        var space = rest.IndexOf(' ');
        var number = space < 0 ? rest : rest[..space];
        return long.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out var kb) ? kb * 1024 : null;
    }
}

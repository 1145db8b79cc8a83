namespace CityOS.Server.Transfer;

/// <summary>The NDJSON format of <c>cityos export</c> and <c>cityos import</c> (docs/export-format.md).</summary>
internal static class ExportFormat
{
    /// <summary>The header's "format" value.</summary>
    public const string Name = "cityos-export";

    /// <summary>The one version this build writes and reads.</summary>
    public const int Version = 1;
}

/// <summary>What <c>cityos import</c> does with an entity whose id already exists in its tenant.</summary>
internal enum ImportMode
{
    /// <summary>The import fails (before anything is written).</summary>
    Create,

    /// <summary>The stored entity is replaced (keeping its creation order).</summary>
    Upsert,
}

/// <summary>An import file that cannot be imported: the 1-based line at fault and why.</summary>
internal sealed class ImportFileException : Exception
{
    public ImportFileException(long line, string reason)
        : base($"line {line}: {reason}")
    {
        Line = line;
        Reason = reason;
    }

    public ImportFileException()
        : this(0, "invalid import file")
    {
    }

    public ImportFileException(string message)
        : this(0, message)
    {
    }

    public ImportFileException(string message, Exception innerException)
        : base(message, innerException)
    {
        Reason = message;
    }

    /// <summary>The 1-based line number.</summary>
    public long Line { get; }

    /// <summary>Why the line cannot be imported.</summary>
    public string Reason { get; }
}

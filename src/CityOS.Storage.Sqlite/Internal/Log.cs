using Microsoft.Extensions.Logging;

namespace CityOS.Storage.Sqlite.Internal;

/// <summary>Source-generated log messages of the SQLite store (event ids 2100–2199).</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 2100, Level = LogLevel.Information, Message = "SQLite store opened at {Path} (schema version {Version})")]
    public static partial void Opened(ILogger logger, string path, int version);

    [LoggerMessage(EventId = 2101, Level = LogLevel.Error, Message = "SQLite group commit failed; the group's writes were rolled back")]
    public static partial void WriterCommitFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 2102, Level = LogLevel.Error, Message = "SQLite rolled back a whole write group after an error")]
    public static partial void WriterGroupRolledBack(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 2103, Level = LogLevel.Error, Message = "SQLite write group failed unexpectedly")]
    public static partial void WriterGroupFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 2104, Level = LogLevel.Warning, Message = "SQLite WAL checkpoint failed; it is retried shortly")]
    public static partial void CheckpointFailed(ILogger logger, Exception exception);
}

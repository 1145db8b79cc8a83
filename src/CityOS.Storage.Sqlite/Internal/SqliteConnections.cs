using Microsoft.Data.Sqlite;

namespace CityOS.Storage.Sqlite.Internal;

/// <summary>Opens the store's connections with the settings every one of them needs.</summary>
internal static class SqliteConnections
{
    /// <summary>Opens the single read-write connection, switching the file to WAL.</summary>
    public static SqliteConnection OpenWriter(string path)
    {
        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,

            // The store pools its own connections (with their prepared commands); the driver's pool
            // would keep the file open after dispose and delay the final WAL checkpoint.
            Pooling = false,
        };
        var connection = new SqliteConnection(builder.ConnectionString);
        try
        {
            connection.Open();

            // WAL lets readers run beside the single writer. synchronous=NORMAL in WAL mode fsyncs only at
            // checkpoints: a committed transaction is in the WAL file (in the OS page cache) before COMMIT
            // returns, so it survives the process being killed (kill -9); only an OS crash or power loss
            // can lose the last commits. FULL would fsync every group commit and cost throughput for a
            // guarantee (power loss) the contract does not ask for. Checkpoints run on a background
            // connection (WalCheckpointer), so the writer's COMMIT normally never waits for one. Under
            // sustained writes, though, that checkpointer never catches up with the end of the WAL (the
            // writer appends while it copies), so the WAL is never rewound and grew without bound (240 MB
            // after 10 s of batch upserts, every frame extending the file). The writer's own autocheckpoint
            // at 16,384 frames (64 MB, the journal_size_limit) is the backstop: it runs only when the WAL
            // is that large, copies what the background pass left, and lets the next transaction rewind it.
            Execute(connection, """
                PRAGMA journal_mode = WAL;
                PRAGMA synchronous = NORMAL;
                PRAGMA busy_timeout = 5000;
                PRAGMA temp_store = MEMORY;
                PRAGMA cache_size = -65536;
                PRAGMA mmap_size = 268435456;
                PRAGMA journal_size_limit = 67108864;
                PRAGMA wal_autocheckpoint = 16384;
                PRAGMA foreign_keys = OFF;
                """);
            using var check = connection.CreateCommand();
            check.CommandText = "PRAGMA journal_mode";
            var mode = check.ExecuteScalar() as string;
            if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
            {
                throw new InvalidOperationException($"The database '{path}' could not be switched to WAL mode (it is in '{mode}' mode).");
            }

            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>Opens the background checkpointer's connection (read-write, never writes rows).</summary>
    public static SqliteConnection OpenCheckpointer(string path)
    {
        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWrite,
            Cache = SqliteCacheMode.Private,
            Pooling = false,
        };
        var connection = new SqliteConnection(builder.ConnectionString);
        try
        {
            connection.Open();
            Execute(connection, "PRAGMA busy_timeout = 5000; PRAGMA wal_autocheckpoint = 0;");
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>Opens a read-only connection; the file must already exist (the writer creates it).</summary>
    public static SqliteConnection OpenReader(string path)
    {
        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadOnly,
            Cache = SqliteCacheMode.Private,
            Pooling = false,
        };
        var connection = new SqliteConnection(builder.ConnectionString);
        try
        {
            connection.Open();
            // No mmap on readers: each connection maps the file on its own, and the kernel counts every
            // mapping's resident pages in the process RSS, so 16 pooled readers turned one hot 250 MB file
            // into ~800 MB of RSS (measured after the geo benchmark over 100,000 entities). Reads go through
            // the OS page cache with pread instead, which costs little beside the JSON parse of each doc.
            Execute(connection, """
                PRAGMA busy_timeout = 5000;
                PRAGMA temp_store = MEMORY;
                PRAGMA cache_size = -8192;
                PRAGMA mmap_size = 0;
                """);
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}

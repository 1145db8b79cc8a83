using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace CityOS.Storage.Sqlite.Internal;

/// <summary>
/// A prepared statement driven through SQLitePCLRaw (the layer under Microsoft.Data.Sqlite). The writer
/// runs several small statements per entity; binding by position and stepping directly costs about half
/// of what a SqliteCommand execution does (reader object, re-binding by name), measured on the index inserts.
/// Used only on the writer connection, by the writer task.
/// </summary>
internal sealed class RawStatement : IDisposable
{
    private readonly sqlite3 _db;
    private readonly sqlite3_stmt _statement;

    public RawStatement(SqliteConnection connection, string sql)
    {
        _db = connection.Handle!;
        var rc = raw.sqlite3_prepare_v2(_db, sql, out _statement);
        SqliteException.ThrowExceptionForRC(rc, _db);
    }

    public RawStatement Bind(int index, long value)
    {
        Check(raw.sqlite3_bind_int64(_statement, index, value));
        return this;
    }

    public RawStatement Bind(int index, double value)
    {
        Check(raw.sqlite3_bind_double(_statement, index, value));
        return this;
    }

    /// <summary>Binds a nullable integer (SQL NULL when null).</summary>
    public RawStatement Bind(int index, long? value)
    {
        Check(value is { } v ? raw.sqlite3_bind_int64(_statement, index, v) : raw.sqlite3_bind_null(_statement, index));
        return this;
    }

    /// <summary>Binds a nullable real (SQL NULL when null).</summary>
    public RawStatement Bind(int index, double? value)
    {
        Check(value is { } v ? raw.sqlite3_bind_double(_statement, index, v) : raw.sqlite3_bind_null(_statement, index));
        return this;
    }

    public RawStatement Bind(int index, string? value)
    {
        // The UTF-16 form goes straight to SQLite, which converts it in C: the string overload of
        // sqlite3_bind_text first allocates a managed UTF-8 copy of every value (ids, IRIs, whole docs).
        Check(value is null ? raw.sqlite3_bind_null(_statement, index) : raw.sqlite3_bind_text16(_statement, index, value.AsSpan()));
        return this;
    }

    /// <summary>Binds UTF-8 text as it is (SQLite copies it).</summary>
    public RawStatement BindUtf8(int index, ReadOnlySpan<byte> value)
    {
        Check(raw.sqlite3_bind_text(_statement, index, value));
        return this;
    }

    /// <summary>Runs the statement to completion; the number of rows it changed.</summary>
    public int Execute()
    {
        try
        {
            int rc;
            while ((rc = raw.sqlite3_step(_statement)) == raw.SQLITE_ROW)
            {
            }

            if (rc != raw.SQLITE_DONE)
            {
                SqliteException.ThrowExceptionForRC(rc, _db);
            }

            return raw.sqlite3_changes(_db);
        }
        finally
        {
            raw.sqlite3_reset(_statement);
        }
    }

    /// <summary>Starts reading rows; dispose the cursor to reset the statement.</summary>
    public Cursor Query() => new(this);

    public void Dispose() => _statement.Dispose();

    private void Check(int rc)
    {
        if (rc != raw.SQLITE_OK)
        {
            SqliteException.ThrowExceptionForRC(rc, _db);
        }
    }

    /// <summary>Row access for one execution of the statement.</summary>
    internal readonly struct Cursor : IDisposable
    {
        private readonly RawStatement _owner;

        public Cursor(RawStatement owner) => _owner = owner;

        /// <summary>Advances to the next row; false when there is none.</summary>
        public bool Read()
        {
            var rc = raw.sqlite3_step(_owner._statement);
            if (rc == raw.SQLITE_ROW)
            {
                return true;
            }

            if (rc != raw.SQLITE_DONE)
            {
                SqliteException.ThrowExceptionForRC(rc, _owner._db);
            }

            return false;
        }

        public long GetInt64(int column) => raw.sqlite3_column_int64(_owner._statement, column);

        public double GetDouble(int column) => raw.sqlite3_column_double(_owner._statement, column);

        public bool IsNull(int column) => raw.sqlite3_column_type(_owner._statement, column) == raw.SQLITE_NULL;

        public string GetString(int column) => raw.sqlite3_column_text(_owner._statement, column).utf8_to_string();

        /// <summary>The column's UTF-8 text, valid until the next step or reset of the statement.</summary>
        public ReadOnlySpan<byte> GetUtf8(int column) => raw.sqlite3_column_blob(_owner._statement, column);

        public string? GetStringOrNull(int column) => IsNull(column) ? null : GetString(column);

        public void Dispose() => raw.sqlite3_reset(_owner._statement);
    }
}

using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;
using CityOS.NgsiLd.Errors;
using CityOS.NgsiLd.JsonLd;
using Microsoft.Data.Sqlite;

namespace CityOS.Storage.Sqlite.Internal;

/// <summary>
/// The one read-write connection and its prepared statements. Only the writer task touches it, always
/// inside the group transaction; nothing here commits.
/// </summary>
internal sealed class WriterConnection : ICommandSource, IDisposable
{
    private readonly SqliteConnection _connection;
    private readonly CommandCache _adHoc;
    private readonly List<SqliteCommand> _prepared = [];

    // Committed tenants, shared with readers. Tenants made by the running group are kept apart until it commits.
    private readonly ConcurrentDictionary<string, long> _committedTenants;
    private readonly Dictionary<string, long> _groupTenants = new(StringComparer.Ordinal);
    private readonly List<string> _itemTenants = [];

    private readonly SqliteCommand _begin;
    private readonly SqliteCommand _commit;
    private readonly SqliteCommand _rollback;
    private readonly SqliteCommand _savepoint;
    private readonly SqliteCommand _release;
    private readonly SqliteCommand _rollbackTo;
    private readonly SqliteCommand _findTenant;
    private readonly SqliteCommand _insertTenant;
    private readonly SqliteCommand _getDoc;
    private readonly SqliteCommand _insertEntity;
    private readonly SqliteCommand _findForUpdate;
    private readonly SqliteCommand _updateEntity;
    private readonly SqliteCommand _deleteEntity;
    private readonly SqliteCommand _insertType;
    private readonly SqliteCommand _deleteType;
    private readonly SqliteCommand _selectAttrs;
    private readonly SqliteCommand _insertAttr;
    private readonly SqliteCommand _deleteAttr;
    private readonly SqliteCommand _deleteAttrs;
    private readonly SqliteCommand _insertGeo;
    private readonly SqliteCommand _deleteGeo;
    private readonly SqliteCommand _putContext;
    private readonly SqliteCommand _deleteContext;

    public WriterConnection(SqliteConnection connection, ConcurrentDictionary<string, long> committedTenants)
    {
        _connection = connection;
        _committedTenants = committedTenants;
        _adHoc = new CommandCache(connection);

        // Each group is one transaction; IMMEDIATE takes the write lock up front instead of upgrading later.
        _begin = Prepare("BEGIN IMMEDIATE");
        _commit = Prepare("COMMIT");
        _rollback = Prepare("ROLLBACK");

        // Each work item runs in its own savepoint, so a failing one undoes only its own writes.
        _savepoint = Prepare("SAVEPOINT item");
        _release = Prepare("RELEASE item");
        _rollbackTo = Prepare("ROLLBACK TO item");

        _findTenant = Prepare("SELECT tid FROM tenants WHERE name = $name", "$name");
        _insertTenant = Prepare("INSERT INTO tenants(name, created_at) VALUES ($name, $now) RETURNING tid", "$name", "$now");
        _getDoc = Prepare("SELECT doc FROM entities WHERE tenant = $t AND id = $id", "$t", "$id");
        _insertEntity = Prepare(
            "INSERT INTO entities(tenant, id, types, geo_count, geo, doc) VALUES ($t, $id, $types, $gc, $geo, $doc) ON CONFLICT(tenant, id) DO NOTHING RETURNING seq",
            "$t", "$id", "$types", "$gc", "$geo", "$doc");
        _findForUpdate = Prepare("SELECT seq, types, geo_count, geo FROM entities WHERE tenant = $t AND id = $id", "$t", "$id");
        _updateEntity = Prepare("UPDATE entities SET types = $types, geo_count = $gc, geo = $geo, doc = $doc WHERE seq = $seq", "$types", "$gc", "$geo", "$doc", "$seq");
        _deleteEntity = Prepare("DELETE FROM entities WHERE tenant = $t AND id = $id RETURNING seq, types, geo_count", "$t", "$id");
        _insertType = Prepare("INSERT OR IGNORE INTO entity_types(tenant, type, entity) VALUES ($t, $type, $e)", "$t", "$type", "$e");
        _deleteType = Prepare("DELETE FROM entity_types WHERE tenant = $t AND type = $type AND entity = $e", "$t", "$type", "$e");
        _selectAttrs = Prepare("SELECT attr, attr_type FROM entity_attrs WHERE tenant = $t AND entity = $e", "$t", "$e");
        _insertAttr = Prepare("INSERT OR IGNORE INTO entity_attrs(tenant, entity, attr, attr_type) VALUES ($t, $e, $attr, $at)", "$t", "$e", "$attr", "$at");
        _deleteAttr = Prepare("DELETE FROM entity_attrs WHERE tenant = $t AND entity = $e AND attr = $attr AND attr_type = $at", "$t", "$e", "$attr", "$at");
        _deleteAttrs = Prepare("DELETE FROM entity_attrs WHERE tenant = $t AND entity = $e", "$t", "$e");
        _insertGeo = Prepare(
            "INSERT INTO entity_geo(id, min_x, max_x, min_y, max_y, tenant, prop) VALUES ($id, $minx, $maxx, $miny, $maxy, $t, $prop)",
            "$id", "$minx", "$maxx", "$miny", "$maxy", "$t", "$prop");
        _deleteGeo = Prepare("DELETE FROM entity_geo WHERE id = $id", "$id");
        _putContext = Prepare(
            "INSERT INTO contexts(id, kind, body, created_at) VALUES ($id, $kind, $body, $at) ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, body = excluded.body, created_at = excluded.created_at",
            "$id", "$kind", "$body", "$at");
        _deleteContext = Prepare("DELETE FROM contexts WHERE id = $id", "$id");
    }

    public SqliteCommand Command(string sql) => _adHoc.Get(sql);

    public void Begin()
    {
        _groupTenants.Clear();
        _begin.ExecuteNonQuery();
    }

    public void Commit()
    {
        _commit.ExecuteNonQuery();
        foreach (var (name, tid) in _groupTenants)
        {
            _committedTenants[name] = tid;
        }

        _groupTenants.Clear();
    }

    /// <summary>Abandons the group; tolerates the transaction being gone already (SQLite rolls back on some errors).</summary>
    public void Rollback()
    {
        _groupTenants.Clear();
        if (SQLitePCL.raw.sqlite3_get_autocommit(_connection.Handle) == 0)
        {
            _rollback.ExecuteNonQuery();
        }
    }

    public void BeginItem()
    {
        _itemTenants.Clear();
        _savepoint.ExecuteNonQuery();
    }

    public void EndItem() => _release.ExecuteNonQuery();

    /// <summary>Undoes the current item's writes; false when the whole transaction is already gone.</summary>
    public bool UndoItem()
    {
        foreach (var name in _itemTenants)
        {
            _groupTenants.Remove(name);
        }

        _itemTenants.Clear();
        if (SQLitePCL.raw.sqlite3_get_autocommit(_connection.Handle) != 0)
        {
            return false;
        }

        _rollbackTo.ExecuteNonQuery();
        _release.ExecuteNonQuery();
        return true;
    }

    /// <summary>The id of a tenant, creating it when allowed; NonexistentTenant otherwise.</summary>
    public long ResolveTenant(string name, bool create)
    {
        if (_committedTenants.TryGetValue(name, out var tid) || _groupTenants.TryGetValue(name, out tid))
        {
            return tid;
        }

        _findTenant.Parameters[0].Value = name;
        if (_findTenant.ExecuteScalar() is long found)
        {
            // Not made by this group, so it is committed (by an earlier run or another process).
            _committedTenants[name] = found;
            return found;
        }

        if (!create)
        {
            throw new NgsiLdException(ErrorType.NonexistentTenant, $"The tenant '{name}' does not exist.");
        }

        _insertTenant.Parameters[0].Value = name;
        _insertTenant.Parameters[1].Value = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
        tid = (long)_insertTenant.ExecuteScalar()!;
        _groupTenants[name] = tid;
        _itemTenants.Add(name);
        return tid;
    }

    public JsonObject? GetEntity(long tenant, string id)
    {
        _getDoc.Parameters[0].Value = tenant;
        _getDoc.Parameters[1].Value = id;
        return _getDoc.ExecuteScalar() is string doc ? EntityQueryExecutor.ParseDoc(doc) : null;
    }

    public bool InsertEntity(long tenant, JsonObject entity)
    {
        var index = EntityIndex.Of(entity);
        var p = _insertEntity.Parameters;
        p[0].Value = tenant;
        p[1].Value = index.Id;
        p[2].Value = index.TypesJson;
        p[3].Value = index.Geo.Count;
        p[4].Value = (object?)index.GeoKey ?? DBNull.Value;
        p[5].Value = index.Doc;
        if (_insertEntity.ExecuteScalar() is not long seq)
        {
            return false;
        }

        foreach (var type in index.Types)
        {
            SetType(_insertType, tenant, type, seq);
        }

        foreach (var (attribute, attributeType) in index.Attributes)
        {
            SetAttr(_insertAttr, tenant, seq, attribute, attributeType);
        }

        InsertGeo(tenant, seq, index);
        return true;
    }

    public void UpdateEntity(long tenant, JsonObject entity)
    {
        var index = EntityIndex.Of(entity);
        _findForUpdate.Parameters[0].Value = tenant;
        _findForUpdate.Parameters[1].Value = index.Id;
        long seq;
        string oldTypes;
        long oldGeoCount;
        string? oldGeo;
        using (var reader = _findForUpdate.ExecuteReader())
        {
            if (!reader.Read())
            {
                throw NgsiLdException.NotFound($"Entity '{index.Id}' does not exist, so it cannot be updated.");
            }

            seq = reader.GetInt64(0);
            oldTypes = reader.GetString(1);
            oldGeoCount = reader.GetInt64(2);
            oldGeo = reader.IsDBNull(3) ? null : reader.GetString(3);
        }

        var p = _updateEntity.Parameters;
        p[0].Value = index.TypesJson;
        p[1].Value = index.Geo.Count;
        p[2].Value = (object?)index.GeoKey ?? DBNull.Value;
        p[3].Value = index.Doc;
        p[4].Value = seq;
        _updateEntity.ExecuteNonQuery();

        if (!string.Equals(oldTypes, index.TypesJson, StringComparison.Ordinal))
        {
            foreach (var type in EntityIndex.ParseTypes(oldTypes))
            {
                SetType(_deleteType, tenant, type, seq);
            }

            foreach (var type in index.Types)
            {
                SetType(_insertType, tenant, type, seq);
            }
        }

        // Most updates touch values, not the set of attributes: write only the difference.
        var existing = new HashSet<(string, string)>();
        _selectAttrs.Parameters[0].Value = tenant;
        _selectAttrs.Parameters[1].Value = seq;
        using (var reader = _selectAttrs.ExecuteReader())
        {
            while (reader.Read())
            {
                existing.Add((reader.GetString(0), reader.GetString(1)));
            }
        }

        foreach (var pair in existing)
        {
            if (!index.Attributes.Contains(pair))
            {
                SetAttr(_deleteAttr, tenant, seq, pair.Item1, pair.Item2);
            }
        }

        foreach (var pair in index.Attributes)
        {
            if (!existing.Contains(pair))
            {
                SetAttr(_insertAttr, tenant, seq, pair.Attribute, pair.AttributeType);
            }
        }

        if (!string.Equals(oldGeo, index.GeoKey, StringComparison.Ordinal))
        {
            DeleteGeo(seq, oldGeoCount);
            InsertGeo(tenant, seq, index);
        }
    }

    public bool DeleteEntity(long tenant, string id)
    {
        _deleteEntity.Parameters[0].Value = tenant;
        _deleteEntity.Parameters[1].Value = id;
        long seq;
        string types;
        long geoCount;
        using (var reader = _deleteEntity.ExecuteReader())
        {
            if (!reader.Read())
            {
                return false;
            }

            seq = reader.GetInt64(0);
            types = reader.GetString(1);
            geoCount = reader.GetInt64(2);
        }

        foreach (var type in EntityIndex.ParseTypes(types))
        {
            SetType(_deleteType, tenant, type, seq);
        }

        _deleteAttrs.Parameters[0].Value = tenant;
        _deleteAttrs.Parameters[1].Value = seq;
        _deleteAttrs.ExecuteNonQuery();
        DeleteGeo(seq, geoCount);
        return true;
    }

    public void PutContext(StoredContextDocument document)
    {
        var p = _putContext.Parameters;
        p[0].Value = document.Id;
        p[1].Value = document.Kind;
        p[2].Value = document.Body;
        p[3].Value = document.CreatedAt.ToString("O", CultureInfo.InvariantCulture);
        _putContext.ExecuteNonQuery();
    }

    public bool DeleteContext(string id)
    {
        _deleteContext.Parameters[0].Value = id;
        return _deleteContext.ExecuteNonQuery() > 0;
    }

    public void Dispose()
    {
        _adHoc.Dispose();
        foreach (var command in _prepared)
        {
            command.Dispose();
        }

        _connection.Dispose();
    }

    private static void SetType(SqliteCommand command, long tenant, string type, long seq)
    {
        var p = command.Parameters;
        p[0].Value = tenant;
        p[1].Value = type;
        p[2].Value = seq;
        command.ExecuteNonQuery();
    }

    private static void SetAttr(SqliteCommand command, long tenant, long seq, string attribute, string attributeType)
    {
        var p = command.Parameters;
        p[0].Value = tenant;
        p[1].Value = seq;
        p[2].Value = attribute;
        p[3].Value = attributeType;
        command.ExecuteNonQuery();
    }

    private void InsertGeo(long tenant, long seq, EntityIndex index)
    {
        var p = _insertGeo.Parameters;
        for (var k = 0; k < index.Geo.Count; k++)
        {
            var g = index.Geo[k];
            p[0].Value = GeoRowId(seq, k);
            p[1].Value = g.MinX;
            p[2].Value = g.MaxX;
            p[3].Value = g.MinY;
            p[4].Value = g.MaxY;
            p[5].Value = tenant;
            p[6].Value = g.Property;
            _insertGeo.ExecuteNonQuery();
        }
    }

    private void DeleteGeo(long seq, long count)
    {
        for (var k = 0; k < count; k++)
        {
            _deleteGeo.Parameters[0].Value = GeoRowId(seq, k);
            _deleteGeo.ExecuteNonQuery();
        }
    }

    private static long GeoRowId(long seq, long k) => (seq << 16) | k;

    private SqliteCommand Prepare(string sql, params string[] parameters)
    {
        var command = _connection.CreateCommand();
        command.CommandText = sql;
        foreach (var name in parameters)
        {
            command.Parameters.Add(new SqliteParameter { ParameterName = name, Value = DBNull.Value });
        }

        command.Prepare();
        _prepared.Add(command);
        return command;
    }
}

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
    private readonly List<RawStatement> _prepared = [];
    private readonly Dictionary<string, RawStatement> _statementsBySql = new(StringComparer.Ordinal);

    // Committed tenants, shared with readers. Tenants made by the running group are kept apart until it commits.
    private readonly ConcurrentDictionary<string, long> _committedTenants;
    private readonly Dictionary<string, long> _groupTenants = new(StringComparer.Ordinal);
    private readonly List<string> _itemTenants = [];

    private readonly RawStatement _begin;
    private readonly RawStatement _commit;
    private readonly RawStatement _rollback;
    private readonly RawStatement _savepoint;
    private readonly RawStatement _release;
    private readonly RawStatement _rollbackTo;
    private readonly RawStatement _findTenant;
    private readonly RawStatement _insertTenant;
    private readonly RawStatement _getDoc;
    private readonly RawStatement _insertEntity;
    private readonly RawStatement _findForUpdate;
    private readonly RawStatement _updateEntity;
    private readonly RawStatement _deleteEntity;
    private readonly RawStatement _insertType;
    private readonly RawStatement _deleteType;
    private readonly RawStatement _insertAttr;
    private readonly RawStatement _deleteAttr;
    private readonly RawStatement _insertGeo;
    private readonly RawStatement _deleteGeo;
    private readonly RawStatement _putContext;
    private readonly RawStatement _deleteContext;

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

        // Parameters are bound by position (?1, ?2, …) in the order written here.
        _findTenant = Prepare("SELECT tid FROM tenants WHERE name = ?1");
        _insertTenant = Prepare("INSERT INTO tenants(name, created_at) VALUES (?1, ?2) RETURNING tid");
        _getDoc = Prepare("SELECT doc FROM entities WHERE tenant = ?1 AND id = ?2");
        _insertEntity = Prepare(
            "INSERT INTO entities(tenant, id, types, attrs, geo_count, geo, doc) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(tenant, id) DO NOTHING RETURNING seq");
        _findForUpdate = Prepare("SELECT seq, types, attrs, geo_count, geo FROM entities WHERE tenant = ?1 AND id = ?2");
        _updateEntity = Prepare("UPDATE entities SET types = ?1, attrs = ?2, geo_count = ?3, geo = ?4, doc = ?5 WHERE seq = ?6");
        _deleteEntity = Prepare("DELETE FROM entities WHERE tenant = ?1 AND id = ?2 RETURNING seq, types, attrs, geo_count");
        _insertType = Prepare("INSERT OR IGNORE INTO entity_types(tenant, type, entity) VALUES (?1, ?2, ?3)");
        _deleteType = Prepare("DELETE FROM entity_types WHERE tenant = ?1 AND type = ?2 AND entity = ?3");
        _insertAttr = Prepare("INSERT OR IGNORE INTO entity_attrs(tenant, attr, entity, attr_type) VALUES (?1, ?2, ?3, ?4)");
        _deleteAttr = Prepare("DELETE FROM entity_attrs WHERE tenant = ?1 AND attr = ?2 AND entity = ?3 AND attr_type = ?4");
        _insertGeo = Prepare("INSERT INTO entity_geo(id, min_x, max_x, min_y, max_y, tenant, prop) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
        _deleteGeo = Prepare("DELETE FROM entity_geo WHERE id = ?1");
        _putContext = Prepare(
            "INSERT INTO contexts(id, kind, body, created_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, body = excluded.body, created_at = excluded.created_at");
        _deleteContext = Prepare("DELETE FROM contexts WHERE id = ?1");
    }

    public SqliteCommand Command(string sql) => _adHoc.Get(sql);

    /// <summary>
    /// History keys of (tenant, entity, attribute) known to this connection, so that a write need not look its key
    /// up. Cleared whenever writes are undone, since the keys made by them are gone.
    /// </summary>
    public Dictionary<(long Tenant, string Entity, string Attribute), long> TemporalKeys { get; } = [];

    /// <summary>
    /// The prepared statement for <paramref name="sql"/>, made on first use and kept with this connection: for the
    /// hot statements of other features (the temporal history) that live outside this class.
    /// </summary>
    public RawStatement Statement(string sql)
    {
        if (!_statementsBySql.TryGetValue(sql, out var statement))
        {
            statement = Prepare(sql);
            _statementsBySql[sql] = statement;
        }

        return statement;
    }

    public void Begin()
    {
        _groupTenants.Clear();
        _begin.Execute();
    }

    public void Commit()
    {
        _commit.Execute();
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
        TemporalKeys.Clear();
        if (!InAutocommit)
        {
            _rollback.Execute();
        }
    }

    public void BeginItem()
    {
        _itemTenants.Clear();
        _savepoint.Execute();
    }

    public void EndItem() => _release.Execute();

    /// <summary>Undoes the current item's writes; false when the whole transaction is already gone.</summary>
    public bool UndoItem()
    {
        // A key made by the undone item is gone (and its number may be handed out again): forget them all.
        TemporalKeys.Clear();
        foreach (var name in _itemTenants)
        {
            _groupTenants.Remove(name);
        }

        _itemTenants.Clear();
        if (InAutocommit)
        {
            return false;
        }

        _rollbackTo.Execute();
        _release.Execute();
        return true;
    }

    /// <summary>The id of a tenant, creating it when allowed; NonexistentTenant otherwise.</summary>
    public long ResolveTenant(string name, bool create)
    {
        if (_committedTenants.TryGetValue(name, out var tid) || _groupTenants.TryGetValue(name, out tid))
        {
            return tid;
        }

        using (var found = _findTenant.Bind(1, name).Query())
        {
            if (found.Read())
            {
                // Not made by this group, so it is committed (by an earlier run or another process).
                tid = found.GetInt64(0);
                _committedTenants[name] = tid;
                return tid;
            }
        }

        if (!create)
        {
            throw new NgsiLdException(ErrorType.NonexistentTenant, $"The tenant '{name}' does not exist.");
        }

        var now = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
        using (var inserted = _insertTenant.Bind(1, name).Bind(2, now).Query())
        {
            inserted.Read();
            tid = inserted.GetInt64(0);
        }

        _groupTenants[name] = tid;
        _itemTenants.Add(name);
        return tid;
    }

    public JsonObject? GetEntity(long tenant, string id)
    {
        using var row = _getDoc.Bind(1, tenant).Bind(2, id).Query();
        return row.Read() ? EntityQueryExecutor.ParseDoc(row.GetUtf8(0)) : null;
    }

    public bool InsertEntity(long tenant, JsonObject entity)
    {
        var index = EntityIndex.Of(entity);
        long seq;
        using (var row = _insertEntity
            .Bind(1, tenant).Bind(2, index.Id).Bind(3, index.TypesJson).Bind(4, index.AttributesJson)
            .Bind(5, index.Geo.Count).Bind(6, index.GeoKey).BindUtf8(7, index.Doc)
            .Query())
        {
            if (!row.Read())
            {
                return false;
            }

            seq = row.GetInt64(0);
        }

        foreach (var type in index.Types)
        {
            _insertType.Bind(1, tenant).Bind(2, type).Bind(3, seq).Execute();
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
        long seq;
        string oldTypes;
        string oldAttrs;
        long oldGeoCount;
        string? oldGeo;
        using (var row = _findForUpdate.Bind(1, tenant).Bind(2, index.Id).Query())
        {
            if (!row.Read())
            {
                throw NgsiLdException.NotFound($"Entity '{index.Id}' does not exist, so it cannot be updated.");
            }

            seq = row.GetInt64(0);
            oldTypes = row.GetString(1);
            oldAttrs = row.GetString(2);
            oldGeoCount = row.GetInt64(3);
            oldGeo = row.GetStringOrNull(4);
        }

        _updateEntity
            .Bind(1, index.TypesJson).Bind(2, index.AttributesJson).Bind(3, index.Geo.Count).Bind(4, index.GeoKey).BindUtf8(5, index.Doc).Bind(6, seq)
            .Execute();

        if (!string.Equals(oldTypes, index.TypesJson, StringComparison.Ordinal))
        {
            foreach (var type in EntityIndex.ParseTypes(oldTypes))
            {
                _deleteType.Bind(1, tenant).Bind(2, type).Bind(3, seq).Execute();
            }

            foreach (var type in index.Types)
            {
                _insertType.Bind(1, tenant).Bind(2, type).Bind(3, seq).Execute();
            }
        }

        // Most updates change values, not the set of attributes: then the index is left alone, and
        // otherwise only the difference is written.
        if (!string.Equals(oldAttrs, index.AttributesJson, StringComparison.Ordinal))
        {
            var before = EntityIndex.ParsePairs(oldAttrs);
            var after = index.Attributes.ToHashSet();
            foreach (var pair in before)
            {
                if (!after.Remove(pair))
                {
                    SetAttr(_deleteAttr, tenant, seq, pair.Attribute, pair.AttributeType);
                }
            }

            // What is left in 'after' was not there before.
            foreach (var (attribute, attributeType) in after)
            {
                SetAttr(_insertAttr, tenant, seq, attribute, attributeType);
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
        long seq;
        string types;
        string attrs;
        long geoCount;
        using (var row = _deleteEntity.Bind(1, tenant).Bind(2, id).Query())
        {
            if (!row.Read())
            {
                return false;
            }

            seq = row.GetInt64(0);
            types = row.GetString(1);
            attrs = row.GetString(2);
            geoCount = row.GetInt64(3);
        }

        foreach (var type in EntityIndex.ParseTypes(types))
        {
            _deleteType.Bind(1, tenant).Bind(2, type).Bind(3, seq).Execute();
        }

        foreach (var (attribute, attributeType) in EntityIndex.ParsePairs(attrs))
        {
            SetAttr(_deleteAttr, tenant, seq, attribute, attributeType);
        }

        DeleteGeo(seq, geoCount);
        return true;
    }

    public void PutContext(StoredContextDocument document) =>
        _putContext
            .Bind(1, document.Id)
            .Bind(2, document.Kind)
            .Bind(3, document.Body)
            .Bind(4, document.CreatedAt.ToString("O", CultureInfo.InvariantCulture))
            .Execute();

    public bool DeleteContext(string id) => _deleteContext.Bind(1, id).Execute() > 0;

    public void Dispose()
    {
        _adHoc.Dispose();

        // Statements must be finalized before the connection closes, or SQLite keeps the file open.
        foreach (var statement in _prepared)
        {
            statement.Dispose();
        }

        _connection.Dispose();
    }

    private static void SetAttr(RawStatement statement, long tenant, long seq, string attribute, string attributeType) =>
        statement.Bind(1, tenant).Bind(2, attribute).Bind(3, seq).Bind(4, attributeType).Execute();

    private bool InAutocommit => SQLitePCL.raw.sqlite3_get_autocommit(_connection.Handle) != 0;

    private void InsertGeo(long tenant, long seq, EntityIndex index)
    {
        for (var k = 0; k < index.Geo.Count; k++)
        {
            var g = index.Geo[k];
            _insertGeo.Bind(1, GeoRowId(seq, k)).Bind(2, g.MinX).Bind(3, g.MaxX).Bind(4, g.MinY).Bind(5, g.MaxY).Bind(6, tenant).Bind(7, g.Property).Execute();
        }
    }

    private void DeleteGeo(long seq, long count)
    {
        for (var k = 0; k < count; k++)
        {
            _deleteGeo.Bind(1, GeoRowId(seq, k)).Execute();
        }
    }

    private static long GeoRowId(long seq, long k) => (seq << 16) | k;

    private RawStatement Prepare(string sql)
    {
        var statement = new RawStatement(_connection, sql);
        _prepared.Add(statement);
        return statement;
    }
}

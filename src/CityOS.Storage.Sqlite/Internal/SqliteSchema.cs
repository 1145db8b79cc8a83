using Microsoft.Data.Sqlite;

namespace CityOS.Storage.Sqlite.Internal;

/// <summary>
/// The database schema, versioned with <c>PRAGMA user_version</c>. Migrations run in order inside one
/// transaction at start-up; a database written by a newer CityOS is refused rather than guessed at.
/// </summary>
internal static class SqliteSchema
{
    /// <summary>The schema version this build writes.</summary>
    public const int CurrentVersion = 3;

    /// <summary>Tenant id of the default tenant (""), created by the first migration.</summary>
    public const long DefaultTenantId = 1;

    // Index i holds the step from version i to i + 1.
    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE tenants(
            tid INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL);
        INSERT INTO tenants(tid, name, created_at) VALUES (1, '', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));

        -- seq (the rowid) is the creation order. 'types' repeats the doc's type array and 'attrs' lists its
        -- [attribute, attribute type] pairs, so that type filters, attribute usage and index maintenance
        -- never parse the doc; geo_count/geo describe the entity's R-tree rows so that updates that leave
        -- the geometry alone do not touch the R-tree.
        CREATE TABLE entities(
            seq INTEGER PRIMARY KEY,
            tenant INTEGER NOT NULL,
            id TEXT NOT NULL,
            types TEXT NOT NULL,
            attrs TEXT NOT NULL,
            geo_count INTEGER NOT NULL,
            geo TEXT,
            doc TEXT NOT NULL,
            UNIQUE(tenant, id));

        -- Unfiltered queries walk one tenant in creation order without sorting or touching other tenants.
        CREATE INDEX entities_by_tenant ON entities(tenant, seq);

        CREATE TABLE entity_types(
            tenant INTEGER NOT NULL,
            type TEXT NOT NULL,
            entity INTEGER NOT NULL,
            PRIMARY KEY(tenant, type, entity)) WITHOUT ROWID;

        -- For attrs= filters; one b-tree only (an entity's rows are found through its attrs column).
        CREATE TABLE entity_attrs(
            tenant INTEGER NOT NULL,
            attr TEXT NOT NULL,
            entity INTEGER NOT NULL,
            attr_type TEXT NOT NULL,
            PRIMARY KEY(tenant, attr, entity, attr_type)) WITHOUT ROWID;

        -- One row per (entity, geo-property, instance): id = entity seq * 65536 + instance number.
        CREATE VIRTUAL TABLE entity_geo USING rtree(id, min_x, max_x, min_y, max_y, +tenant INTEGER, +prop TEXT);

        CREATE TABLE contexts(
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            body TEXT NOT NULL,
            created_at TEXT NOT NULL) WITHOUT ROWID;
        """,
        """
        -- NGSI-LD subscriptions: doc is the subscription as written with its @context; the counters are added to
        -- by the notifier (times as fixed-width UTC text, so that text order is time order).
        CREATE TABLE subscriptions(
            tenant TEXT NOT NULL,
            id TEXT NOT NULL,
            doc TEXT NOT NULL,
            created_at TEXT NOT NULL,
            modified_at TEXT NOT NULL,
            times_sent INTEGER NOT NULL DEFAULT 0,
            times_failed INTEGER NOT NULL DEFAULT 0,
            last_notification TEXT,
            last_success TEXT,
            last_failure TEXT,
            last_periodic TEXT,
            PRIMARY KEY(tenant, id)) WITHOUT ROWID;
        """,
        """
        -- Attribute history (temporal API). Each (tenant, entity, attribute) gets a small integer key, so that the
        -- instance index holds 8-byte keys instead of two IRIs: a 30-day window of a busy sensor is a scan of a few
        -- megabytes, not tens.
        CREATE TABLE temporal_attrs(
            key INTEGER PRIMARY KEY,
            tenant INTEGER NOT NULL,
            entity TEXT NOT NULL,
            attr TEXT NOT NULL,
            UNIQUE(tenant, entity, attr));

        -- One row per attribute instance, times in microseconds since the epoch. AUTOINCREMENT: iid is the
        -- instanceId clients hold, so it must never be reused after a delete.
        CREATE TABLE temporal_instances(
            iid INTEGER PRIMARY KEY AUTOINCREMENT,
            akey INTEGER NOT NULL,
            dataset TEXT,
            observed_at INTEGER,
            created_at INTEGER NOT NULL,
            modified_at INTEGER NOT NULL,
            deleted_at INTEGER,
            num REAL,
            doc TEXT NOT NULL);

        -- Windows and lastN on observedAt are range scans of one key; num, dataset and deleted_at ride along so
        -- that aggregation reads the index alone. Other time properties scan the key's entries.
        CREATE INDEX temporal_by_observed ON temporal_instances(akey, observed_at, num, dataset, deleted_at);

        -- The types of every entity with a history, so that its history renders after the entity is deleted.
        CREATE TABLE temporal_entities(
            tenant INTEGER NOT NULL,
            id TEXT NOT NULL,
            types TEXT NOT NULL,
            PRIMARY KEY(tenant, id)) WITHOUT ROWID;
        """,
    ];

    /// <summary>Brings the database to <see cref="CurrentVersion"/>.</summary>
    public static void Migrate(SqliteConnection connection, string path)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "BEGIN IMMEDIATE";
        command.ExecuteNonQuery();
        try
        {
            command.CommandText = "PRAGMA user_version";
            var version = Convert.ToInt32(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
            if (version > CurrentVersion)
            {
                throw new InvalidOperationException(
                    $"The database '{path}' has schema version {version}, newer than the {CurrentVersion} this CityOS supports; use a newer CityOS or another data directory.");
            }

            for (var step = version; step < CurrentVersion; step++)
            {
                command.CommandText = Migrations[step];
                command.ExecuteNonQuery();
            }

            // PRAGMA does not take parameters; the value is our own constant.
            command.CommandText = "PRAGMA user_version = " + CurrentVersion.ToString(System.Globalization.CultureInfo.InvariantCulture);
            command.ExecuteNonQuery();
            command.CommandText = "COMMIT";
            command.ExecuteNonQuery();
        }
        catch
        {
            command.CommandText = "ROLLBACK";
            command.ExecuteNonQuery();
            throw;
        }
    }
}

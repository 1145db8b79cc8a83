using Npgsql;

namespace CityOS.Storage.Postgres.Internal;

/// <summary>
/// Versioned schema migrations, applied in order at start-up. Every node runs them under one
/// transaction-scoped advisory lock, so two nodes starting together apply each version exactly once: the
/// second waits, then finds it applied. Tables go in the first schema of the connection's search path;
/// the extensions in <c>public</c> (they are per database, and every schema's indexes need them).
/// </summary>
internal static class PostgresSchema
{
    /// <summary>The advisory lock key of migrations ("CityOS" in ASCII); one per database, whatever the schema.</summary>
    private const long MigrationLock = 0x43_69_74_79_4F_53;

    /// <summary>Rows the back-fill of a migration reads and writes per statement.</summary>
    internal const int BackfillBatch = 1000;

    private static readonly (int Version, string Description, string Sql, Func<NpgsqlConnection, NpgsqlTransaction, CancellationToken, Task>? Step, string? SqlAfter)[] Migrations =
    [
        (1, "entities, tenants, geo boxes, hosted contexts", """
            CREATE EXTENSION IF NOT EXISTS postgis SCHEMA public;
            CREATE EXTENSION IF NOT EXISTS btree_gin SCHEMA public;
            CREATE EXTENSION IF NOT EXISTS btree_gist SCHEMA public;

            CREATE TABLE tenants (
                name text PRIMARY KEY COLLATE "C",
                created_at timestamptz NOT NULL DEFAULT now());
            INSERT INTO tenants (name) VALUES ('');

            -- seq is the creation order (a recreated entity gets a new one and goes last). doc is json, not
            -- jsonb: jsonb reorders keys and respells numbers, and responses must keep the stored form.
            CREATE TABLE entities (
                seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                tenant text NOT NULL COLLATE "C",
                id text NOT NULL COLLATE "C",
                types text[] NOT NULL,
                attr_names text[] NOT NULL,
                attrs jsonb NOT NULL,
                doc json NOT NULL,
                CONSTRAINT entities_tenant_id UNIQUE (tenant, id));
            CREATE INDEX entities_by_tenant ON entities (tenant, seq);
            CREATE INDEX entities_by_attr ON entities USING gin (tenant, attr_names);

            -- One row per entity type, read in creation order: a page of a large type is an ordered index
            -- scan that stops at the page's end (a GIN bitmap must fetch and sort the whole type first).
            CREATE TABLE entity_types (
                tenant text NOT NULL COLLATE "C",
                type text NOT NULL COLLATE "C",
                entity bigint NOT NULL REFERENCES entities (seq) ON DELETE CASCADE);
            CREATE INDEX entity_types_by_type ON entity_types (tenant, type, entity);
            CREATE INDEX entity_types_by_entity ON entity_types (entity);
            -- One box per geo-property instance; && on the GiST index finds the candidates of a geo-query.
            CREATE TABLE entity_geo (
                tenant text NOT NULL COLLATE "C",
                entity bigint NOT NULL REFERENCES entities (seq) ON DELETE CASCADE,
                prop text NOT NULL,
                box public.geometry NOT NULL);
            CREATE INDEX entity_geo_by_box ON entity_geo USING gist (tenant, box);
            CREATE INDEX entity_geo_by_entity ON entity_geo (entity);

            CREATE TABLE contexts (
                id text PRIMARY KEY COLLATE "C",
                kind text NOT NULL,
                body text NOT NULL,
                created_at text NOT NULL);
            """, null, null),
        (2, "q prefilter: attribute values (vals) with a GIN index", """
            -- vals: per attribute key, the scalars a q term on the bare attribute may compare with (see
            -- EntityRow.ValuesOf). Filled for the rows already stored by BackfillValuesAsync (in .NET, so
            -- that one definition serves writes and the back-fill), then required.
            ALTER TABLE entities ADD COLUMN vals jsonb;
            """, BackfillValuesAsync, """
            ALTER TABLE entities ALTER COLUMN vals SET NOT NULL;
            -- Equality (vals @> {"attr": [x]}) on any attribute; ranges are checked per row on the driver's rows.
            CREATE INDEX entities_by_vals ON entities USING gin (vals jsonb_path_ops);
            """),
        // The foreign keys cost one trigger and one row lock (with its WAL record) per type row and per geo box:
        // a third of the server time of a batch insert. The store writes those rows only together with their
        // entity row, in one statement, and deletes them together with it, so the keys guarded nothing it does.
        (3, "entity_types and entity_geo without foreign keys (the store deletes them with the entity)", """
            ALTER TABLE entity_types DROP CONSTRAINT IF EXISTS entity_types_entity_fkey;
            ALTER TABLE entity_geo DROP CONSTRAINT IF EXISTS entity_geo_entity_fkey;
            """, null, null),
        (4, "subscriptions", """
            -- NGSI-LD subscriptions: doc is the subscription as written with its @context; every node adds its
            -- notification counters (times as fixed-width UTC text, so that text order is time order).
            CREATE TABLE subscriptions (
                tenant text NOT NULL COLLATE "C",
                id text NOT NULL COLLATE "C",
                doc text NOT NULL,
                created_at text NOT NULL,
                modified_at text NOT NULL,
                times_sent bigint NOT NULL DEFAULT 0,
                times_failed bigint NOT NULL DEFAULT 0,
                last_notification text COLLATE "C",
                last_success text COLLATE "C",
                last_failure text COLLATE "C",
                last_periodic text COLLATE "C",
                PRIMARY KEY (tenant, id));
            """, null, null),
        (5, "attribute history (temporal API)", """
            -- Each (tenant, entity, attribute) gets a bigint key, so that the instance index holds 8-byte keys instead
            -- of two IRIs: a 30-day window of a busy sensor is a scan of a few megabytes, not tens.
            CREATE TABLE temporal_attrs (
                key bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                tenant text NOT NULL COLLATE "C",
                entity text NOT NULL COLLATE "C",
                attr text NOT NULL COLLATE "C",
                CONSTRAINT temporal_attrs_name UNIQUE (tenant, entity, attr));
            -- One row per attribute instance; times are microseconds since the epoch (bigint: the same numbers as the
            -- SQLite store, and bucketing for aggregation is integer arithmetic). iid is the instanceId.
            CREATE TABLE temporal_instances (
                iid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                akey bigint NOT NULL,
                dataset text COLLATE "C",
                observed_at bigint,
                created_at bigint NOT NULL,
                modified_at bigint NOT NULL,
                deleted_at bigint,
                num float8,
                doc text NOT NULL);
            -- Windows and lastN on observedAt are range scans of one key; aggregation reads the index alone (num,
            -- dataset, deleted_at included). Other time properties scan the key's entries.
            CREATE INDEX temporal_by_observed ON temporal_instances (akey, observed_at) INCLUDE (num, dataset, deleted_at);
            -- The types of every entity with a history, so that its history renders after the entity is deleted.
            CREATE TABLE temporal_entities (
                tenant text NOT NULL COLLATE "C",
                id text NOT NULL COLLATE "C",
                types text[] NOT NULL,
                PRIMARY KEY (tenant, id));
            """, null, null),
    ];

    /// <summary>How many migrations this build knows (a fresh database records each once).</summary>
    public static int MigrationCount => Migrations.Length;

    /// <summary>The newest schema version this build knows.</summary>
    public static int CurrentVersion => Migrations.Max(m => m.Version);

    /// <summary>Applies every missing migration; refuses a database migrated by a newer build.</summary>
    public static async Task MigrateAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, transaction, $"SELECT pg_advisory_xact_lock({MigrationLock})", cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(
            connection,
            transaction,
            "CREATE TABLE IF NOT EXISTS cityos_migrations (version int PRIMARY KEY, description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
            cancellationToken).ConfigureAwait(false);

        var applied = new HashSet<int>();
        await using (var command = new NpgsqlCommand("SELECT version FROM cityos_migrations", connection, transaction))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                applied.Add(reader.GetInt32(0));
            }
        }

        if (applied.Count > 0 && applied.Max() > CurrentVersion)
        {
            throw new InvalidOperationException(
                $"The database schema is at version {applied.Max()}, newer than this build knows ({CurrentVersion}); upgrade CityOS.");
        }

        foreach (var (version, description, sql, step, sqlAfter) in Migrations)
        {
            if (applied.Contains(version))
            {
                continue;
            }

            await ExecuteAsync(connection, transaction, sql, cancellationToken).ConfigureAwait(false);
            if (step is not null)
            {
                await step(connection, transaction, cancellationToken).ConfigureAwait(false);
            }

            if (sqlAfter is not null)
            {
                await ExecuteAsync(connection, transaction, sqlAfter, cancellationToken).ConfigureAwait(false);
            }

            await using var record = new NpgsqlCommand("INSERT INTO cityos_migrations (version, description) VALUES ($1, $2)", connection, transaction);
            record.Parameters.Add(new NpgsqlParameter<int> { TypedValue = version });
            record.Parameters.Add(new NpgsqlParameter<string> { TypedValue = description });
            await record.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Computes vals for every stored row, in creation order, a batch per round trip.</summary>
    private static async Task BackfillValuesAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        var after = long.MinValue;
        var seqs = new List<long>(BackfillBatch);
        var values = new List<string>(BackfillBatch);
        while (true)
        {
            seqs.Clear();
            values.Clear();
            await using (var read = new NpgsqlCommand("SELECT seq, doc FROM entities WHERE seq > $1 ORDER BY seq LIMIT $2", connection, transaction))
            {
                read.Parameters.Add(new NpgsqlParameter<long> { TypedValue = after });
                read.Parameters.Add(new NpgsqlParameter<int> { TypedValue = BackfillBatch });
                await using var reader = await read.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    seqs.Add(reader.GetInt64(0));
                    values.Add(EntityRow.ValuesOf(EntityRow.ParseDoc(reader.GetString(1))));
                }
            }

            if (seqs.Count == 0)
            {
                return;
            }

            await using (var write = new NpgsqlCommand(
                "UPDATE entities e SET vals = v.vals FROM unnest($1::bigint[], $2::jsonb[]) AS v(seq, vals) WHERE e.seq = v.seq",
                connection,
                transaction))
            {
                write.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [.. seqs] });
                write.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. values], NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Jsonb });
                await write.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            after = seqs[^1];
        }
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}

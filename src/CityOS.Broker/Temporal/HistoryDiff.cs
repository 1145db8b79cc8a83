using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CityOS.Broker.Changes;
using CityOS.Broker.Storage;
using CityOS.NgsiLd.Model;

namespace CityOS.Broker.Temporal;

/// <summary>
/// Which attribute instances an entity change adds to the history: every instance that is new or differs from the
/// one with the same datasetId before (a write re-stamps modifiedAt, so an update of an attribute always yields its
/// instance; untouched attributes compare equal and yield nothing), and a deletion instance (deletedAt) for every
/// instance that is gone, the whole entity's on deletion.
/// </summary>
public static class HistoryDiff
{
    // Members kept in columns, not in the stored instance text.
    private static readonly HashSet<string> ColumnMembers = new(StringComparer.Ordinal)
    {
        Names.CreatedAt, Names.ModifiedAt, Names.ObservedAt, Names.DatasetId, "instanceId", Names.DeletedAt,
    };

    /// <summary>Adds the rows and entity types <paramref name="change"/> yields.</summary>
    public static void Collect(EntityChange change, List<TemporalRow> rows, List<TemporalEntityTypes> types)
    {
        ArgumentNullException.ThrowIfNull(change);
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(types);
        var at = TemporalTime.ToMicros(change.At);
        var before = change.Before;
        var after = change.After;
        if (after is not null && (before is null || !JsonNode.DeepEquals(before[Names.Type], after[Names.Type])))
        {
            types.Add(new TemporalEntityTypes(change.EntityId, TypesOf(after)));
        }

        if (after is not null)
        {
            foreach (var (key, node) in after)
            {
                if (!Names.IsAttributeKey(key) || node is not JsonArray instances)
                {
                    continue;
                }

                var previous = before?[key] as JsonArray;
                foreach (var item in instances)
                {
                    if (item is not JsonObject instance)
                    {
                        continue;
                    }

                    var old = previous is null ? null : Instances.Find(previous, Instances.DatasetId(instance));
                    if (old is null || !JsonNode.DeepEquals(old, instance))
                    {
                        rows.Add(RowOf(change.EntityId, key, instance, at));
                    }
                }
            }
        }

        if (before is null)
        {
            return;
        }

        foreach (var (key, node) in before)
        {
            if (!Names.IsAttributeKey(key) || node is not JsonArray instances)
            {
                continue;
            }

            var current = after?[key] as JsonArray;
            foreach (var item in instances)
            {
                if (item is JsonObject instance && (current is null || Instances.Find(current, Instances.DatasetId(instance)) is null))
                {
                    rows.Add(DeletionOf(change.EntityId, key, instance, at));
                }
            }
        }
    }

    /// <summary>The history row of one instance as it stands (createdAt/modifiedAt default to <paramref name="at"/>).</summary>
    public static TemporalRow RowOf(string entityId, string attribute, JsonObject instance, long at)
    {
        ArgumentNullException.ThrowIfNull(instance);
        return new TemporalRow(
            entityId,
            attribute,
            Instances.DatasetId(instance),
            TemporalTime.Parse(instance[Names.ObservedAt]),
            TemporalTime.Parse(instance[Names.CreatedAt]) ?? at,
            TemporalTime.Parse(instance[Names.ModifiedAt]) ?? at,
            null,
            NumberOf(instance),
            Compact(instance));
    }

    /// <summary>The deletion row of an instance that is gone at <paramref name="at"/>: its content is the NGSI-LD Null.</summary>
    public static TemporalRow DeletionOf(string entityId, string attribute, JsonObject instance, long at)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var type = Instances.TypeOf(instance) ?? Names.Property;
        var member = Names.ContentMember(type) ?? Names.Value;
        JsonNode content = member switch
        {
            Names.LanguageMap => new JsonObject { ["@none"] = Names.NgsiLdNull },
            Names.ValueList or Names.ObjectList => new JsonArray(Names.NgsiLdNull),
            _ => JsonValue.Create(Names.NgsiLdNull),
        };
        var deleted = new JsonObject { [Names.Type] = type, [member] = content };
        return new TemporalRow(
            entityId,
            attribute,
            Instances.DatasetId(instance),
            null,
            TemporalTime.Parse(instance[Names.CreatedAt]) ?? at,
            at,
            at,
            null,
            deleted.ToJsonString());
    }

    /// <summary>The numeric reading of a Property for aggregation: a number, or a boolean as 1/0.</summary>
    public static double? NumberOf(JsonObject instance)
    {
        ArgumentNullException.ThrowIfNull(instance);
        if (Instances.TypeOf(instance) != Names.Property || instance[Names.Value] is not JsonValue value)
        {
            return null;
        }

        return value.GetValueKind() switch
        {
            JsonValueKind.Number => ToDouble(value),
            JsonValueKind.True => 1,
            JsonValueKind.False => 0,
            _ => null,
        };
    }

    // A parsed number converts to double directly; one built in code holds its CLR type (int, long, decimal …).
    private static double ToDouble(JsonValue value)
    {
        if (value.TryGetValue(out double d))
        {
            return d;
        }

        if (value.TryGetValue(out long l))
        {
            return l;
        }

        if (value.TryGetValue(out int i))
        {
            return i;
        }

        return value.TryGetValue(out decimal m)
            ? (double)m
            : double.Parse(value.ToJsonString(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The instance as compact JSON without the members kept in columns.</summary>
    public static string Compact(JsonObject instance)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var (key, node) in instance)
            {
                if (ColumnMembers.Contains(key))
                {
                    continue;
                }

                writer.WritePropertyName(key);
                if (node is null)
                {
                    writer.WriteNullValue();
                }
                else
                {
                    node.WriteTo(writer);
                }
            }

            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static string[] TypesOf(JsonObject entity) =>
        entity[Names.Type] is JsonArray array ? [.. array.Select(t => (string?)t).OfType<string>()] : [];
}

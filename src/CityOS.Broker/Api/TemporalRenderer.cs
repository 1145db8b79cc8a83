using System.Text.Json.Nodes;
using CityOS.Broker.Storage;
using CityOS.Broker.Temporal;
using CityOS.NgsiLd.JsonLd;
using CityOS.NgsiLd.Model;

namespace CityOS.Broker.Api;

/// <summary>
/// Renders temporal entities (§4.5.9): normalized (every instance a full attribute with instanceId), temporalValues
/// (§4.5.19: [content, time] pairs) or aggregatedValues (§4.5.18: [result, start, end] per method and period).
/// </summary>
internal static class TemporalRenderer
{
    public static JsonObject Render(TemporalEntity entity, TemporalRequest request, LdContext context) => request.Format switch
    {
        TemporalFormat.TemporalValues => RenderGrouped(entity, context, (attribute, group) => TemporalValues(attribute, group, request, context)),
        TemporalFormat.Aggregated => RenderAggregated(entity, request, context),
        _ => RenderNormalized(entity, request, context),
    };

    private static JsonObject RenderNormalized(TemporalEntity entity, TemporalRequest request, LdContext context)
    {
        // The instances in internal form under one pseudo-entity, so that the entity renderer compacts names, values
        // types and sub-attributes exactly as for current entities.
        var internalForm = Head(entity);
        foreach (var history in entity.Attributes)
        {
            var instances = new JsonArray();
            foreach (var stored in history.Instances)
            {
                instances.Add(InstanceOf(stored));
            }

            internalForm[history.Attribute] = instances;
        }

        var output = EntityRenderer.Render(internalForm, context, new RenderOptions { SysAttrs = request.SysAttrs });
        foreach (var history in entity.Attributes)
        {
            // deletedAt is part of a deletion instance whatever sysAttrs says.
            var rendered = output[context.CompactIri(history.Attribute)];
            for (var i = 0; i < history.Instances.Count; i++)
            {
                if (history.Instances[i].DeletedAt is { } deleted
                    && (rendered is JsonArray array ? array[i] : rendered) is JsonObject instance)
                {
                    instance[Names.DeletedAt] = TemporalTime.Format(deleted);
                }
            }
        }

        return output;
    }

    private static JsonObject InstanceOf(StoredInstance stored)
    {
        var instance = JsonNode.Parse(stored.Instance)!.AsObject();
        instance["instanceId"] = TemporalIds.Format(stored.InstanceId);
        if (stored.DatasetId is not null)
        {
            instance[Names.DatasetId] = stored.DatasetId;
        }

        if (stored.ObservedAt is { } observed)
        {
            instance[Names.ObservedAt] = TemporalTime.Format(observed);
        }

        instance[Names.CreatedAt] = TemporalTime.Format(stored.CreatedAt);
        instance[Names.ModifiedAt] = TemporalTime.Format(stored.ModifiedAt);
        if (stored.DeletedAt is { } deleted)
        {
            instance[Names.DeletedAt] = TemporalTime.Format(deleted);
        }

        return instance;
    }

    private static JsonObject Head(TemporalEntity entity)
    {
        var types = new JsonArray();
        foreach (var type in entity.Types)
        {
            types.Add(type);
        }

        return new JsonObject { [Names.Id] = entity.Id, [Names.Type] = types };
    }

    // One member per attribute: an object for a single datasetId, an array of objects (each with datasetId) otherwise.
    private static JsonObject RenderGrouped(TemporalEntity entity, LdContext context, Func<AttributeHistory, IGrouping<string?, StoredInstance>, JsonObject> render)
    {
        var output = EntityRenderer.Render(Head(entity), context, RenderOptions.Default);
        foreach (var history in entity.Attributes)
        {
            var groups = history.Instances.GroupBy(i => i.DatasetId).Select(g => render(history, g)).ToList();
            output[context.CompactIri(history.Attribute)] = groups.Count == 1 ? groups[0] : new JsonArray([.. groups]);
        }

        return output;
    }

    private static JsonObject TemporalValues(AttributeHistory history, IGrouping<string?, StoredInstance> group, TemporalRequest request, LdContext context)
    {
        string? type = null;
        var pairs = new JsonArray();
        var member = "values";
        foreach (var stored in group)
        {
            var instance = JsonNode.Parse(stored.Instance)!.AsObject();
            type ??= Instances.TypeOf(instance) ?? Names.Property;
            var (name, content) = Content(instance, type, context);
            member = name;
            var time = stored.TimeOf(request.Window.Property) ?? stored.ModifiedAt;
            pairs.Add(new JsonArray(content, TemporalTime.Format(time)));
        }

        var output = new JsonObject { [Names.Type] = type ?? Names.Property };
        if (group.Key is not null)
        {
            output[Names.DatasetId] = group.Key;
        }

        output[member] = pairs;
        return output;
    }

    private static (string Member, JsonNode? Content) Content(JsonObject instance, string type, LdContext context) => type switch
    {
        Names.Relationship => ("objects", instance[Names.Object]?.DeepClone()),
        Names.LanguageProperty => ("languageMaps", new JsonObject { [Names.LanguageMap] = instance[Names.LanguageMap]?.DeepClone() }),
        Names.VocabProperty => ("vocabs", instance[Names.Vocab] is JsonValue v && v.TryGetValue(out string? term) ? context.CompactVocabValue(term) : instance[Names.Vocab]?.DeepClone()),
        Names.JsonProperty => ("jsons", instance[Names.Json]?.DeepClone()),
        Names.ListProperty => ("valueLists", instance[Names.ValueList]?.DeepClone()),
        Names.ListRelationship => ("objectLists", instance[Names.ObjectList]?.DeepClone()),
        _ => ("values", instance[Names.Value]?.DeepClone()),
    };

    private static JsonObject RenderAggregated(TemporalEntity entity, TemporalRequest request, LdContext context)
    {
        var output = EntityRenderer.Render(Head(entity), context, RenderOptions.Default);
        var period = request.AggregationPeriod;
        var origin = request.Window.From ?? 0;
        foreach (var history in entity.Attributes)
        {
            var type = history.Instances.Count > 0 ? Instances.TypeOf(JsonNode.Parse(history.Instances[0].Instance)!.AsObject()) ?? Names.Property : Names.Property;
            var groups = new List<JsonObject>();
            foreach (var group in (history.Buckets ?? []).GroupBy(b => b.DatasetId))
            {
                var attribute = new JsonObject { [Names.Type] = type };
                if (group.Key is not null)
                {
                    attribute[Names.DatasetId] = group.Key;
                }

                foreach (var method in request.AggregationMethods)
                {
                    var results = new JsonArray();
                    foreach (var bucket in group)
                    {
                        if (Result(method, bucket) is not { } value)
                        {
                            continue;
                        }

                        var (start, end) = period > 0
                            ? (origin + (bucket.Bucket * period), origin + ((bucket.Bucket + 1) * period))
                            : (request.Window.From ?? bucket.First, request.Window.To ?? bucket.Last);
                        results.Add(new JsonArray(value, TemporalTime.Format(start), TemporalTime.Format(end)));
                    }

                    attribute[method] = results;
                }

                groups.Add(attribute);
            }

            output[context.CompactIri(history.Attribute)] = groups.Count == 1 ? groups[0] : new JsonArray([.. groups]);
        }

        return output;
    }

    /// <summary>One method's result for a bucket; null when it does not apply (no numeric instance for a numeric method).</summary>
    internal static JsonNode? Result(string method, AggregateBucket bucket)
    {
        var n = bucket.NumericCount;
        return method switch
        {
            "totalCount" => bucket.Count,
            "distinctCount" => bucket.DistinctCount,
            _ when n == 0 => null,
            "sum" => bucket.Sum,
            "avg" => bucket.Sum / n,
            "min" => bucket.Min,
            "max" => bucket.Max,
            "sumsq" => bucket.SumOfSquares,
            // The sample standard deviation (as PostgreSQL's stddev); a single value deviates by 0.
            "stddev" => n > 1 ? Math.Sqrt(Math.Max(0, (bucket.SumOfSquares - (bucket.Sum * bucket.Sum / n)) / (n - 1))) : 0.0,
            _ => null,
        };
    }
}

using System.Text.Json.Nodes;

namespace CityOS.NgsiLd.Model;

/// <summary>
/// The update semantics of the entity API on the internal form (§5.6, FACTS §4): append, update, merge and
/// partial attribute update. Each operation works on a copy of the entity and reports what it changed;
/// createdAt is kept on what already existed and modifiedAt is set on what was written and on the entity.
/// Fragments come from <see cref="EntityParser"/> with <see cref="PayloadKind.Fragment"/>; an instance whose
/// content member is the NGSI-LD Null deletes the matching instance.
/// </summary>
public static class EntityMerge
{
    private enum Mode
    {
        Append,
        AppendNoOverwrite,
        UpdateExisting,
        Merge,
    }

    /// <summary>
    /// POST /entities/{id}/attrs: adds each attribute instance of the fragment, replacing whole the instance with
    /// the same datasetId; with <paramref name="noOverwrite"/> existing instances are kept and reported as notUpdated
    /// (and scopes are appended instead of replaced).
    /// </summary>
    public static EntityUpdate Append(JsonObject entity, JsonObject fragment, bool noOverwrite, DateTimeOffset now) =>
        Apply(entity, fragment, now, noOverwrite ? Mode.AppendNoOverwrite : Mode.Append, keyValues: false);

    /// <summary>
    /// PATCH /entities/{id}/attrs: replaces whole only the attribute instances that already exist; the others are
    /// reported as notUpdated.
    /// </summary>
    public static EntityUpdate UpdateExisting(JsonObject entity, JsonObject fragment, DateTimeOffset now) =>
        Apply(entity, fragment, now, Mode.UpdateExisting, keyValues: false);

    /// <summary>
    /// PATCH /entities/{id}: deep merge. Instances are merged member-wise, sub-attributes recursively, JSON object
    /// values of Properties and languageMaps key-wise (RFC 7396 style, the NGSI-LD Null removing a key); the
    /// NGSI-LD Null deletes an attribute instance or sub-attribute; types are added; scope is replaced.
    /// With <paramref name="keyValues"/> (simplified input) a value sent for an attribute stored with another type
    /// keeps the stored type where the value fits it (e.g. a URI for a Relationship).
    /// </summary>
    public static EntityUpdate Merge(JsonObject entity, JsonObject fragment, DateTimeOffset now, bool keyValues = false) =>
        Apply(entity, fragment, now, Mode.Merge, keyValues);

    /// <summary>
    /// PUT /entities/{id}: the replacement's attributes, types and scopes take the place of the entity's; the
    /// entity keeps its createdAt. Everything in the replacement is stamped as written now.
    /// </summary>
    public static JsonObject Replace(JsonObject entity, JsonObject replacement, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(entity);
        ArgumentNullException.ThrowIfNull(replacement);
        var result = (JsonObject)replacement.DeepClone();
        Timestamps.Stamp(result, now);
        if (entity[Names.CreatedAt] is { } created)
        {
            result[Names.CreatedAt] = created.DeepClone();
        }

        return result;
    }

    /// <summary>
    /// PATCH /entities/{id}/attrs/{attrId}: overwrites only the members sent, in the instance with the same
    /// datasetId. Returns false, with no update, when the attribute or one of the targeted instances does not
    /// exist (404).
    /// </summary>
    public static bool PartialAttributeUpdate(JsonObject entity, string attributeIri, JsonArray instancesFragment, DateTimeOffset now, out EntityUpdate? update)
    {
        ArgumentNullException.ThrowIfNull(entity);
        ArgumentNullException.ThrowIfNull(attributeIri);
        ArgumentNullException.ThrowIfNull(instancesFragment);
        update = null;
        if (entity[attributeIri] is not JsonArray stored)
        {
            return false;
        }

        foreach (var item in instancesFragment)
        {
            if (item is not JsonObject patch || Instances.IndexOf(stored, Instances.DatasetId(patch)) < 0)
            {
                return false;
            }
        }

        var result = (JsonObject)entity.DeepClone();
        var instances = (JsonArray)result[attributeIri]!;
        var stamp = Timestamps.Format(now);
        foreach (var item in instancesFragment)
        {
            var patch = (JsonObject)item!;
            var index = Instances.IndexOf(instances, Instances.DatasetId(patch));
            if (Instances.IsNgsiLdNull(patch))
            {
                instances.RemoveAt(index);
                continue;
            }

            var target = (JsonObject)instances[index]!;
            ChangeTypeIfSent(target, patch);
            foreach (var (key, node) in patch)
            {
                if (key is Names.Type or Names.CreatedAt or Names.ModifiedAt or Names.DatasetId || node is null)
                {
                    continue;
                }

                var previous = target[key];
                var copy = node.DeepClone();
                target[key] = copy;
                if (Names.IsAttributeKey(key) && copy is JsonArray subInstances)
                {
                    // A sub-attribute sent is replaced whole.
                    CleanInstances(subInstances);
                    StampNewInstances(subInstances, stamp, previous as JsonArray);
                    if (subInstances.Count == 0)
                    {
                        target.Remove(key);
                    }
                }
            }

            target[Names.ModifiedAt] = stamp;
        }

        var deleted = instances.Count == 0;
        if (deleted)
        {
            result.Remove(attributeIri);
        }

        result[Names.ModifiedAt] = stamp;
        update = new EntityUpdate(result);
        update.AddUpdated(attributeIri, created: false, deleted, !SameContent(entity[attributeIri], result[attributeIri]));
        return true;
    }

    private static EntityUpdate Apply(JsonObject entity, JsonObject fragment, DateTimeOffset now, Mode mode, bool keyValues)
    {
        ArgumentNullException.ThrowIfNull(entity);
        ArgumentNullException.ThrowIfNull(fragment);
        var result = (JsonObject)entity.DeepClone();
        var update = new EntityUpdate(result);
        var stamp = Timestamps.Format(now);
        foreach (var (key, node) in fragment)
        {
            if (key == Names.Type)
            {
                update.TypesChanged = AddTypes(result, node as JsonArray);
            }
            else if (key == Names.Scope)
            {
                update.ScopeChanged = ApplyScopes(result, node as JsonArray, append: mode == Mode.AppendNoOverwrite);
            }
            else if (key == Names.ExpiresAt && node is not null && (mode != Mode.AppendNoOverwrite || !result.ContainsKey(key)))
            {
                result[key] = node.DeepClone();
                update.ExpiresAtChanged = true;
            }
            else if (Names.IsAttributeKey(key) && node is JsonArray instances)
            {
                ApplyAttribute(entity, result, key, instances, mode, keyValues, stamp, update);
            }
        }

        if (update.Changed)
        {
            result[Names.ModifiedAt] = stamp;
        }

        return update;
    }

    private static void ApplyAttribute(JsonObject original, JsonObject result, string key, JsonArray patches, Mode mode, bool keyValues, string stamp, EntityUpdate update)
    {
        var existing = result[key] as JsonArray;
        var existed = existing is { Count: > 0 };
        var written = false;
        string? reason = null;
        foreach (var item in patches)
        {
            if (item is not JsonObject patch)
            {
                continue;
            }

            var index = existing is null ? -1 : Instances.IndexOf(existing, Instances.DatasetId(patch));
            if (Instances.IsNgsiLdNull(patch))
            {
                if (index >= 0)
                {
                    existing!.RemoveAt(index);
                    written = true;
                }
                else
                {
                    reason ??= "There is no such attribute instance to delete.";
                }

                continue;
            }

            if (index >= 0)
            {
                if (mode == Mode.AppendNoOverwrite)
                {
                    reason ??= "The attribute exists and noOverwrite was requested.";
                    continue;
                }

                var old = (JsonObject)existing![index]!;
                if (mode == Mode.Merge)
                {
                    MergeInstance(old, patch, stamp, keyValues);
                }
                else
                {
                    existing[index] = NewInstance(patch, stamp, old);
                }

                written = true;
                continue;
            }

            if (mode == Mode.UpdateExisting)
            {
                reason ??= "The attribute does not exist.";
                continue;
            }

            if (existing is null)
            {
                existing = [];
                result[key] = existing;
            }

            existing.Add(NewInstance(patch, stamp, null));
            written = true;
        }

        if (existing is { Count: 0 })
        {
            result.Remove(key);
        }

        if (written)
        {
            update.AddUpdated(key, created: !existed && result.ContainsKey(key), deleted: existed && !result.ContainsKey(key), !SameContent(original[key], result[key]));
        }
        else if (reason is not null)
        {
            update.AddNotUpdated(key, reason);
        }
    }

    // A fragment instance made ready for storage: Nulls inside it removed, timestamps set.
    private static JsonObject NewInstance(JsonObject patch, string stamp, JsonObject? previous)
    {
        var instance = (JsonObject)patch.DeepClone();
        CleanInstance(instance);
        Timestamps.StampInstance(instance, stamp, previous);
        return instance;
    }

    private static void StampNewInstances(JsonArray instances, string stamp, JsonArray? previous)
    {
        foreach (var item in instances)
        {
            if (item is JsonObject instance)
            {
                var old = previous is null ? null : Instances.Find(previous, Instances.DatasetId(instance));
                Timestamps.StampInstance(instance, stamp, old);
            }
        }
    }

    private static void MergeInstance(JsonObject target, JsonObject patch, string stamp, bool keyValues)
    {
        var targetType = Instances.TypeOf(target);
        if (keyValues && targetType is not null && Instances.TypeOf(patch) == Names.Property && targetType != Names.Property
            && ConvertSimplified(targetType, patch[Names.Value]) is { } converted)
        {
            // options=keyValues cannot say the type, so the stored one stands when the value fits it.
            target[Names.ContentMember(targetType)!] = converted;
            target[Names.ModifiedAt] = stamp;
            return;
        }

        ChangeTypeIfSent(target, patch);
        foreach (var (key, node) in patch)
        {
            if (key is Names.Type or Names.CreatedAt or Names.ModifiedAt or Names.DatasetId || node is null)
            {
                continue;
            }

            if (Names.IsAttributeKey(key))
            {
                if (node is JsonArray subPatches)
                {
                    MergeSubAttribute(target, key, subPatches, stamp, keyValues);
                }

                continue;
            }

            var current = target[key];
            if ((key == Names.Value && Instances.TypeOf(target) == Names.Property) || key == Names.LanguageMap)
            {
                target[key] = current is JsonObject && node is JsonObject ? MergePatch(current, node) : Clean(node.DeepClone());
            }
            else
            {
                target[key] = node.DeepClone();
            }
        }

        target[Names.ModifiedAt] = stamp;
    }

    private static void MergeSubAttribute(JsonObject target, string key, JsonArray patches, string stamp, bool keyValues)
    {
        var existing = target[key] as JsonArray;
        foreach (var item in patches)
        {
            if (item is not JsonObject patch)
            {
                continue;
            }

            var index = existing is null ? -1 : Instances.IndexOf(existing, Instances.DatasetId(patch));
            if (Instances.IsNgsiLdNull(patch))
            {
                if (index >= 0)
                {
                    existing!.RemoveAt(index);
                }
            }
            else if (index >= 0)
            {
                MergeInstance((JsonObject)existing![index]!, patch, stamp, keyValues);
            }
            else
            {
                if (existing is null)
                {
                    existing = [];
                    target[key] = existing;
                }

                existing.Add(NewInstance(patch, stamp, null));
            }
        }

        if (existing is { Count: 0 })
        {
            target.Remove(key);
        }
    }

    // A type sent with its content member changes the attribute's kind; the old content member goes.
    private static void ChangeTypeIfSent(JsonObject target, JsonObject patch)
    {
        var oldType = Instances.TypeOf(target);
        var newType = Instances.TypeOf(patch);
        if (newType is null || newType == oldType || Names.ContentMember(newType) is not { } member || !patch.ContainsKey(member))
        {
            return;
        }

        if (oldType is not null && Names.ContentMember(oldType) is { } oldMember && oldMember != member)
        {
            target.Remove(oldMember);
        }

        target.Remove(Names.ValueType);
        target.Remove(Names.ObjectType);
        target[Names.Type] = newType;
        // A Property whose value was a JSON object must not be merged key-wise into its successor's value.
        target.Remove(member);
    }

    private static JsonNode? ConvertSimplified(string targetType, JsonNode? value)
    {
        switch (targetType)
        {
            case Names.Relationship when EntityParser.TryGetString(value, out var uri) && NameRules.IsUri(uri):
                return uri;
            case Names.ListProperty when value is JsonArray list:
                return list.DeepClone();
            case Names.ListRelationship when value is JsonArray uris:
                var objects = new JsonArray();
                foreach (var item in uris)
                {
                    if (!EntityParser.TryGetString(item, out var target) || !NameRules.IsUri(target))
                    {
                        return null;
                    }

                    objects.Add(new JsonObject { [Names.Object] = target });
                }

                return objects;
            case Names.LanguageProperty when EntityParser.TryGetString(value, out var text):
                return new JsonObject { ["@none"] = text };
            default:
                return null;
        }
    }

    /// <summary>RFC 7396 merge of JSON values where the NGSI-LD Null (not JSON null) removes a key.</summary>
    private static JsonNode? MergePatch(JsonNode? target, JsonNode patch)
    {
        if (patch is not JsonObject patchObject)
        {
            return Clean(patch.DeepClone());
        }

        var result = target is JsonObject t ? (JsonObject)t.DeepClone() : [];
        foreach (var (key, node) in patchObject)
        {
            if (node is null || Instances.IsNullString(node))
            {
                result.Remove(key);
            }
            else
            {
                result[key] = MergePatch(result[key], node);
            }
        }

        return result;
    }

    // Removes NGSI-LD Nulls meant as deletions from a JSON value about to be stored in full.
    private static JsonNode Clean(JsonNode node)
    {
        if (node is JsonObject obj)
        {
            List<string>? doomed = null;
            foreach (var (key, member) in obj)
            {
                if (Instances.IsNullString(member))
                {
                    (doomed ??= []).Add(key);
                }
                else if (member is JsonObject)
                {
                    Clean(member);
                }
            }

            if (doomed is not null)
            {
                foreach (var key in doomed)
                {
                    obj.Remove(key);
                }
            }
        }

        return node;
    }

    private static void CleanInstance(JsonObject instance)
    {
        if (Instances.TypeOf(instance) == Names.Property && instance[Names.Value] is JsonObject value)
        {
            Clean(value);
        }

        if (instance[Names.LanguageMap] is JsonObject map)
        {
            Clean(map);
        }

        List<string>? emptied = null;
        foreach (var (key, node) in instance)
        {
            if (Names.IsAttributeKey(key) && node is JsonArray subInstances)
            {
                CleanInstances(subInstances);
                if (subInstances.Count == 0)
                {
                    (emptied ??= []).Add(key);
                }
            }
        }

        if (emptied is not null)
        {
            foreach (var key in emptied)
            {
                instance.Remove(key);
            }
        }
    }

    private static void CleanInstances(JsonArray instances)
    {
        for (var i = instances.Count - 1; i >= 0; i--)
        {
            if (instances[i] is not JsonObject instance || Instances.IsNgsiLdNull(instance))
            {
                instances.RemoveAt(i);
            }
            else
            {
                CleanInstance(instance);
            }
        }
    }

    /// <summary>Deep equality that ignores the system timestamps createdAt and modifiedAt at every level.</summary>
    internal static bool SameContent(JsonNode? a, JsonNode? b)
    {
        switch (a)
        {
            case JsonObject x when b is JsonObject y:
                var countX = 0;
                foreach (var (key, node) in x)
                {
                    if (key is Names.CreatedAt or Names.ModifiedAt)
                    {
                        continue;
                    }

                    countX++;
                    if (!y.TryGetPropertyValue(key, out var other) || !SameContent(node, other))
                    {
                        return false;
                    }
                }

                var countY = 0;
                foreach (var (key, _) in y)
                {
                    if (key is not (Names.CreatedAt or Names.ModifiedAt))
                    {
                        countY++;
                    }
                }

                return countX == countY;
            case JsonArray x when b is JsonArray y:
                if (x.Count != y.Count)
                {
                    return false;
                }

                for (var i = 0; i < x.Count; i++)
                {
                    if (!SameContent(x[i], y[i]))
                    {
                        return false;
                    }
                }

                return true;
            default:
                return JsonNode.DeepEquals(a, b);
        }
    }

    private static bool AddTypes(JsonObject result, JsonArray? types)
    {
        if (types is null)
        {
            return false;
        }

        if (result[Names.Type] is not JsonArray current)
        {
            result[Names.Type] = types.DeepClone();
            return types.Count > 0;
        }

        var added = false;
        foreach (var item in types)
        {
            if (EntityParser.TryGetString(item, out var type) && !ContainsString(current, type))
            {
                current.Add(type);
                added = true;
            }
        }

        return added;
    }

    private static bool ApplyScopes(JsonObject result, JsonArray? scopes, bool append)
    {
        if (scopes is null)
        {
            return false;
        }

        if (scopes.Count == 1 && Instances.IsNullString(scopes[0]))
        {
            return result.Remove(Names.Scope);
        }

        if (!append || result[Names.Scope] is not JsonArray current)
        {
            var changed = result[Names.Scope] is not JsonNode old || !JsonNode.DeepEquals(old, scopes);
            result[Names.Scope] = scopes.DeepClone();
            return changed;
        }

        var added = false;
        foreach (var item in scopes)
        {
            if (EntityParser.TryGetString(item, out var scope) && !ContainsString(current, scope))
            {
                current.Add(scope);
                added = true;
            }
        }

        return added;
    }

    private static bool ContainsString(JsonArray array, string text)
    {
        foreach (var item in array)
        {
            if (EntityParser.TryGetString(item, out var s) && s == text)
            {
                return true;
            }
        }

        return false;
    }
}

using System.Text.Json.Nodes;
using CityOS.NgsiLd.JsonLd;

namespace CityOS.NgsiLd.Model;

/// <summary>What kind of payload is being parsed; decides which members are required or allowed.</summary>
public enum PayloadKind
{
    /// <summary>A whole entity (create, replace, batch create/upsert): id and type required, NGSI-LD Null forbidden.</summary>
    Entity,

    /// <summary>An update fragment (append, update attrs, merge, batch update/merge): id/type optional, NGSI-LD Null allowed.</summary>
    Fragment,
}

/// <summary>
/// Turns request bodies (normalized, concise or keyValues input) into the internal expanded form, with
/// full validation: every error is an <see cref="Errors.NgsiLdException"/> of type BadRequestData.
/// STUB: replaced by the entity-model work (issue #2).
/// </summary>
public static class EntityParser
{
    /// <summary>
    /// Parses an entity or fragment. The body's own "@context" member, if any, has already been used to
    /// build <paramref name="context"/> and is ignored here. The result has no system timestamps.
    /// With <paramref name="keyValues"/>, attribute values are simplified (options=keyValues on input).
    /// </summary>
    public static JsonObject Parse(JsonObject body, LdContext context, PayloadKind kind, bool keyValues = false) =>
        throw new NotSupportedException("entity parsing not implemented yet");

    /// <summary>
    /// Parses the body of PUT/PATCH /entities/{id}/attrs/{attrId}: one attribute (object, or array of
    /// instances), returned as a JsonArray of instances in internal form.
    /// </summary>
    public static JsonArray ParseAttribute(string attributeIri, JsonNode body, LdContext context, PayloadKind kind) =>
        throw new NotSupportedException("attribute parsing not implemented yet");

    /// <summary>Validates an entity id (an absolute URI, §4.5.1). Throws BadRequestData otherwise.</summary>
    public static void ValidateEntityId(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        if (!Uri.TryCreate(id, UriKind.Absolute, out _))
        {
            throw Errors.NgsiLdException.BadRequest($"Entity id '{id}' is not a URI.");
        }
    }
}

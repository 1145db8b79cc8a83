using System.Text.Json.Nodes;
using CityOS.NgsiLd.JsonLd;

namespace CityOS.NgsiLd.Query;

/// <summary>A parsed NGSI-LD q expression (§4.9), evaluated against the internal entity form.</summary>
public abstract record QExpression
{
    /// <summary>True when the entity (internal expanded form) satisfies the expression.</summary>
    public abstract bool Matches(JsonObject entity);
}

/// <summary>Parses q expressions. STUB: replaced by the q-language work (issue #2).</summary>
public static class QParser
{
    /// <summary>Parses <paramref name="q"/>, expanding attribute paths with <paramref name="context"/>.</summary>
    public static QExpression Parse(string q, LdContext context) =>
        throw new NotSupportedException("q-language not implemented yet");
}

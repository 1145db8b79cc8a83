using System.Text.Json.Nodes;

namespace CityOS.NgsiLd.JsonLd;

/// <summary>Turns a request's @context (from the Link header or the body) into an <see cref="LdContext"/>.</summary>
public interface IContextResolver
{
    /// <summary>
    /// Resolves a @context value: a URL string, an inline object, or an array of both; null means the
    /// core context alone. Remote URLs are fetched with a timeout and cached; the core context URLs are
    /// answered offline. Fails with LdContextNotAvailable (remote failure) or BadRequestData (invalid).
    /// </summary>
    ValueTask<LdContext> ResolveAsync(JsonNode? context, CancellationToken cancellationToken);
}

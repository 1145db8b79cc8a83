using System.Collections.Frozen;
using System.Text.Json.Nodes;

namespace CityOS.NgsiLd.JsonLd;

/// <summary>The versions of the embedded NGSI-LD core context; ordered so that the newest compares highest.</summary>
internal enum CoreVersion
{
    V1_3 = 3,
    V1_4 = 4,
    V1_9 = 9,
}

/// <summary>
/// The NGSI-LD core contexts, embedded so the broker never fetches them (FACTS §11 #9: brokers that tried
/// could not start offline). Each version is processed once, on first use.
/// </summary>
internal static class CoreContexts
{
    /// <summary>The core context URL the broker advertises when a request named none.</summary>
    public const string DefaultUrl = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld";

    /// <summary>The default vocabulary of NGSI-LD: where unmapped terms land.</summary>
    public const string DefaultVocab = "https://uri.etsi.org/ngsi-ld/default-context/";

    private const string UrlStem = "uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context";

    private static readonly Lazy<CoreDefinitions> s_v13 = new(() => Load(CoreVersion.V1_3));
    private static readonly Lazy<CoreDefinitions> s_v14 = new(() => Load(CoreVersion.V1_4));
    private static readonly Lazy<CoreDefinitions> s_v19 = new(() => Load(CoreVersion.V1_9));

    /// <summary>
    /// Recognises a core context URL (http or https, unversioned or v1.3 … v1.9) and tells which embedded
    /// file answers it: v1.5 … v1.9 and the unversioned URL share the v1.9 file, whose terms are a superset.
    /// </summary>
    public static bool TryGetVersion(string url, out CoreVersion version)
    {
        version = CoreVersion.V1_9;
        ReadOnlySpan<char> rest;
        if (url.StartsWith("https://", StringComparison.Ordinal))
        {
            rest = url.AsSpan(8);
        }
        else if (url.StartsWith("http://", StringComparison.Ordinal))
        {
            rest = url.AsSpan(7);
        }
        else
        {
            return false;
        }

        if (!rest.StartsWith(UrlStem, StringComparison.Ordinal))
        {
            return false;
        }

        rest = rest[UrlStem.Length..];
        if (rest.SequenceEqual(".jsonld"))
        {
            return true;
        }

        if (rest.Length != "-v1.N.jsonld".Length || !rest.StartsWith("-v1.", StringComparison.Ordinal) || !rest.EndsWith(".jsonld", StringComparison.Ordinal))
        {
            return false;
        }

        switch (rest[4])
        {
            case '3':
                version = CoreVersion.V1_3;
                return true;
            case '4':
                version = CoreVersion.V1_4;
                return true;
            case >= '5' and <= '9':
                version = CoreVersion.V1_9;
                return true;
            default:
                return false;
        }
    }

    public static CoreDefinitions Get(CoreVersion version) => version switch
    {
        CoreVersion.V1_3 => s_v13.Value,
        CoreVersion.V1_4 => s_v14.Value,
        _ => s_v19.Value,
    };

    /// <summary>The raw embedded document text, e.g. to serve it.</summary>
    public static string ReadDocument(CoreVersion version)
    {
        var name = "CityOS.NgsiLd.Contexts." + FileName(version);
        using var stream = typeof(CoreContexts).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"The embedded core context {name} is missing from the assembly.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private static string FileName(CoreVersion version) => version switch
    {
        CoreVersion.V1_3 => "ngsi-ld-core-context-v1.3.jsonld",
        CoreVersion.V1_4 => "ngsi-ld-core-context-v1.4.jsonld",
        _ => "ngsi-ld-core-context-v1.9.jsonld",
    };

    private static CoreDefinitions Load(CoreVersion version)
    {
        var document = JsonNode.Parse(ReadDocument(version)) as JsonObject
            ?? throw new InvalidOperationException("The embedded core context is not a JSON object.");
        if (document["@context"] is not JsonObject local)
        {
            throw new InvalidOperationException("The embedded core context has no @context object.");
        }

        // The core goes through the same algorithm as user contexts, so "DateTime" in "@type": "DateTime"
        // or v1.3's "attributeCount": "attributeCount" expand exactly as a JSON-LD processor would.
        var processor = ContextProcessor.ForCore();
        processor.Process(local);
        return new CoreDefinitions(version, processor.Terms.ToFrozenDictionary(StringComparer.Ordinal), processor.Vocab ?? DefaultVocab);
    }
}

/// <summary>The processed term definitions of one core context version.</summary>
internal sealed record CoreDefinitions(CoreVersion Version, FrozenDictionary<string, LdTermDefinition> Terms, string Vocab);

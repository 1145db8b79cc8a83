namespace CityOS.NgsiLd.Model;

/// <summary>The output representations of §4.5 (options= / format=).</summary>
public enum Representation
{
    Normalized,
    Concise,
    KeyValues,
}

/// <summary>How to render an entity for one request.</summary>
public sealed record RenderOptions
{
    private readonly string? _lang;

    /// <summary>Normalized rendering, no system attributes, no projection: the default of every read.</summary>
    public static RenderOptions Default { get; } = new();

    public Representation Representation { get; init; } = Representation.Normalized;

    /// <summary>options=sysAttrs: include createdAt/modifiedAt.</summary>
    public bool SysAttrs { get; init; }

    /// <summary>Expanded attribute IRIs (and "id", "type", "scope") to keep; null keeps all.</summary>
    public IReadOnlySet<string>? Pick { get; init; }

    /// <summary>Expanded attribute IRIs (and "id", "type", "scope") to drop.</summary>
    public IReadOnlySet<string>? Omit { get; init; }

    /// <summary>lang= (e.g. "fr", "fr-CH,fr;q=0.9,*"): turns LanguageProperties into Properties.</summary>
    public string? Lang
    {
        get => _lang;
        init
        {
            _lang = value;
            // Parsed once per request rather than once per attribute rendered.
            LanguageRanges = value is null ? null : LanguagePreference.Parse(value);
        }
    }

    /// <summary>datasetId= filter: instances to keep ("@none" = default instance); null keeps all.</summary>
    public IReadOnlySet<string>? DatasetIds { get; init; }

    internal LanguagePreference? LanguageRanges { get; private init; }
}

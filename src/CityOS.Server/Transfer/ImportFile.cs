using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CityOS.Broker.Storage;

namespace CityOS.Server.Transfer;

/// <summary>One entity line of an import file.</summary>
internal sealed record ImportLine(long Number, string Tenant, JsonObject Entity)
{
    public string Id => (string)Entity["id"]!;
}

/// <summary>The header line of an import file.</summary>
internal sealed record ImportHeader(string? Source, IReadOnlyList<string> Tenants);

/// <summary>
/// Reads an import file line by line (one line in memory at a time), checking each line's shape and
/// reporting the first fault as <see cref="ImportFileException"/> with its line number. Blank lines are skipped.
/// </summary>
internal sealed class ImportFile : IDisposable
{
    private readonly StreamReader _reader;
    private long _lineNumber;
    private ImportLine? _pending;

    private ImportFile(StreamReader reader) => _reader = reader;

    /// <summary>Opens the file for one sequential pass.</summary>
    public static ImportFile Open(string path) =>
        new(new StreamReader(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan | FileOptions.Asynchronous), new UTF8Encoding(false, false)));

    /// <summary>Reads and checks the header, which must be the first line.</summary>
    public async Task<ImportHeader> ReadHeaderAsync(CancellationToken cancellationToken)
    {
        var line = await ReadLineAsync(cancellationToken).ConfigureAwait(false);
        if (string.IsNullOrWhiteSpace(line))
        {
            throw Fault("missing header: the first line must be the cityos-export header");
        }

        var header = ParseObject(line);
        if (header["format"] is not JsonValue format || !format.TryGetValue<string>(out var name) || name != ExportFormat.Name)
        {
            throw Fault($"not a {ExportFormat.Name} header (\"format\": \"{ExportFormat.Name}\" missing)");
        }

        if (header["version"] is not JsonValue versionNode || !versionNode.TryGetValue<int>(out var version))
        {
            throw Fault("the header has no integer \"version\"");
        }

        if (version != ExportFormat.Version)
        {
            throw Fault($"unknown export format version {version} (this cityos reads version {ExportFormat.Version})");
        }

        if (header["tenants"] is not JsonArray tenantArray)
        {
            throw Fault("the header has no \"tenants\" array");
        }

        var tenants = new List<string>(tenantArray.Count);
        foreach (var item in tenantArray)
        {
            if (item is not JsonValue value || !value.TryGetValue<string>(out var tenant) || !TenantName.IsValid(tenant))
            {
                throw Fault($"the header lists an invalid tenant name {item?.ToJsonString() ?? "null"}");
            }

            tenants.Add(tenant);
        }

        var source = header["source"] is JsonValue s && s.TryGetValue<string>(out var text) ? text : null;
        return new ImportHeader(source, tenants);
    }

    /// <summary>The next entity line without consuming it, or null at the end of the file.</summary>
    public async ValueTask<ImportLine?> PeekAsync(CancellationToken cancellationToken)
    {
        if (_pending is not null)
        {
            return _pending;
        }

        while (await ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            if (!string.IsNullOrWhiteSpace(line))
            {
                _pending = ParseEntityLine(line);
                return _pending;
            }
        }

        return null;
    }

    /// <summary>The next entity line, or null at the end of the file.</summary>
    public async ValueTask<ImportLine?> ReadAsync(CancellationToken cancellationToken)
    {
        var line = await PeekAsync(cancellationToken).ConfigureAwait(false);
        _pending = null;
        return line;
    }

    /// <summary>A fault of the line read last.</summary>
    public ImportFileException Fault(string reason) => new(_lineNumber, reason);

    public void Dispose() => _reader.Dispose();

    /// <summary>The next raw line (counted), or null at the end.</summary>
    private async Task<string?> ReadLineAsync(CancellationToken cancellationToken)
    {
        _lineNumber++;
        var line = await _reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
        // The reader decodes whole buffers, so a throwing decoder would name the wrong line; bytes that are not
        // UTF-8 become U+FFFD instead, found here. Export escapes every non-ASCII character, so a raw U+FFFD in
        // a line is damage too.
        if (line is not null && line.Contains('\uFFFD', StringComparison.Ordinal))
        {
            throw Fault("not valid UTF-8");
        }

        return line;
    }

    private ImportLine ParseEntityLine(string text)
    {
        var line = ParseObject(text);
        if (line["tenant"] is not JsonValue tenantNode || !tenantNode.TryGetValue<string>(out var tenant))
        {
            throw Fault("no \"tenant\" string");
        }

        if (!TenantName.IsValid(tenant))
        {
            throw Fault($"invalid tenant name '{tenant}'");
        }

        if (line["entity"] is not JsonObject entity)
        {
            throw Fault("no \"entity\" object");
        }

        if (entity["id"] is not JsonValue idNode || !idNode.TryGetValue<string>(out var id) || id.Length == 0)
        {
            throw Fault("the entity has no \"id\" string");
        }

        // The internal form: "type" is always a non-empty array of expanded type IRIs (docs/internal-model.md).
        if (entity["type"] is not JsonArray { Count: > 0 } types
            || types.Any(t => t is not JsonValue v || !v.TryGetValue<string>(out var type) || type.Length == 0))
        {
            throw Fault($"the entity '{id}' has no \"type\" array of strings (the internal form)");
        }

        // Detached, so that the store may keep or change it freely.
        line.Remove("entity");
        return new ImportLine(_lineNumber, tenant, entity);
    }

    private JsonObject ParseObject(string text)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(text);
        }
        catch (JsonException e)
        {
            throw Fault($"not valid JSON ({e.Message})");
        }

        return node as JsonObject ?? throw Fault("not a JSON object");
    }
}

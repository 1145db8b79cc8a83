using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using CityOS.Broker.Storage;

namespace CityOS.Storage.Sqlite.Internal;

/// <summary>
/// What the secondary tables hold for one entity, extracted in one pass over the internal form, plus the
/// entity serialised once for the doc column.
/// </summary>
internal sealed class EntityIndex
{
    /// <summary>Most R-tree rows one entity may have: the instance number is the low 16 bits of the R-tree id.</summary>
    public const int MaxGeoEntries = EntityKeys.MaxGeoEntries;

    /// <summary>One cached serialiser setting: non-ASCII text stays readable and compact (the doc is never put in HTML).</summary>
    public static readonly JsonSerializerOptions DocOptions = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    // One buffer and writer per thread (in practice: the writer task's), reused for every JSON text an
    // index needs; a fresh Utf8JsonWriter and buffer per text was a visible share of each insert.
    [ThreadStatic]
    private static JsonScratch? t_scratch;

    private EntityIndex(string id, string typesJson, List<string> types, List<(string, string)> attributes, List<IndexedBox> geo, byte[] doc, JsonScratch scratch)
    {
        Id = id;
        TypesJson = typesJson;
        Types = types;
        Attributes = attributes;
        AttributesJson = PairsJson(attributes, scratch);
        Geo = geo;
        Doc = doc;
        GeoKey = geo.Count == 0 ? null : MakeGeoKey(geo, scratch);
    }

    public string Id { get; }

    /// <summary>The entity's type array as JSON text (exactly what Type filters evaluate).</summary>
    public string TypesJson { get; }

    public List<string> Types { get; }

    /// <summary>Distinct (attribute IRI, attribute type) pairs in entity order; attribute type "" when an instance has none.</summary>
    public List<(string Attribute, string AttributeType)> Attributes { get; }

    /// <summary><see cref="Attributes"/> as a JSON array of [attribute, attribute type] pairs.</summary>
    public string AttributesJson { get; }

    public List<IndexedBox> Geo { get; }

    /// <summary>A text fingerprint of <see cref="Geo"/> (null when empty), so unchanged geometry skips the R-tree.</summary>
    public string? GeoKey { get; }

    /// <summary>The entity as UTF-8 JSON, bound as it is (no UTF-16 string on the way to SQLite).</summary>
    public byte[] Doc { get; }

    /// <summary>Indexes <paramref name="entity"/>; ArgumentException when it lacks a string id or a type array.</summary>
    public static EntityIndex Of(JsonObject entity)
    {
        var keys = EntityKeys.Of(entity);
        var (id, typeArray, types, attributes, geo) = (keys.Id, keys.TypeArray, keys.Types, keys.Attributes, keys.Geo);
        var scratch = t_scratch ??= new JsonScratch();
        var typesJson = Encoding.UTF8.GetString(scratch.Write(typeArray));
        var doc = scratch.Write(entity).ToArray();
        return new EntityIndex(id, typesJson, types, attributes, geo, doc, scratch);
    }

    /// <summary>The pairs of a stored attrs column.</summary>
    public static List<(string Attribute, string AttributeType)> ParsePairs(string pairsJson)
    {
        var result = new List<(string, string)>();
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(pairsJson));
        string? attribute = null;
        while (reader.Read())
        {
            if (reader.TokenType == JsonTokenType.String)
            {
                if (attribute is null)
                {
                    attribute = reader.GetString()!;
                }
                else
                {
                    result.Add((attribute, reader.GetString()!));
                    attribute = null;
                }
            }
        }

        return result;
    }

    /// <summary>The type strings of a stored types column.</summary>
    public static List<string> ParseTypes(string typesJson)
    {
        var result = new List<string>();
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(typesJson));
        while (reader.Read())
        {
            if (reader.TokenType == JsonTokenType.String)
            {
                result.Add(reader.GetString()!);
            }
        }

        return result;
    }

    /// <summary>A JSON array of strings, for json_each() parameters.</summary>
    public static string JsonArrayOf(IEnumerable<string> values)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartArray();
            foreach (var value in values)
            {
                writer.WriteStringValue(value);
            }

            writer.WriteEndArray();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static string PairsJson(List<(string Attribute, string AttributeType)> pairs, JsonScratch scratch)
    {
        var writer = scratch.Start();
        {
            writer.WriteStartArray();
            foreach (var (attribute, attributeType) in pairs)
            {
                writer.WriteStartArray();
                writer.WriteStringValue(attribute);
                writer.WriteStringValue(attributeType);
                writer.WriteEndArray();
            }

            writer.WriteEndArray();
        }

        return Encoding.UTF8.GetString(scratch.Finish());
    }

    private static string MakeGeoKey(List<IndexedBox> geo, JsonScratch scratch)
    {
        var writer = scratch.Start();
        {
            writer.WriteStartArray();
            foreach (var g in geo)
            {
                writer.WriteStartArray();
                writer.WriteStringValue(g.Property);
                writer.WriteNumberValue(g.MinX);
                writer.WriteNumberValue(g.MinY);
                writer.WriteNumberValue(g.MaxX);
                writer.WriteNumberValue(g.MaxY);
                writer.WriteEndArray();
            }

            writer.WriteEndArray();
        }

        return Encoding.UTF8.GetString(scratch.Finish());
    }

    /// <summary>A reusable buffer and JSON writer (one per thread).</summary>
#pragma warning disable CA1001 // Lives as long as its thread; disposing a Utf8JsonWriter only flushes it, and Finish flushes.
    private sealed class JsonScratch
#pragma warning restore CA1001
    {
        private const int InitialSize = 4096;
        private readonly Utf8JsonWriter _writer;
        private ArrayBufferWriter<byte> _buffer = new(InitialSize);

        public JsonScratch() => _writer = new Utf8JsonWriter(_buffer, new JsonWriterOptions { Encoder = DocOptions.Encoder });

        /// <summary>Clears the buffer and returns the writer, ready for one JSON value.</summary>
        public Utf8JsonWriter Start()
        {
            // A huge entity must not pin a huge buffer for the life of the thread.
            if (_buffer.Capacity > 1 << 20)
            {
                _buffer = new ArrayBufferWriter<byte>(InitialSize);
            }

            _buffer.ResetWrittenCount();
            _writer.Reset(_buffer);
            return _writer;
        }

        /// <summary>Flushes the writer; the bytes are valid until the next <see cref="Start"/>.</summary>
        public ReadOnlySpan<byte> Finish()
        {
            _writer.Flush();
            return _buffer.WrittenSpan;
        }

        /// <summary><paramref name="node"/> as UTF-8 JSON, valid until the next <see cref="Start"/>.</summary>
        public ReadOnlySpan<byte> Write(JsonNode node)
        {
            node.WriteTo(Start(), DocOptions);
            return Finish();
        }
    }
}

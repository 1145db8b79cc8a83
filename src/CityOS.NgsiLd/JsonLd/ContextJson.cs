using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace CityOS.NgsiLd.JsonLd;

/// <summary>Source-generated serialisation of the documents the registry keeps.</summary>
[JsonSerializable(typeof(JsonObject))]
internal sealed partial class ContextJson : JsonSerializerContext;

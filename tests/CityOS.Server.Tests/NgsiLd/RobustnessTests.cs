using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace CityOS.Server.Tests.NgsiLd;

/// <summary>
/// The bar: malformed input of every kind gets a 4xx problem, never a 500 and never a partial
/// write; and what the broker accepts comes back unchanged.
/// </summary>
public abstract class RobustnessTests(CityOSServer server)
{
    private readonly HttpClient _client = server.Client;
    private readonly string _tenant = "r" + Guid.NewGuid().ToString("N")[..12];

    private async Task<string> CreateAsync(string attributes = "\"p\": {\"type\": \"Property\", \"value\": 1}")
    {
        var id = Http.NewId();
        using var response = await _client.NgPostAsync("entities", $$$"""{"id": "{{{id}}}", "type": "T", {{{attributes}}}}""", _tenant);
        await response.ExpectAsync(HttpStatusCode.Created);
        return id;
    }

    private async Task<JsonNode> GetAsync(string path)
    {
        using var response = await _client.NgGetAsync(path, _tenant);
        await response.ExpectAsync(HttpStatusCode.OK);
        return await response.JsonAsync();
    }

    [Theory]
    [InlineData("q", "p==1")]
    [InlineData("scopeQ", "/a")]
    [InlineData("type", "T")]
    public async Task Absurdly_nested_query_expressions_are_400_not_a_crash(string name, string inner)
    {
        // Parentheses need no escaping, so about 3,800 levels fit Kestrel's 8 KiB request line.
        await CreateAsync();
        var query = $"{name}={new string('(', 3800)}{inner}{new string(')', 3800)}";
        var path = name == "type" ? "entities?" + query : "entities?type=T&" + query;
        using var response = await _client.NgGetAsync(path, _tenant);
        await response.ExpectAsync(HttpStatusCode.BadRequest, "BadRequestData");
    }

    [Fact]
    public async Task Absurdly_nested_geo_coordinates_are_400()
    {
        await CreateAsync();
        var coordinates = new string('[', 3800) + "1,2" + new string(']', 3800);
        using var response = await _client.NgGetAsync($"entities?type=T&georel=within&geometry=Polygon&coordinates={coordinates}", _tenant);
        await response.ExpectAsync(HttpStatusCode.BadRequest, "BadRequestData");
    }

    [Theory]
    [InlineData("entities?type=T&limit=99999999999999999999")]
    [InlineData("entities?type=T&offset=-1")]
    [InlineData("entities?type=T&limit=abc")]
    [InlineData("entities?type=T&georel=near;maxDistance==-5&geometry=Point&coordinates=[1,2]")]
    [InlineData("entities?type=T&georel=near;maxDistance==10&geometry=Point&coordinates=[1,2")]
    [InlineData("entities?type=T&georel=within&geometry=Circle&coordinates=[1,2]")]
    [InlineData("entities?type=T&options=sysAttrs,bogus")]
    [InlineData("entities?type=T&count=maybe")]
    [InlineData("entities?type=bad%20type")]
    [InlineData("entities?type=T&attrs=bad%20name")]
    [InlineData("entities?type=T&q=p==%22unterminated")]
    [InlineData("entities?type=T&q=")]
    [InlineData("entities?type=T&attrs=")]
    [InlineData("entities?type=")]
    [InlineData("entities?id=not%20a%20uri")]
    [InlineData("entities/not%20a%20uri")]
    [InlineData("entities/urn:ngsi-ld:T:x?options=keyValues,concise")]
    [InlineData("types/bad%20type")]
    [InlineData("attributes/bad%20name")]
    public async Task Malformed_parameters_are_400_BadRequestData(string path)
    {
        await CreateAsync();
        using var response = await _client.NgGetAsync(path, _tenant);
        await response.ExpectAsync(HttpStatusCode.BadRequest, "BadRequestData");
    }

    // Regression: invalid UTF-8 in a string and a lone surrogate escape were 500 InternalError.
    [Theory]
    [InlineData(new byte[] { 0x7B, 0x22, 0x69, 0x64, 0x22, 0x3A, 0x22, 0xFF, 0xFE, 0x22, 0x7D })]
    [InlineData(new byte[] { 0xEF, 0xBB, 0xBF, 0x5B, 0x5D, 0x5D })]
    public async Task Invalid_utf8_or_broken_json_bytes_are_400(byte[] body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, Http.Base + "/entities") { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Add("NGSILD-Tenant", _tenant);
        using var response = await _client.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task Lone_surrogate_escape_is_400_not_500()
    {
        var id = Http.NewId();
        using var response = await _client.NgPostAsync("entities", $$$"""{"id": "{{{id}}}", "type": "T", "p": {"type": "Property", "value": "bad \ud800 text"}}""", _tenant);
        await response.ExpectAsync(HttpStatusCode.BadRequest);
        using var read = await _client.NgGetAsync($"entities/{id}", _tenant);
        Assert.NotEqual(HttpStatusCode.OK, read.StatusCode);
    }

    [Fact]
    public async Task Emoji_control_characters_and_huge_numbers_round_trip_unchanged()
    {
        var id = await CreateAsync("""
            "emoji": {"type": "Property", "value": "🚲 xe đạp"},
            "control": {"type": "Property", "value": "tab\tnul\u0000end"},
            "big": {"type": "Property", "value": 123456789012345678901234567890},
            "precise": {"type": "Property", "value": 0.1000000000000000055511151231257827}
            """);
        var entity = await GetAsync($"entities/{id}");
        Assert.Equal("🚲 xe đạp", (string?)entity["emoji"]!["value"]);
        Assert.Equal("tab\tnul\0end", (string?)entity["control"]!["value"]);
        Assert.Equal("123456789012345678901234567890", entity["big"]!["value"]!.ToJsonString());
        Assert.Equal("0.1000000000000000055511151231257827", entity["precise"]!["value"]!.ToJsonString());
    }

    [Fact]
    public async Task Overlong_entity_id_is_400_and_not_stored()
    {
        // Regression: a 100,000-character id was stored and its 201 Location header broke clients' header limits.
        var id = "urn:ngsi-ld:T:" + new string('x', 100_000);
        using var response = await _client.NgPostAsync("entities", $$$"""{"id": "{{{id}}}", "type": "T"}""", _tenant);
        await response.ExpectAsync(HttpStatusCode.BadRequest, "BadRequestData");
        var longest = "urn:ngsi-ld:T:" + new string('y', 2048 - 14);
        using var created = await _client.NgPostAsync("entities", $$$"""{"id": "{{{longest}}}", "type": "T"}""", _tenant);
        await created.ExpectAsync(HttpStatusCode.Created);
    }

    [Fact]
    public async Task Batch_above_the_size_limit_is_refused_whole()
    {
        var entities = string.Join(",", Enumerable.Range(0, 10_001).Select(i => $$$"""{"id":"urn:ngsi-ld:T:{{{i}}}","type":"T"}"""));
        using var response = await _client.NgPostAsync("entityOperations/create", "[" + entities + "]", _tenant);
        Assert.True(response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.RequestEntityTooLarge, $"got {(int)response.StatusCode}");
        using var count = await _client.NgGetAsync("entities?type=T&limit=0&count=true", _tenant);
        Assert.True(count.StatusCode == HttpStatusCode.NotFound || count.Headers.GetValues("NGSILD-Results-Count").Single() == "0");
    }

    [Theory]
    [InlineData("PATCH", "{\"id\": \"urn:ngsi-ld:T:other\", \"p\": 2}")]
    [InlineData("PUT", "{\"id\": \"urn:ngsi-ld:T:other\", \"type\": \"T\", \"p\": 2}")]
    public async Task Body_id_different_from_the_path_is_400_and_nothing_changes(string method, string body)
    {
        var id = await CreateAsync();
        using var response = await _client.SendAsync(new HttpMethod(method), $"entities/{id}", body, tenant: _tenant);
        await response.ExpectAsync(HttpStatusCode.BadRequest, "BadRequestData");
        Assert.Equal(1, (int)(await GetAsync($"entities/{id}"))["p"]!["value"]!);
    }

    [Fact]
    public async Task Merge_adds_types_and_replaces_scope()
    {
        var id = await CreateAsync("\"scope\": \"/a\", \"p\": 1");
        using var merged = await _client.NgPatchAsync($"entities/{id}", """{"type": "U", "scope": "/b"}""", _tenant);
        await merged.ExpectAsync(HttpStatusCode.NoContent);
        var entity = await GetAsync($"entities/{id}");
        Assert.Equal(["T", "U"], entity["type"]!.AsArray().Select(t => (string?)t).Order(StringComparer.Ordinal));
        Assert.Equal("/b", (string?)entity["scope"]);
    }

    [Fact]
    public async Task Retrieve_with_attrs_none_present_is_404()
    {
        var id = await CreateAsync();
        using var response = await _client.NgGetAsync($"entities/{id}?attrs=nothere", _tenant);
        await response.ExpectAsync(HttpStatusCode.NotFound, "ResourceNotFound");
    }

    [Fact]
    public async Task Ld_json_query_puts_the_context_in_every_entity()
    {
        await CreateAsync();
        await CreateAsync();
        using var response = await _client.NgGetAsync("entities?type=T", _tenant, accept: "application/ld+json");
        await response.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("application/ld+json", response.Content.Headers.ContentType?.MediaType);
        Assert.False(response.Headers.Contains("Link"));
        Assert.All((await response.JsonAsync()).AsArray(), e => Assert.NotNull(e!["@context"]));
    }

    [Fact]
    public async Task Partial_207_bodies_are_plain_json_without_link()
    {
        var id = await CreateAsync();
        using var response = await _client.NgPostAsync($"entities/{id}/attrs?options=noOverwrite", """{"p": 5, "q": 6}""", _tenant);
        await response.ExpectAsync(HttpStatusCode.MultiStatus);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.False(response.Headers.Contains("Link"));
        var body = await response.JsonAsync();
        Assert.NotNull(body["notUpdated"]);
    }

    [Fact]
    public async Task Doubled_slashes_in_the_path_are_tolerated()
    {
        var id = await CreateAsync();
        using var response = await _client.NgGetAsync($"/ngsi-ld/v1//entities/{id}", _tenant);
        await response.ExpectAsync(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Unparseable_accept_is_406_problem()
    {
        var id = await CreateAsync();
        using var response = await _client.NgGetAsync($"entities/{id}", _tenant, accept: "text/html");
        await response.ExpectAsync(HttpStatusCode.NotAcceptable, "NotAcceptable");
        Assert.Contains("application/json", (string?)(await response.JsonAsync())["detail"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Body_on_a_body_less_content_type_is_415_problem()
    {
        var id = await CreateAsync();
        using var response = await _client.SendAsync(HttpMethod.Patch, $"entities/{id}/attrs", "p=2", "text/plain", _tenant);
        await response.ExpectAsync(HttpStatusCode.UnsupportedMediaType, "UnsupportedMediaType");
        Assert.Equal(1, (int)(await GetAsync($"entities/{id}"))["p"]!["value"]!);
    }

    [Fact]
    public async Task Deep_but_allowed_json_values_round_trip()
    {
        var deep = new StringBuilder();
        for (var i = 0; i < 20; i++)
        {
            deep.Append("{\"k\":");
        }

        deep.Append('1').Append('}', 20);
        var id = await CreateAsync($"\"deep\": {{\"type\": \"Property\", \"value\": {deep}}}");
        Assert.Equal(deep.ToString(), (await GetAsync($"entities/{id}"))["deep"]!["value"]!.ToJsonString());
    }

    [Fact]
    public async Task Purge_with_an_empty_filter_is_400_and_deletes_nothing()
    {
        // Regression: an empty q= was read as "no q", so DELETE /entities?type=T&q= purged every T.
        var id = await CreateAsync();
        using var purge = await _client.NgDeleteAsync("entities?type=T&q=", _tenant);
        await purge.ExpectAsync(HttpStatusCode.BadRequest, "BadRequestData");
        await GetAsync($"entities/{id}");
    }

    [Fact]
    public async Task Concurrent_creates_of_one_id_give_one_201_and_409s_never_500()
    {
        await CreateAsync();
        var id = Http.NewId();
        var body = $$$"""{"id": "{{{id}}}", "type": "T", "p": 1}""";
        var responses = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => _client.NgPostAsync("entities", body, _tenant)));
        try
        {
            Assert.Equal(1, responses.Count(r => r.StatusCode == HttpStatusCode.Created));
            Assert.All(responses.Where(r => r.StatusCode != HttpStatusCode.Created), r => Assert.Equal(HttpStatusCode.Conflict, r.StatusCode));
        }
        finally
        {
            foreach (var response in responses)
            {
                response.Dispose();
            }
        }
    }

    [Fact]
    public async Task Concurrent_upserts_and_merges_of_one_entity_all_succeed_and_keep_every_attribute()
    {
        var id = await CreateAsync();
        var tasks = Enumerable.Range(0, 12).Select(i => i % 2 == 0
            ? _client.NgPostAsync("entityOperations/upsert?options=update", $$$"""[{"id": "{{{id}}}", "type": "T", "u{{{i}}}": {{{i}}}}]""", _tenant)
            : _client.NgPatchAsync($"entities/{id}", $$$"""{"m{{{i}}}": {{{i}}}}""", _tenant));
        var responses = await Task.WhenAll(tasks);
        try
        {
            Assert.All(responses, r => Assert.Equal(HttpStatusCode.NoContent, r.StatusCode));
        }
        finally
        {
            foreach (var response in responses)
            {
                response.Dispose();
            }
        }

        var entity = (await GetAsync($"entities/{id}")).AsObject();
        Assert.Equal(3 + 12, entity.Count);
    }

    [Theory]
    [InlineData("PATCH", "entities/urn:ngsi-ld:T:1/attrs", "{\"p\": 1}")]
    [InlineData("DELETE", "entities/urn:ngsi-ld:T:1", null)]
    [InlineData("POST", "entityOperations/update", "[{\"id\": \"urn:ngsi-ld:T:1\", \"type\": \"T\"}]")]
    [InlineData("GET", "types", null)]
    [InlineData("DELETE", "entities?type=T", null)]
    public async Task Operations_on_an_unknown_tenant_are_404_NonexistentTenant_and_do_not_create_it(string method, string path, string? body)
    {
        var tenant = "ghost" + Guid.NewGuid().ToString("N")[..8];
        using var response = await _client.SendAsync(new HttpMethod(method), path, body, tenant: tenant);
        await response.ExpectAsync(HttpStatusCode.NotFound, "NonexistentTenant");
        using var query = await _client.NgGetAsync("entities?type=T", tenant);
        await query.ExpectAsync(HttpStatusCode.NotFound, "NonexistentTenant");
    }

    [Theory]
    [InlineData("DELETE", "attrs/bad%20name", null)]
    [InlineData("PATCH", "attrs/bad%20name", "{\"value\": 2}")]
    [InlineData("PUT", "attrs/bad%20name", "{\"type\": \"Property\", \"value\": 2}")]
    [InlineData("DELETE", "attrs/p?datasetId=not%20a%20uri", null)]
    [InlineData("DELETE", "attrs/p?deleteAll=maybe", null)]
    [InlineData("PATCH", "attrs/p", "{\"value\": null}")]
    [InlineData("PATCH", "attrs/p", "[1]")]
    [InlineData("PUT", "attrs/p", "{\"type\": \"Property\"}")]
    [InlineData("POST", "attrs", "{\"p\": {\"type\": \"Property\", \"value\": {\"@type\": \"Date\", \"@value\": \"2026-02-30\"}}}")]
    public async Task Malformed_attribute_requests_are_400_and_change_nothing(string method, string path, string? body)
    {
        var id = await CreateAsync();
        using var response = await _client.SendAsync(new HttpMethod(method), $"entities/{id}/{path}", body, tenant: _tenant);
        await response.ExpectAsync(HttpStatusCode.BadRequest, "BadRequestData");
        Assert.Equal(1, (int)(await GetAsync($"entities/{id}"))["p"]!["value"]!);
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("{\"x\": 1}")]
    [InlineData("{\"@context\": 5}")]
    [InlineData("{\"@context\": null}")]
    [InlineData("{\"@context\": \"bad \\ud800\"}")]
    [InlineData("{\"@context\": {\"a\": {\"@id\": \"https://example.org/a\", \"@context\": {\"b\": \"https://example.org/b\"}}}}")]
    [InlineData("{\"@context\": {\"a\": 5}}")]
    public async Task Malformed_context_documents_are_400(string body)
    {
        using var response = await _client.NgPostAsync("jsonldContexts", body);
        await response.ExpectAsync(HttpStatusCode.BadRequest);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Catastrophic_regexes_are_cut_off_not_500()
    {
        // (a|aa)+$ against forty a's and a '!' backtracks through ~10^8 paths; the broker bounds each match.
        var id = "urn:ngsi-ld:T:" + new string('a', 40) + "!";
        using var created = await _client.NgPostAsync("entities", $$$"""{"id": "{{{id}}}", "type": "T", "name": "{{{new string('a', 40)}}}!"}""", _tenant);
        await created.ExpectAsync(HttpStatusCode.Created);

        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        using var byId = await _client.NgGetAsync("entities?type=T&idPattern=" + Uri.EscapeDataString("^urn:ngsi-ld:T:(a|aa)+$"), _tenant);
        await byId.ExpectAsync(HttpStatusCode.BadRequest, "BadRequestData");
        using var byQ = await _client.NgGetAsync("entities?type=T&q=" + Uri.EscapeDataString("name~=\"^(a|aa)+$\""), _tenant);
        Assert.True(byQ.StatusCode is HttpStatusCode.OK or HttpStatusCode.BadRequest, $"got {(int)byQ.StatusCode}");
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(10), $"took {stopwatch.Elapsed}");
    }

    [Theory]
    [InlineData("p==1..")]
    [InlineData("p==..2")]
    [InlineData("p[")]
    [InlineData("p]")]
    [InlineData("p.")]
    [InlineData("p..q")]
    [InlineData("p{")]
    [InlineData("p{}")]
    [InlineData("p{a")]
    [InlineData("p==1,")]
    [InlineData("p==,")]
    [InlineData(";")]
    [InlineData("|")]
    [InlineData("()")]
    [InlineData("(p")]
    [InlineData("p)")]
    [InlineData("!")]
    [InlineData("!p")]
    [InlineData("p==")]
    [InlineData("==1")]
    [InlineData("p===1")]
    [InlineData("p!=!=1")]
    [InlineData("p==2026-13-01T00:00:00Z")]
    [InlineData("p>2026-01-01T25:00:00Z")]
    [InlineData("p==1e999")]
    [InlineData("p==-")]
    [InlineData("p==--1")]
    [InlineData("p==0x10")]
    [InlineData("p<\"a\"")]
    [InlineData("p[*]==1")]
    [InlineData("p[a][b][c]==1")]
    [InlineData("p.observedAt.x==1")]
    [InlineData("p==urn:ngsi-ld:x")]
    [InlineData("p==\"\\\"")]
    [InlineData("p==\"\\u0000\"")]
    [InlineData("p~=")]
    [InlineData("p~=\"")]
    [InlineData("p~=\"[[:alpha:]]\"")]
    [InlineData("p~=\"\\\\\"")]
    [InlineData("p==true..false")]
    [InlineData("p==1..2..3")]
    [InlineData("p==(1)")]
    [InlineData("p==1;")]
    [InlineData("p==1|")]
    [InlineData("p==1;;p==2")]
    [InlineData("p==1||p==2")]
    [InlineData("p==1;(p==2|p==3))")]
    [InlineData("p.value==1")]
    [InlineData("p[1]==1")]
    [InlineData("p==[1]")]
    [InlineData("p=={}")]
    [InlineData("p==\"x\",\"y\"")]
    [InlineData("p==1,\"x\"")]
    [InlineData("https://x.org/p==1")]
    [InlineData("ngsi-ld:createdAt>2020-01-01T00:00:00Z")]
    [InlineData("p==12:00:00Z")]
    [InlineData("p==24:61:00")]
    [InlineData("p==2026-02-30")]
    [InlineData("a b==1")]
    public async Task Odd_q_expressions_are_answered_200_or_400_never_500(string q)
    {
        await CreateAsync("\"p\": {\"type\": \"Property\", \"value\": {\"a\": {\"b\": 1}}, \"observedAt\": \"2026-01-01T00:00:00Z\"}");
        using var response = await _client.NgGetAsync("entities?type=T&q=" + Uri.EscapeDataString(q), _tenant);
        Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.BadRequest, $"q={q}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        if (response.StatusCode == HttpStatusCode.BadRequest)
        {
            await response.ExpectAsync(HttpStatusCode.BadRequest, "BadRequestData");
        }
    }

    [Theory]
    [InlineData("georel=near&geometry=Point&coordinates=[1,2]")]
    [InlineData("georel=near;maxDistance&geometry=Point&coordinates=[1,2]")]
    [InlineData("georel=near;maxDistance==abc&geometry=Point&coordinates=[1,2]")]
    [InlineData("georel=near;maxDistance==1e400&geometry=Point&coordinates=[1,2]")]
    [InlineData("georel=near;maxDistance==10&geometry=Point&coordinates=[1]")]
    [InlineData("georel=near;maxDistance==10&geometry=Point&coordinates=[1,2,3,4]")]
    [InlineData("georel=near;maxDistance==10&geometry=Point&coordinates=[\"a\",\"b\"]")]
    [InlineData("georel=near;maxDistance==10&geometry=Point&coordinates=[1e400,2]")]
    [InlineData("georel=near;maxDistance==10&geometry=Point&coordinates=[200,100]")]
    [InlineData("georel=within&geometry=Polygon&coordinates=[[[0,0],[1,0],[0,0]]]")]
    [InlineData("georel=within&geometry=Polygon&coordinates=[[[0,0],[1,0],[1,1],[0,1]]]")]
    [InlineData("georel=within&geometry=Polygon&coordinates=[]")]
    [InlineData("georel=within&geometry=Polygon&coordinates=[[]]")]
    [InlineData("georel=intersects&geometry=LineString&coordinates=[[0,0]]")]
    [InlineData("georel=equals&geometry=MultiPoint&coordinates=[]")]
    [InlineData("georel=within&geometry=Polygon&coordinates=[[[0,0],[2,2],[2,0],[0,2],[0,0]]]")]
    [InlineData("georel=overlaps&geometry=Point&coordinates=[1,2]")]
    [InlineData("georel=bogus&geometry=Point&coordinates=[1,2]")]
    [InlineData("georel=near;minDistance==0&geometry=Point&coordinates=[1,2]")]
    [InlineData("georel=near;maxDistance==10;minDistance==5&geometry=Point&coordinates=[1,2]")]
    [InlineData("georel=within&geometry=point&coordinates=[1,2]")]
    [InlineData("georel=within&geometry=Polygon&coordinates=[[[0,0],[1,0],[1,1],[0,1],[0,0]]]&geoproperty=bad%20name")]
    [InlineData("georel=within&geometry=Polygon&coordinates=[[[0,0],[1,0],[1,1],[0,1],[0,0]]]&geoproperty=p")]
    [InlineData("georel=disjoint&geometry=MultiPolygon&coordinates=[[[[0,0],[1,0],[1,1],[0,1],[0,0]]]]")]
    [InlineData("georel=near;maxDistance==10&geometry=Point&coordinates=%5B1%2C2%5D")]
    [InlineData("georel=near;maxDistance==10&geometry=Point&coordinates=1,2")]
    [InlineData("pick=p{a}")]
    [InlineData("omit={")]
    [InlineData("pick=,,,")]
    [InlineData("lang=")]
    [InlineData("lang=;;;")]
    [InlineData("lang=*;q=abc")]
    [InlineData("lang=vi;q=2")]
    [InlineData("datasetId=,")]
    [InlineData("options=,")]
    [InlineData("format=bogus")]
    [InlineData("limit=1.5")]
    [InlineData("offset=1e3")]
    [InlineData("limit=-0")]
    [InlineData("scopeQ=/a|")]
    [InlineData("scopeQ=/+")]
    [InlineData("scopeQ=/#/a")]
    [InlineData("scopeQ=/a/#/b")]
    [InlineData("scopeQ=//")]
    [InlineData("scopeQ=/a;")]
    [InlineData("scopeQ=(/a")]
    [InlineData("scopeQ=/a)")]
    [InlineData("idPattern=")]
    [InlineData("idPattern=*")]
    [InlineData("idPattern=(?<n>a)\\k<m>")]
    [InlineData("id=urn:a,,urn:b")]
    [InlineData("id=,")]
    public async Task Odd_query_parameters_are_answered_200_or_400_never_500(string parameters)
    {
        await CreateAsync("\"location\": {\"type\": \"GeoProperty\", \"value\": {\"type\": \"Point\", \"coordinates\": [1, 2]}}");
        using var response = await _client.NgGetAsync("entities?type=T&" + parameters, _tenant);
        Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.BadRequest, $"{parameters}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        if (response.StatusCode == HttpStatusCode.BadRequest)
        {
            await response.ExpectAsync(HttpStatusCode.BadRequest, "BadRequestData");
        }
    }

    [Theory]
    [InlineData("\"p\": {}")]
    [InlineData("\"p\": []")]
    [InlineData("\"p\": [[]]")]
    [InlineData("\"p\": [{}]")]
    [InlineData("\"p\": null")]
    [InlineData("\"p\": true")]
    [InlineData("\"p\": \"urn:ngsi-ld:null\"")]
    [InlineData("\"p\": {\"type\": \"Property\", \"value\": []}")]
    [InlineData("\"p\": {\"type\": \"Property\", \"value\": {}}")]
    [InlineData("\"p\": {\"type\": \"Property\", \"value\": {\"@type\": \"DateTime\"}}")]
    [InlineData("\"p\": {\"type\": \"Property\", \"value\": {\"@value\": 1}}")]
    [InlineData("\"p\": {\"type\": \"Property\", \"value\": {\"@type\": 5, \"@value\": 1}}")]
    [InlineData("\"p\": {\"type\": \"Property\", \"value\": 1, \"sub\": {}}")]
    [InlineData("\"p\": {\"type\": \"Property\", \"value\": 1, \"sub\": null}")]
    [InlineData("\"p\": {\"type\": \"Property\", \"value\": 1, \"sub\": {\"type\": \"Property\", \"value\": 1, \"subsub\": {\"type\": \"Relationship\", \"object\": \"urn:x:1\"}}}")]
    [InlineData("\"p\": {\"type\": \"Property\", \"value\": 1, \"type2\": 5}")]
    [InlineData("\"p\": {\"type\": [\"Property\"], \"value\": 1}")]
    [InlineData("\"p\": {\"type\": 5, \"value\": 1}")]
    [InlineData("\"p\": {\"type\": \"Property\", \"value\": 1, \"valueType\": \"Integer\"}")]
    [InlineData("\"p\": {\"type\": \"Property\", \"value\": 1, \"valueType\": 5}")]
    [InlineData("\"p\": {\"type\": \"Relationship\", \"object\": [\"urn:x:1\", 5]}")]
    [InlineData("\"p\": {\"type\": \"Relationship\", \"object\": []}")]
    [InlineData("\"p\": {\"type\": \"Relationship\", \"object\": \"urn:x:1\", \"objectType\": \"Building\"}")]
    [InlineData("\"p\": {\"type\": \"LanguageProperty\", \"languageMap\": {}}")]
    [InlineData("\"p\": {\"type\": \"LanguageProperty\", \"languageMap\": {\"vi\": [\"a\", \"b\"]}}")]
    [InlineData("\"p\": {\"type\": \"LanguageProperty\", \"languageMap\": {\"@none\": \"x\"}}")]
    [InlineData("\"p\": {\"type\": \"LanguageProperty\", \"languageMap\": \"x\"}")]
    [InlineData("\"p\": {\"type\": \"VocabProperty\", \"vocab\": [\"A\", \"B\"]}")]
    [InlineData("\"p\": {\"type\": \"VocabProperty\", \"vocab\": 5}")]
    [InlineData("\"p\": {\"type\": \"VocabProperty\", \"vocab\": \"bad name\"}")]
    [InlineData("\"p\": {\"type\": \"JsonProperty\", \"json\": {\"@context\": 1, \"a:b\": null}}")]
    [InlineData("\"p\": {\"type\": \"JsonProperty\", \"json\": 5}")]
    [InlineData("\"p\": {\"type\": \"JsonProperty\", \"json\": null}")]
    [InlineData("\"p\": {\"type\": \"ListProperty\", \"valueList\": []}")]
    [InlineData("\"p\": {\"type\": \"ListProperty\", \"valueList\": [1, [2], {\"a\": 3}]}")]
    [InlineData("\"p\": {\"type\": \"ListProperty\", \"valueList\": 5}")]
    [InlineData("\"p\": {\"type\": \"ListRelationship\", \"objectList\": []}")]
    [InlineData("\"p\": {\"type\": \"ListRelationship\", \"objectList\": [\"urn:x:1\"]}")]
    [InlineData("\"p\": {\"type\": \"ListRelationship\", \"objectList\": [{\"object\": [\"urn:x:1\"]}]}")]
    [InlineData("\"location\": {\"type\": \"GeoProperty\", \"value\": {\"type\": \"Point\", \"coordinates\": [1]}}")]
    [InlineData("\"location\": {\"type\": \"GeoProperty\", \"value\": {\"type\": \"Point\", \"coordinates\": [1, 2, 3, 4]}}")]
    [InlineData("\"location\": {\"type\": \"GeoProperty\", \"value\": \"POINT(1 2)\"}")]
    [InlineData("\"location\": {\"type\": \"GeoProperty\", \"value\": {\"type\": \"Polygon\", \"coordinates\": [[[0,0],[1,0],[0,0]]]}}")]
    [InlineData("\"location\": {\"type\": \"GeoProperty\", \"value\": {\"type\": \"Polygon\", \"coordinates\": [[[0,0],[2,2],[2,0],[0,2],[0,0]]]}}")]
    [InlineData("\"location\": {\"type\": \"GeoProperty\", \"value\": {\"type\": \"LineString\", \"coordinates\": [[1,2]]}}")]
    [InlineData("\"location\": {\"type\": \"Point\", \"coordinates\": [1, 2]}")]
    [InlineData("\"location\": {\"type\": \"Property\", \"value\": 1}")]
    [InlineData("\"scope\": \"\"")]
    [InlineData("\"scope\": \"a\"")]
    [InlineData("\"scope\": \"/a//b\"")]
    [InlineData("\"scope\": [\"/a\", 5]")]
    [InlineData("\"scope\": []")]
    [InlineData("\"scope\": \"/a/#\"")]
    [InlineData("\"scope\": {\"x\": 1}")]
    [InlineData("\"p\": {\"type\": \"Property\", \"value\": 1, \"observedAt\": \"2026-01-01T00:00:00.1234567Z\"}")]
    [InlineData("\"p\": {\"type\": \"Property\", \"value\": 1, \"observedAt\": \"2026-01-01T00:00:00,5Z\"}")]
    [InlineData("\"p\": {\"type\": \"Property\", \"value\": 1, \"observedAt\": 5}")]
    [InlineData("\"p\": {\"type\": \"Property\", \"value\": 1, \"unitCode\": 5}")]
    [InlineData("\"p\": {\"type\": \"Property\", \"value\": 1, \"expiresAt\": \"x\"}")]
    [InlineData("\"p\": {\"type\": \"Property\", \"value\": 1, \"datasetId\": \"@none\"}")]
    [InlineData("\"expiresAt\": \"2030-01-01T00:00:00Z\"")]
    [InlineData("\"expiresAt\": \"soon\"")]
    [InlineData("\"@context\": \"https://example.org\"")]
    [InlineData("\"id2\": 5")]
    [InlineData("\"ngsi-ld:p\": 1")]
    [InlineData("\"https://example.org/p\": 1")]
    [InlineData("\"a:b:c\": 1")]
    [InlineData("\"_p\": 1")]
    [InlineData("\"1p\": 1")]
    [InlineData("\"pé\": 1")]
    [InlineData("\"type\": \"T\"")]
    [InlineData("\"p\": {\"type\": \"Property\", \"value\": 1}, \"p\": {\"type\": \"Property\", \"value\": 2}")]
    public async Task Odd_entity_bodies_are_201_and_readable_or_400_never_500(string attributes)
    {
        var id = Http.NewId();
        using var response = await _client.NgPostAsync("entities", "{\"id\": \"" + id + "\", \"type\": \"T\", " + attributes + "}", _tenant);
        Assert.True(response.StatusCode is HttpStatusCode.Created or HttpStatusCode.BadRequest, $"{attributes}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        if (response.StatusCode == HttpStatusCode.BadRequest)
        {
            await response.ExpectAsync(HttpStatusCode.BadRequest);
            return;
        }

        // Whatever was accepted renders in every representation and survives a query.
        foreach (var options in new[] { "normalized", "concise", "keyValues", "sysAttrs" })
        {
            using var read = await _client.NgGetAsync($"entities/{id}?options={options}", _tenant);
            await read.ExpectAsync(HttpStatusCode.OK);
        }

        using var geo = await _client.NgGetAsync($"entities/{id}", _tenant, accept: "application/geo+json");
        await geo.ExpectAsync(HttpStatusCode.OK);
        using var query = await _client.NgGetAsync("entities?type=T&q=p", _tenant);
        await query.ExpectAsync(HttpStatusCode.OK);
        using var types = await _client.NgGetAsync("attributes?details=true", _tenant);
        await types.ExpectAsync(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Duplicate_member_names_are_400_InvalidRequest_saying_so()
    {
        var id = Http.NewId();
        using var response = await _client.NgPostAsync("entities", $$$"""{"id": "{{{id}}}", "type": "T", "p": 1, "p": 2}""", _tenant);
        await response.ExpectAsync(HttpStatusCode.BadRequest, "InvalidRequest");
        Assert.Contains("duplicate", (string?)(await response.JsonAsync())["detail"], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("create", "[null]")]
    [InlineData("create", "[1]")]
    [InlineData("create", "[[]]")]
    [InlineData("create", "[{}]")]
    [InlineData("create", "[{\"id\": 5, \"type\": \"T\"}]")]
    [InlineData("create", "[{\"id\": \"urn:x:1\", \"type\": \"T\"}, {\"id\": \"urn:x:1\", \"type\": \"T\"}]")]
    [InlineData("upsert", "[null, {\"id\": \"urn:x:2\", \"type\": \"T\"}]")]
    [InlineData("upsert?options=replace,update", "[]")]
    [InlineData("upsert", "[{\"id\": \"urn:x:3\"}]")]
    [InlineData("update", "[{\"id\": \"urn:x:4\", \"type\": \"T\"}]")]
    [InlineData("update", "[{\"id\": \"urn:x:5\"}]")]
    [InlineData("merge", "[{\"id\": \"urn:x:6\", \"p\": \"urn:ngsi-ld:null\"}]")]
    [InlineData("merge", "[{\"type\": \"T\"}]")]
    [InlineData("delete", "[1, null, \"urn:x:7\", \"not a uri\", [\"a\"]]")]
    [InlineData("delete", "[\"urn:x:8\", \"urn:x:8\"]")]
    [InlineData("delete", "{}")]
    [InlineData("query", "{}")]
    [InlineData("query", "[]")]
    [InlineData("query", "{\"type\": \"Query\"}")]
    [InlineData("query", "{\"type\": \"Query\", \"entities\": []}")]
    [InlineData("query", "{\"type\": \"Query\", \"entities\": [{}]}")]
    [InlineData("query", "{\"type\": \"Query\", \"entities\": [{\"idPattern\": \"(\"}]}")]
    [InlineData("query", "{\"type\": \"Query\", \"entities\": [{\"type\": \"T\"}], \"q\": 5}")]
    [InlineData("query", "{\"type\": \"Query\", \"entities\": [{\"type\": \"T\"}], \"geoQ\": {\"georel\": \"near\"}}")]
    [InlineData("query", "{\"type\": \"Query\", \"entities\": [{\"type\": \"T\"}], \"geoQ\": {\"georel\": \"within\", \"geometry\": \"Polygon\", \"coordinates\": \"[[[0,0],[1,0],[1,1],[0,1],[0,0]]]\"}}")]
    [InlineData("query", "{\"type\": \"Query\", \"entities\": [{\"type\": \"T\"}], \"geoQ\": {\"georel\": \"within\", \"geometry\": \"Polygon\", \"coordinates\": [[[0,0],[1,0],[1,1],[0,1],[0,0]]]}}")]
    [InlineData("query", "{\"type\": \"Query\", \"entities\": [{\"type\": \"T\"}], \"attrs\": [5]}")]
    [InlineData("query", "{\"type\": \"Query\", \"entities\": [{\"type\": \"T\"}], \"scopeQ\": \"((\"}")]
    [InlineData("query", "{\"type\": \"Query\", \"entities\": [{\"type\": \"T\"}], \"lang\": 5}")]
    [InlineData("query", "{\"type\": \"Bogus\", \"entities\": [{\"type\": \"T\"}]}")]
    [InlineData("query", "{\"type\": \"Query\", \"entities\": [{\"type\": \"T\"}], \"unknownMember\": 1}")]
    [InlineData("query", "{\"type\": \"Query\", \"entities\": \"T\"}")]
    public async Task Odd_batch_bodies_are_answered_never_500(string operation, string body)
    {
        await CreateAsync();
        using var response = await _client.NgPostAsync("entityOperations/" + operation, body, _tenant);
        Assert.True(
            response.StatusCode is HttpStatusCode.OK or HttpStatusCode.Created or HttpStatusCode.NoContent or HttpStatusCode.MultiStatus or HttpStatusCode.BadRequest,
            $"{operation} {body}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        if (response.StatusCode == HttpStatusCode.MultiStatus)
        {
            var result = await response.JsonAsync();
            Assert.All(result["errors"]!.AsArray(), e => Assert.StartsWith("https://uri.etsi.org/ngsi-ld/errors/", (string?)e!["error"]!["type"], StringComparison.Ordinal));
        }
    }

    [Theory]
    [InlineData("{\"id\": \"urn:x:1\", \"type\": []}")]
    [InlineData("{\"id\": \"urn:x:1\", \"type\": [\"\"]}")]
    [InlineData("{\"id\": \"urn:x:1\", \"type\": \"\"}")]
    [InlineData("{\"id\": \"urn:x:1\", \"type\": [\"A\", \"A\"]}")]
    [InlineData("{\"id\": \"urn:x:1\", \"type\": [\"A\", 5]}")]
    [InlineData("{\"id\": \"urn:x:1\", \"type\": \"bad type\"}")]
    [InlineData("{\"id\": \"urn:x:1\", \"type\": \"https://example.org/T\"}")]
    [InlineData("{\"id\": \"urn:x:1\", \"type\": \"urn:ngsi-ld:null\"}")]
    [InlineData("{\"id\": \"\", \"type\": \"T\"}")]
    [InlineData("{\"id\": \"urn:\", \"type\": \"T\"}")]
    [InlineData("{\"id\": \"urn:ngsi-ld:null\", \"type\": \"T\"}")]
    [InlineData("{\"id\": \"/relative\", \"type\": \"T\"}")]
    [InlineData("{\"id\": \"http://x.org/a b\", \"type\": \"T\"}")]
    [InlineData("{\"id\": [\"urn:x:1\"], \"type\": \"T\"}")]
    [InlineData("{\"id\": \"urn:x:1\", \"type\": {\"a\": 1}}")]
    [InlineData("{\"id\": \"urn:x:1?query=1#frag\", \"type\": \"T\"}")]
    [InlineData("{\"id\": \"urn:x:%20\", \"type\": \"T\"}")]
    [InlineData("{\"id\": \"urn:x:ư\", \"type\": \"T\"}")]
    public async Task Odd_ids_and_types_are_201_and_readable_or_400(string body)
    {
        using var response = await _client.NgPostAsync("entities", body, _tenant);
        Assert.True(response.StatusCode is HttpStatusCode.Created or HttpStatusCode.BadRequest, $"{body}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        if (response.StatusCode == HttpStatusCode.Created)
        {
            using var read = await _client.NgGetAsync(response.Headers.Location!.ToString(), _tenant);
            await read.ExpectAsync(HttpStatusCode.OK);
            using var types = await _client.NgGetAsync("types?details=true", _tenant);
            await types.ExpectAsync(HttpStatusCode.OK);
        }
        else
        {
            await response.ExpectAsync(HttpStatusCode.BadRequest, "BadRequestData");
        }
    }

    [Fact]
    public async Task Empty_body_is_400_InvalidRequest()
    {
        using var response = await _client.NgPostAsync("entities", "", _tenant);
        await response.ExpectAsync(HttpStatusCode.BadRequest, "InvalidRequest");
    }

    [Fact]
    public async Task Entity_with_more_attributes_than_the_limit_is_400_before_parsing()
    {
        // Regression: 400,000 one-number attributes (7 MB, under the body limit) took the server to 1.4 GB.
        var attributes = string.Join(",", Enumerable.Range(0, 10_001).Select(i => $"\"a{i}\":{i}"));
        var id = Http.NewId();
        using var created = await _client.NgPostAsync("entities", $$$"""{"id": "{{{id}}}", "type": "T", {{{attributes}}}}""", _tenant);
        await created.ExpectAsync(HttpStatusCode.BadRequest, "BadRequestData");
        Assert.Contains("MaxAttributesPerEntity", (string?)(await created.JsonAsync())["detail"], StringComparison.Ordinal);

        var existing = await CreateAsync();
        using var appended = await _client.NgPostAsync($"entities/{existing}/attrs", "{" + attributes + "}", _tenant);
        await appended.ExpectAsync(HttpStatusCode.BadRequest, "BadRequestData");

        using var batch = await _client.NgPostAsync("entityOperations/upsert", $$$"""[{"id": "{{{id}}}", "type": "T", {{{attributes}}}}]""", _tenant);
        await batch.ExpectAsync(HttpStatusCode.MultiStatus);
        Assert.Equal(id, (string?)(await batch.JsonAsync())["errors"]![0]!["entityId"]);
    }
}

[Collection(SharedSqliteServer.Name)]
public sealed class RobustnessTestsOnSqlite(SqliteServer server) : RobustnessTests(server);

[Collection(SharedPostgresServer.Name)]
public sealed class RobustnessTestsOnPostgres(PostgresServer server) : RobustnessTests(server);

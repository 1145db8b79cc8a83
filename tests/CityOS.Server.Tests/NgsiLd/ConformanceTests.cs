using System.Net;
using System.Text.Json.Nodes;

namespace CityOS.Server.Tests.NgsiLd;

/// <summary>
/// Conformance checks against FACTS.md §1–§7 and the pitfalls of §11, each over real HTTP; every test
/// works in its own tenant so the data sets never meet.
/// </summary>
public abstract class ConformanceTests(CityOSServer server)
{
    private readonly HttpClient _client = server.Client;
    private readonly string _tenant = "c" + Guid.NewGuid().ToString("N")[..12];

    private async Task<string> CreateAsync(string? id = null, string attributes = "\"p\": {\"type\": \"Property\", \"value\": 1}", string type = "T")
    {
        id ??= Http.NewId();
        using var response = await _client.NgPostAsync("entities", $$"""{"id": "{{id}}", "type": "{{type}}", {{attributes}}}""", _tenant);
        await response.ExpectAsync(HttpStatusCode.Created);
        return id;
    }

    private async Task<JsonNode> GetAsync(string path, string? link = null)
    {
        using var response = await _client.NgGetAsync(path, _tenant, link);
        await response.ExpectAsync(HttpStatusCode.OK);
        return await response.JsonAsync();
    }

    private static async Task ExpectBodylessAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        await response.ExpectAsync(status);
        Assert.False(response.Headers.Contains("Link"), $"{(int)status} must not carry a Link header");
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
        if (status == HttpStatusCode.NoContent)
        {
            Assert.False(response.Content.Headers.NonValidated.Contains("Content-Length"), "204 must not carry Content-Length");
        }
    }

    // §2: no Link header on body-less successes nor on errors; the tenant is echoed everywhere.

    [Fact]
    public async Task No_content_answers_have_no_body_no_link_and_no_content_length()
    {
        var id = Http.NewId();
        using var created = await _client.NgPostAsync("entities", $$$"""{"id": "{{{id}}}", "type": "T", "p": {"type": "Property", "value": 1}}""", _tenant, link: Http.CoreContext);
        await ExpectBodylessAsync(created, HttpStatusCode.Created);
        Assert.Equal(_tenant, created.Headers.GetValues("NGSILD-Tenant").Single());

        using var patched = await _client.NgPatchAsync($"entities/{id}/attrs", """{"p": {"type": "Property", "value": 2}}""", _tenant, Http.CoreContext);
        await ExpectBodylessAsync(patched, HttpStatusCode.NoContent);
        Assert.Equal(_tenant, patched.Headers.GetValues("NGSILD-Tenant").Single());

        using var deleted = await _client.SendAsync(HttpMethod.Delete, $"entities/{id}", tenant: _tenant, link: Http.CoreContext);
        await ExpectBodylessAsync(deleted, HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task Errors_are_problem_details_with_the_tenant_and_without_a_link_header()
    {
        await CreateAsync();
        using var missing = await _client.NgGetAsync($"entities/{Http.NewId()}", _tenant, Http.CoreContext);
        await missing.ExpectAsync(HttpStatusCode.NotFound, "ResourceNotFound");
        Assert.False(missing.Headers.Contains("Link"));
        Assert.Equal(_tenant, missing.Headers.GetValues("NGSILD-Tenant").Single());

        using var badQuery = await _client.NgGetAsync("entities?type=T&q=p>>", _tenant, Http.CoreContext);
        await badQuery.ExpectAsync(HttpStatusCode.BadRequest, "BadRequestData");
        Assert.False(badQuery.Headers.Contains("Link"));

        using var unknownTenant = await _client.NgGetAsync("entities?type=T", "nobody" + Guid.NewGuid().ToString("N")[..8]);
        await unknownTenant.ExpectAsync(HttpStatusCode.NotFound, "NonexistentTenant");
    }

    // §10 / store: one tenant-name rule for the API and the store; URN-style names (Stellio's default) work.

    [Theory]
    [InlineData("urn:ngsi-ld:tenant:binhduong")]
    [InlineData("city.danang")]
    public async Task Urn_and_dotted_tenant_names_are_accepted_and_echoed(string tenant)
    {
        var id = Http.NewId();
        using var created = await _client.NgPostAsync("entities", $$"""{"id": "{{id}}", "type": "T"}""", tenant);
        await created.ExpectAsync(HttpStatusCode.Created);
        using var read = await _client.NgGetAsync($"entities/{id}", tenant);
        await read.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(tenant, read.Headers.GetValues("NGSILD-Tenant").Single());
    }

    [Theory]
    [InlineData("a/b")]
    [InlineData("white space")]
    [InlineData("x123456789x123456789x123456789x123456789x123456789x123456789x1234")]
    public async Task Invalid_tenant_name_is_400_and_nothing_is_written(string tenant)
    {
        var id = Http.NewId();
        using var created = await _client.NgPostAsync("entities", $$"""{"id": "{{id}}", "type": "T"}""", tenant);
        await created.ExpectAsync(HttpStatusCode.BadRequest, "BadRequestData");
    }

    // §11.11–§11.14: batch upsert and update.

    [Fact]
    public async Task Upsert_with_the_same_id_twice_replace_keeps_the_last_and_update_accumulates()
    {
        var (a, b) = (Http.NewId(), Http.NewId());
        var body = $$$"""
            [{"id": "{{{a}}}", "type": "T", "first": {"type": "Property", "value": 1}},
             {"id": "{{{a}}}", "type": "T", "second": {"type": "Property", "value": 2}}]
            """;
        using var replaced = await _client.NgPostAsync("entityOperations/upsert", body, _tenant);
        await replaced.ExpectAsync(HttpStatusCode.Created);
        Assert.Equal([a], (await replaced.JsonAsync()).AsArray().Select(n => (string?)n));
        var entity = await GetAsync($"entities/{a}");
        Assert.Null(entity["first"]);
        Assert.Equal(2, (int)entity["second"]!["value"]!);

        using var updated = await _client.NgPostAsync("entityOperations/upsert?options=update", body.Replace(a, b, StringComparison.Ordinal), _tenant);
        await updated.ExpectAsync(HttpStatusCode.Created);
        entity = await GetAsync($"entities/{b}");
        Assert.Equal(1, (int)entity["first"]!["value"]!);
        Assert.Equal(2, (int)entity["second"]!["value"]!);
    }

    [Fact]
    public async Task DatasetId_inside_batch_upsert_makes_instances_not_sub_attributes()
    {
        var id = Http.NewId();
        var body = $$"""
            [{"id": "{{id}}", "type": "T", "speed": [
                {"type": "Property", "value": 1},
                {"type": "Property", "value": 2, "datasetId": "urn:ngsi-ld:dataset:gps"}]}]
            """;
        using var created = await _client.NgPostAsync("entityOperations/upsert", body, _tenant);
        await created.ExpectAsync(HttpStatusCode.Created);
        using var again = await _client.NgPostAsync("entityOperations/upsert?options=update", body.Replace("\"value\": 2", "\"value\": 3", StringComparison.Ordinal), _tenant);
        await again.ExpectAsync(HttpStatusCode.NoContent);

        var speed = (await GetAsync($"entities/{id}"))["speed"]!.AsArray();
        Assert.Equal(2, speed.Count);
        var gps = speed.Single(i => i!["datasetId"] is not null)!;
        Assert.Equal("urn:ngsi-ld:dataset:gps", (string?)gps["datasetId"]);
        Assert.Equal(3, (int)gps["value"]!);
        Assert.Null(gps["https://uri.etsi.org/ngsi-ld/datasetId"]);
    }

    [Fact]
    public async Task Batch_update_drops_stale_sub_attributes()
    {
        var id = await CreateAsync(attributes: """ "p": {"type": "Property", "value": 1, "accuracy": {"type": "Property", "value": 0.5}} """);
        using var updated = await _client.NgPostAsync("entityOperations/update", $$$"""[{"id": "{{{id}}}", "type": "T", "p": {"type": "Property", "value": 2}}]""", _tenant);
        await updated.ExpectAsync(HttpStatusCode.NoContent);
        var p = (await GetAsync($"entities/{id}"))["p"]!;
        Assert.Equal(2, (int)p["value"]!);
        Assert.Null(p["accuracy"]);
    }

    [Fact]
    public async Task Ld_json_batch_expands_each_entity_with_its_own_context()
    {
        var (a, b) = (Http.NewId(), Http.NewId());
        var body = $$$"""
            [{"id": "{{{a}}}", "type": "Kind", "@context": {"Kind": "https://example.org/a#Kind"}},
             {"id": "{{{b}}}", "type": "Kind", "@context": {"Kind": "https://example.org/b#Kind"}}]
            """;
        using var created = await _client.NgPostAsync("entityOperations/create", body, _tenant, contentType: "application/ld+json");
        await created.ExpectAsync(HttpStatusCode.Created);
        Assert.Equal("https://example.org/a#Kind", (string?)(await GetAsync($"entities/{a}"))["type"]);
        Assert.Equal("https://example.org/b#Kind", (string?)(await GetAsync($"entities/{b}"))["type"]);
    }

    // §2: merge-patch and content negotiation.

    [Fact]
    public async Task Merge_accepts_application_merge_patch_json()
    {
        var id = await CreateAsync();
        using var merged = await _client.SendAsync(HttpMethod.Patch, $"entities/{id}", """{"q": {"type": "Property", "value": "x"}}""", "application/merge-patch+json", _tenant);
        await merged.ExpectAsync(HttpStatusCode.NoContent);
        var entity = await GetAsync($"entities/{id}");
        Assert.Equal(1, (int)entity["p"]!["value"]!);
        Assert.Equal("x", (string?)entity["q"]!["value"]);

        using var appended = await _client.SendAsync(HttpMethod.Post, $"entities/{id}/attrs", """{"r": 1}""", "application/merge-patch+json", _tenant);
        await appended.ExpectAsync(HttpStatusCode.UnsupportedMediaType);
    }

    [Theory]
    [InlineData("*/*", "application/json")]
    [InlineData("application/*", "application/json")]
    [InlineData("text/html, */*;q=0.8", "application/json")]
    [InlineData("application/json;q=0.5, application/ld+json;q=0.9", "application/ld+json")]
    [InlineData("application/ld+json;q=0.2, application/json", "application/json")]
    [InlineData("application/geo+json;q=0.9, application/json;q=0.1", "application/geo+json")]
    public async Task Accept_wildcards_and_q_weights_choose_the_media_type(string accept, string expected)
    {
        var id = await CreateAsync();
        using var response = await _client.NgGetAsync($"entities/{id}", _tenant, accept: accept);
        await response.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(expected, response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(expected == "application/json", response.Headers.Contains("Link"));
    }

    [Theory]
    [InlineData("types")]
    [InlineData("attributes")]
    [InlineData("jsonldContexts")]
    public async Task GeoJson_is_not_acceptable_outside_retrieve_and_query(string path)
    {
        await CreateAsync();
        using var response = await _client.NgGetAsync(path, _tenant, accept: "application/geo+json");
        await response.ExpectAsync(HttpStatusCode.NotAcceptable, "NotAcceptable");
    }

    [Fact]
    public async Task GeometryProperty_chooses_the_geometry_of_the_feature()
    {
        var id = await CreateAsync(attributes: """
            "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [106.65, 10.98]}},
            "depot": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [108.2, 16.05]}}
            """);
        using var feature = await _client.NgGetAsync($"entities/{id}?geometryProperty=depot", _tenant, accept: "application/geo+json");
        await feature.ExpectAsync(HttpStatusCode.OK);
        var body = await feature.JsonAsync();
        Assert.Equal(108.2, (double)body["geometry"]!["coordinates"]![0]!);

        using var collection = await _client.NgGetAsync($"entities?type=T&geometryProperty=depot", _tenant, accept: "application/geo+json");
        await collection.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(108.2, (double)(await collection.JsonAsync())["features"]![0]!["geometry"]!["coordinates"]![0]!);
    }

    // §6: projection, lang, sysAttrs and count on queries.

    [Fact]
    public async Task Pick_and_omit_apply_to_queries()
    {
        await CreateAsync(attributes: """ "a": 1, "b": 2, "c": 3 """);
        var picked = (await GetAsync("entities?type=T&pick=id,a")).AsArray().Single()!.AsObject();
        Assert.Equal(["id", "a"], picked.Select(p => p.Key));

        var omitted = (await GetAsync("entities?type=T&omit=b,type")).AsArray().Single()!.AsObject();
        Assert.Equal(["a", "c", "id"], omitted.Select(p => p.Key).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Lang_and_sysAttrs_apply_to_queries()
    {
        await CreateAsync(attributes: """ "name": {"type": "LanguageProperty", "languageMap": {"vi": "Thủ Dầu Một", "en": "Thu Dau Mot"}} """);
        var name = (await GetAsync("entities?type=T&lang=vi&options=sysAttrs")).AsArray().Single()!;
        Assert.Equal("Property", (string?)name["name"]!["type"]);
        Assert.Equal("Thủ Dầu Một", (string?)name["name"]!["value"]);
        Assert.Equal("vi", (string?)name["name"]!["lang"]);
        Assert.NotNull(name["createdAt"]);
        Assert.NotNull(name["name"]!["modifiedAt"]);

        var any = (await GetAsync("entities?type=T&lang=*")).AsArray().Single()!["name"]!;
        Assert.Equal("Property", (string?)any["type"]);
        Assert.Contains((string?)any["lang"], new[] { "vi", "en" });
        Assert.Equal((string?)any["lang"] == "vi" ? "Thủ Dầu Một" : "Thu Dau Mot", (string?)any["value"]);
    }

    [Fact]
    public async Task Post_query_with_count_sets_the_results_count_header()
    {
        await CreateAsync();
        await CreateAsync();
        using var response = await _client.NgPostAsync("entityOperations/query?count=true&limit=1", """{"type": "Query", "entities": [{"type": "T"}]}""", _tenant);
        await response.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("2", response.Headers.GetValues("NGSILD-Results-Count").Single());
        Assert.Single((await response.JsonAsync()).AsArray());
    }

    // §6: q with dates, regex, != on absent attributes; scopeQ wildcards; invalid idPattern.

    [Theory]
    [InlineData("seen>2026-06-01T00:00:00Z", "late")]
    [InlineData("seen<2026-06-01T00:00:00Z", "early")]
    [InlineData("day>=2026-06-01", "late")]
    [InlineData("name~=\"^Thủ\"", "early")]
    [InlineData("name~=\"(?i)^thủ\"", "early")]
    [InlineData("name!=\"Thủ Dầu Một\"", "late")]
    [InlineData("name!~=\"^Thủ\"", "late")]
    public async Task Q_handles_dates_regexes_and_inequality_without_matching_absent_attributes(string q, string expected)
    {
        await CreateAsync("urn:ngsi-ld:T:early", """
            "seen": {"type": "Property", "value": {"@type": "DateTime", "@value": "2026-01-01T00:00:00Z"}},
            "day": {"type": "Property", "value": {"@type": "Date", "@value": "2026-01-01"}},
            "name": {"type": "Property", "value": "Thủ Dầu Một"}
            """);
        await CreateAsync("urn:ngsi-ld:T:late", """
            "seen": {"type": "Property", "value": {"@type": "DateTime", "@value": "2026-11-01T00:00:00Z"}},
            "day": {"type": "Property", "value": {"@type": "Date", "@value": "2026-11-01"}},
            "name": {"type": "Property", "value": "Đà Nẵng"}
            """);
        await CreateAsync("urn:ngsi-ld:T:bare", "\"other\": 1");
        var ids = (await GetAsync("entities?type=T&q=" + Uri.EscapeDataString(q))).AsArray().Select(e => (string?)e!["id"]);
        Assert.Equal(["urn:ngsi-ld:T:" + expected], ids);
    }

    [Theory]
    [InlineData("/VN/+/ThuDauMot", "a")]
    [InlineData("/VN/BinhDuong/#", "a,b")]
    [InlineData("/VN/#", "a,b,c")]
    [InlineData("/#", "a,b,c")]
    [InlineData("/VN/+", "b,c")]
    [InlineData("/VN/DaNang;/VN/BinhDuong", "")]
    [InlineData("/VN/DaNang,/VN/BinhDuong", "b,c")]
    public async Task ScopeQ_supports_single_and_multi_level_wildcards(string scopeQ, string expected)
    {
        await CreateAsync("urn:ngsi-ld:T:a", "\"scope\": \"/VN/BinhDuong/ThuDauMot\"");
        await CreateAsync("urn:ngsi-ld:T:b", "\"scope\": \"/VN/BinhDuong\"");
        await CreateAsync("urn:ngsi-ld:T:c", "\"scope\": \"/VN/DaNang\"");
        await CreateAsync("urn:ngsi-ld:T:d", "\"p\": 1");
        var ids = (await GetAsync("entities?type=T&scopeQ=" + Uri.EscapeDataString(scopeQ))).AsArray().Select(e => ((string)e!["id"]!)[^1..]).Order(StringComparer.Ordinal);
        Assert.Equal(expected.Split(',', StringSplitOptions.RemoveEmptyEntries), ids);
    }

    [Theory]
    [InlineData("idPattern=(unclosed")]
    [InlineData("idPattern=a[")]
    [InlineData("type=T&q=name~=\"(\"")]
    public async Task Invalid_regex_is_400_not_500(string query)
    {
        await CreateAsync(attributes: "\"name\": \"x\"");
        using var response = await _client.NgGetAsync("entities?" + query, _tenant);
        await response.ExpectAsync(HttpStatusCode.BadRequest, "BadRequestData");
    }

    // §7: VocabProperty and user contexts, hosted contexts.

    [Fact]
    public async Task VocabProperty_is_expanded_with_the_link_context_and_compacted_with_the_readers()
    {
        using var hosted = await _client.NgPostAsync("jsonldContexts", """{"@context": {"Diesel": "https://example.org/fuel#Diesel", "fuel": "https://example.org/fuel#type"}}""");
        await hosted.ExpectAsync(HttpStatusCode.Created);
        var context = new Uri(server.BaseAddress, hosted.Headers.Location!).ToString();
        var id = Http.NewId();
        using var created = await _client.NgPostAsync("entities", $$$"""{"id": "{{{id}}}", "type": "T", "fuel": {"type": "VocabProperty", "vocab": "Diesel"}}""", _tenant, context);
        await created.ExpectAsync(HttpStatusCode.Created);

        var core = await GetAsync($"entities/{id}");
        Assert.Equal("https://example.org/fuel#Diesel", (string?)core["https://example.org/fuel#type"]!["vocab"]);
        var user = await GetAsync($"entities/{id}", context);
        Assert.Equal("Diesel", (string?)user["fuel"]!["vocab"]);
        Assert.Single((await GetAsync("entities?type=T&q=" + Uri.EscapeDataString("fuel==\"Diesel\""), context)).AsArray());
    }

    [Fact]
    public async Task Contexts_list_details_and_kind_filter_and_hosted_reload_is_400()
    {
        using var hosted = await _client.NgPostAsync("jsonldContexts", """{"@context": {"x": "https://example.org/x"}}""");
        await hosted.ExpectAsync(HttpStatusCode.Created);
        var url = new Uri(server.BaseAddress, hosted.Headers.Location!).ToString();
        var localId = url[(url.LastIndexOf('/') + 1)..];

        var details = (await GetAsync("jsonldContexts?details=true")).AsArray();
        var entry = details.Single(d => (string?)d!["URL"] == url)!;
        Assert.Equal(localId, (string?)entry["localId"]);
        Assert.Equal("Hosted", (string?)entry["kind"]);
        Assert.NotNull(entry["createdAt"]);

        Assert.Contains(url, (await GetAsync("jsonldContexts?kind=Hosted")).AsArray().Select(n => (string?)n));
        Assert.DoesNotContain(url, (await GetAsync("jsonldContexts?kind=Cached")).AsArray().Select(n => (string?)n));

        using var reload = await _client.NgDeleteAsync($"jsonldContexts/{localId}?reload=true");
        await reload.ExpectAsync(HttpStatusCode.BadRequest, "BadRequestData");
        using var stillThere = await _client.NgGetAsync($"jsonldContexts/{localId}");
        await stillThere.ExpectAsync(HttpStatusCode.OK);
    }

    // §4: sizes, unicode, special characters.

    [Fact]
    public async Task Entity_with_two_thousand_attributes_round_trips()
    {
        var attributes = string.Join(", ", Enumerable.Range(0, 2000).Select(i => $$"""
            "a{{i}}": {"type": "Property", "value": {{i}}}
            """));
        var id = await CreateAsync(attributes: attributes);
        var entity = (await GetAsync($"entities/{id}")).AsObject();
        Assert.Equal(2002, entity.Count);
        Assert.Equal(1999, (int)entity["a1999"]!["value"]!);
    }

    [Fact]
    public async Task Vietnamese_names_and_values_are_stored_unchanged()
    {
        var id = await CreateAsync(type: "TrạmQuanTrắc", attributes: """
            "nhiệtĐộ": {"type": "Property", "value": 31.5, "đơnVị": {"type": "Property", "value": "độ C"}},
            "địaChỉ": {"type": "Property", "value": {"phường": "Phú Cường", "thànhPhố": "Thủ Dầu Một"}}
            """);
        var entity = await GetAsync($"entities/{id}");
        Assert.Equal("TrạmQuanTrắc", (string?)entity["type"]);
        Assert.Equal("độ C", (string?)entity["nhiệtĐộ"]!["đơnVị"]!["value"]);
        Assert.Equal("Thủ Dầu Một", (string?)entity["địaChỉ"]!["value"]!["thànhPhố"]);
        Assert.Single((await GetAsync("entities?type=TrạmQuanTrắc&q=" + Uri.EscapeDataString("địaChỉ[thànhPhố]==\"Thủ Dầu Một\""))).AsArray());
        Assert.Contains("TrạmQuanTrắc", (await GetAsync("types"))["typeList"]!.AsArray().Select(n => (string?)n));
    }

    [Fact]
    public async Task Values_with_markup_and_query_characters_are_stored_unchanged()
    {
        const string Tricky = "<b>\"a\"='b'; (c) & d|e</b>";
        var value = JsonValue.Create(Tricky).ToJsonString();
        var id = await CreateAsync(attributes: $$$"""
            "note": {"type": "Property", "value": {{{value}}}},
            "meta": {"type": "Property", "value": {"k<>": {{{value}}}}}
            """);
        var entity = await GetAsync($"entities/{id}");
        Assert.Equal(Tricky, (string?)entity["note"]!["value"]);
        Assert.Equal(Tricky, (string?)entity["meta"]!["value"]!["k<>"]);
    }

    // §1: purge and attribute deletion.

    [Fact]
    public async Task Purge_without_any_filter_is_400_and_deletes_nothing()
    {
        var id = await CreateAsync();
        using var purge = await _client.NgDeleteAsync("entities", _tenant);
        await purge.ExpectAsync(HttpStatusCode.BadRequest, "BadRequestData");
        await GetAsync($"entities/{id}");
    }

    [Fact]
    public async Task Deleting_an_attribute_with_sub_attributes_removes_it_whole()
    {
        var id = await CreateAsync(attributes: """
            "p": {"type": "Property", "value": 1, "accuracy": {"type": "Property", "value": 0.5, "unit": {"type": "Property", "value": "m"}}},
            "q": 2
            """);
        using var deleted = await _client.NgDeleteAsync($"entities/{id}/attrs/p", _tenant);
        await ExpectBodylessAsync(deleted, HttpStatusCode.NoContent);
        var entity = await GetAsync($"entities/{id}");
        Assert.Null(entity["p"]);
        Assert.Equal(2, (int)entity["q"]!["value"]!);
        using var again = await _client.NgDeleteAsync($"entities/{id}/attrs/p", _tenant);
        await again.ExpectAsync(HttpStatusCode.NotFound, "ResourceNotFound");
    }

    // Issue bar: wrong shapes are 4xx and never a partial write.

    [Theory]
    [InlineData("""{"p": {"type": "Property", "value": {"@type": "DateTime", "@value": "2026-13-45T99:00:00Z"}}}""")]
    [InlineData("""{"p": {"type": "Property", "value": 2, "observedAt": "2026-11-23T10:00:00+07:00"}}""")]
    [InlineData("""{"p": {"type": "Relationship", "object": "not a uri"}}""")]
    [InlineData("""{"p": {"type": "Wobble", "value": 1}}""")]
    [InlineData("""{"p": {"type": "Property", "value": 2}, "bad name!": 1}""")]
    [InlineData("""{"p": {"type": "LanguageProperty", "languageMap": {"vi": 5}}}""")]
    [InlineData("""{"p": {"type": "Property", "value": 2, "datasetId": "not a uri"}}""")]
    [InlineData("""{"p": {"type": "Property", "value": null}}""")]
    [InlineData("""{"p": [{"type": "Property", "value": 2}, {"type": "Property", "value": 3}]}""")]
    public async Task Wrong_attribute_shapes_are_400_and_leave_the_entity_unchanged(string fragment)
    {
        var id = await CreateAsync(attributes: """ "p": {"type": "Property", "value": 1}, "keep": 1 """);
        using var response = await _client.NgPostAsync($"entities/{id}/attrs", fragment, _tenant);
        await response.ExpectAsync(HttpStatusCode.BadRequest, "BadRequestData");
        var entity = await GetAsync($"entities/{id}");
        Assert.Equal(1, (int)entity["p"]!["value"]!);
        Assert.Equal(["id", "type", "p", "keep"], entity.AsObject().Select(p => p.Key));
    }

    // §2: body media types with parameters, Link parsing, limit rules.

    [Theory]
    [InlineData("application/json; charset=utf-8")]
    [InlineData("application/json;charset=UTF-8")]
    [InlineData("Application/JSON")]
    public async Task Json_content_type_with_charset_or_other_case_is_accepted(string contentType)
    {
        var id = Http.NewId();
        using var response = await _client.SendAsync(HttpMethod.Post, "entities", $$$"""{"id": "{{{id}}}", "type": "T"}""", contentType, _tenant);
        await response.ExpectAsync(HttpStatusCode.Created);
    }

    [Fact]
    public async Task Ld_json_body_with_a_link_header_is_400()
    {
        var id = Http.NewId();
        using var request = new HttpRequestMessage(HttpMethod.Post, Http.Base + "/entities")
        {
            Content = new StringContent($$$"""{"id": "{{{id}}}", "type": "T", "@context": "{{{Http.CoreContext}}}"}""", System.Text.Encoding.UTF8, "application/ld+json"),
        };
        request.Headers.Add("NGSILD-Tenant", _tenant);
        request.Headers.TryAddWithoutValidation("Link", $"<{Http.CoreContext}>; rel=\"http://www.w3.org/ns/json-ld#context\"; type=\"application/ld+json\"");
        using var response = await _client.SendAsync(request);
        await response.ExpectAsync(HttpStatusCode.BadRequest, "BadRequestData");
    }

    [Fact]
    public async Task Link_header_with_several_links_uses_the_context_one()
    {
        using var hosted = await _client.NgPostAsync("jsonldContexts", """{"@context": {"Lamp": "https://example.org/city#Lamp"}}""");
        await hosted.ExpectAsync(HttpStatusCode.Created);
        var context = new Uri(server.BaseAddress, hosted.Headers.Location!).ToString();
        var id = Http.NewId();
        using var request = new HttpRequestMessage(HttpMethod.Post, Http.Base + "/entities")
        {
            Content = new StringContent($$$"""{"id": "{{{id}}}", "type": "Lamp"}""", System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("NGSILD-Tenant", _tenant);
        request.Headers.TryAddWithoutValidation("Link", $"<https://example.org/other>; rel=\"alternate\", <{context}>; rel=\"http://www.w3.org/ns/json-ld#context\"; type=\"application/ld+json\"");
        using var response = await _client.SendAsync(request);
        await response.ExpectAsync(HttpStatusCode.Created);
        Assert.Equal("https://example.org/city#Lamp", (string?)(await GetAsync($"entities/{id}"))["type"]);
    }

    [Fact]
    public async Task Limit_zero_needs_count_true()
    {
        await CreateAsync();
        using var bare = await _client.NgGetAsync("entities?type=T&limit=0", _tenant);
        await bare.ExpectAsync(HttpStatusCode.BadRequest, "BadRequestData");
        using var counted = await _client.NgGetAsync("entities?type=T&limit=0&count=true", _tenant);
        await counted.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("1", counted.Headers.GetValues("NGSILD-Results-Count").Single());
        Assert.Empty((await counted.JsonAsync()).AsArray());
    }

    // §4: system members are never taken from the client; reserved names and misplaced members are 400.

    [Fact]
    public async Task Client_supplied_system_timestamps_are_ignored()
    {
        var id = await CreateAsync(attributes: """
            "createdAt": "2000-01-01T00:00:00Z", "modifiedAt": "2000-01-01T00:00:00Z",
            "p": {"type": "Property", "value": 1, "createdAt": "2000-01-01T00:00:00Z"}
            """);
        var entity = await GetAsync($"entities/{id}?options=sysAttrs");
        Assert.StartsWith(DateTime.UtcNow.Year.ToString(System.Globalization.CultureInfo.InvariantCulture), (string?)entity["createdAt"], StringComparison.Ordinal);
        Assert.StartsWith(DateTime.UtcNow.Year.ToString(System.Globalization.CultureInfo.InvariantCulture), (string?)entity["p"]!["createdAt"], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(""" "datasetId": {"type": "Property", "value": 1} """)]
    [InlineData(""" "p": {"type": "Relationship", "object": "urn:ngsi-ld:X:1", "unitCode": "MTR"} """)]
    [InlineData(""" "p": {"type": "Property", "value": 1, "object": "urn:ngsi-ld:X:1"} """)]
    [InlineData(""" "location": {"type": "GeoProperty", "value": {"type": "GeometryCollection", "geometries": []}} """)]
    [InlineData(""" "p": [{"type": "Property", "value": 1, "datasetId": "urn:d:1"}, {"type": "Property", "value": 2, "datasetId": "urn:d:1"}] """)]
    [InlineData(""" "p": [{"type": "Property", "value": 1}, {"type": "Property", "value": 2}] """)]
    [InlineData(""" "p": {"type": "Property", "value": 1, "datasetId": "urn:ngsi-ld:null"} """)]
    [InlineData(""" "p": {"type": "LanguageProperty", "languageMap": {"not a tag!": "x"}} """)]
    [InlineData(""" "p": {"type": "ListRelationship", "objectList": [{"object": "not a uri"}]} """)]
    public async Task Create_with_a_misplaced_member_or_reserved_name_is_400_and_writes_nothing(string attributes)
    {
        var id = Http.NewId();
        using var response = await _client.NgPostAsync("entities", $$$"""{"id": "{{{id}}}", "type": "T", {{{attributes}}}}""", _tenant);
        await response.ExpectAsync(HttpStatusCode.BadRequest, "BadRequestData");
        using var read = await _client.NgGetAsync($"entities/{id}", _tenant);
        Assert.NotEqual(HttpStatusCode.OK, read.StatusCode);
    }

    [Fact]
    public async Task Relationship_to_several_objects_round_trips()
    {
        var id = await CreateAsync(attributes: """ "parts": {"type": "Relationship", "object": ["urn:ngsi-ld:P:1", "urn:ngsi-ld:P:2"]} """);
        var parts = (await GetAsync($"entities/{id}"))["parts"]!["object"]!.AsArray();
        Assert.Equal(["urn:ngsi-ld:P:1", "urn:ngsi-ld:P:2"], parts.Select(p => (string?)p));
        Assert.Single((await GetAsync("entities?type=T&q=" + Uri.EscapeDataString("parts==\"urn:ngsi-ld:P:2\""))).AsArray());
    }

    [Fact]
    public async Task Format_wins_over_options_and_key_values_show_datasets()
    {
        var id = await CreateAsync(attributes: """ "p": [{"type": "Property", "value": 1}, {"type": "Property", "value": 2, "datasetId": "urn:d:gps"}] """);
        var simplified = await GetAsync($"entities/{id}?options=normalized&format=keyValues");
        Assert.Equal(1, (int)simplified["p"]!["dataset"]!["@none"]!);
        Assert.Equal(2, (int)simplified["p"]!["dataset"]!["urn:d:gps"]!);
    }

    [Fact]
    public async Task Type_star_and_local_true_query_everything()
    {
        await CreateAsync(type: "A");
        await CreateAsync(type: "B");
        Assert.Equal(2, (await GetAsync("entities?type=*")).AsArray().Count);
        Assert.Equal(2, (await GetAsync("entities?local=true")).AsArray().Count);
    }

    [Fact]
    public async Task Partial_update_with_datasetId_touches_only_that_instance()
    {
        var id = await CreateAsync(attributes: """ "p": [{"type": "Property", "value": 1}, {"type": "Property", "value": 2, "datasetId": "urn:d:gps"}] """);
        using var patched = await _client.NgPatchAsync($"entities/{id}/attrs/p", """{"value": 20, "datasetId": "urn:d:gps"}""", _tenant);
        await patched.ExpectAsync(HttpStatusCode.NoContent);
        var p = (await GetAsync($"entities/{id}"))["p"]!.AsArray();
        Assert.Equal(1, (int)p.Single(i => i!["datasetId"] is null)!["value"]!);
        Assert.Equal(20, (int)p.Single(i => i!["datasetId"] is not null)!["value"]!);
    }

    [Theory]
    [InlineData("/a//b")]
    [InlineData("a b")]
    [InlineData("(/a")]
    [InlineData("")]
    public async Task Malformed_scopeQ_is_400(string scopeQ)
    {
        await CreateAsync();
        using var response = await _client.NgGetAsync("entities?type=T&scopeQ=" + Uri.EscapeDataString(scopeQ), _tenant);
        await response.ExpectAsync(HttpStatusCode.BadRequest, "BadRequestData");
    }

    [Fact]
    public async Task Accept_is_checked_for_reads_and_post_query_only()
    {
        var id = Http.NewId();
        using var created = await _client.SendAsync(HttpMethod.Post, "entities", $$$$"""{"id": "{{{{id}}}}", "type": "T", "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [1, 2]}}}""", tenant: _tenant, accept: "text/html");
        await created.ExpectAsync(HttpStatusCode.Created);
        using var patched = await _client.SendAsync(HttpMethod.Post, $"entities/{id}/attrs", """{"p": 1}""", tenant: _tenant, accept: "text/html");
        await patched.ExpectAsync(HttpStatusCode.NoContent);

        const string Query = """{"type": "Query", "entities": [{"type": "T"}]}""";
        using var html = await _client.SendAsync(HttpMethod.Post, "entityOperations/query", Query, tenant: _tenant, accept: "text/html");
        await html.ExpectAsync(HttpStatusCode.NotAcceptable, "NotAcceptable");
        using var geo = await _client.SendAsync(HttpMethod.Post, "entityOperations/query", Query, tenant: _tenant, accept: "application/geo+json");
        await geo.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("application/geo+json", geo.Content.Headers.ContentType?.MediaType);
        Assert.Equal("FeatureCollection", (string?)(await geo.JsonAsync())["type"]);
    }

    [Fact]
    public async Task Response_link_names_the_request_context_and_paging_links_walk_every_page_once()
    {
        using var hosted = await _client.NgPostAsync("jsonldContexts", """{"@context": {"Pole": "https://example.org/city#Pole"}}""");
        await hosted.ExpectAsync(HttpStatusCode.Created);
        var context = new Uri(server.BaseAddress, hosted.Headers.Location!).ToString();
        for (var i = 0; i < 5; i++)
        {
            using var created = await _client.NgPostAsync("entities", $$$"""{"id": "urn:ngsi-ld:Pole:{{{i}}}", "type": "Pole", "h": {{{i}}}}""", _tenant, context);
            await created.ExpectAsync(HttpStatusCode.Created);
        }

        var seen = new List<string>();
        string? next = "entities?type=Pole&q=h>=0&limit=2";
        var pages = 0;
        while (next is not null && pages++ < 10)
        {
            using var page = await _client.NgGetAsync(next, _tenant, context);
            await page.ExpectAsync(HttpStatusCode.OK);
            var links = page.Headers.GetValues("Link").ToList();
            Assert.Contains(links, l => l.Contains($"<{context}>", StringComparison.Ordinal) && l.Contains("json-ld#context", StringComparison.Ordinal));
            Assert.DoesNotContain(links, l => l.Contains(Http.CoreContext, StringComparison.Ordinal));
            seen.AddRange((await page.JsonAsync()).AsArray().Select(e => (string)e!["id"]!));
            var nextLink = links.SelectMany(l => l.Split(',')).FirstOrDefault(l => l.Contains("rel=\"next\"", StringComparison.Ordinal));
            next = nextLink is null ? null : nextLink[(nextLink.IndexOf('<', StringComparison.Ordinal) + 1)..nextLink.IndexOf('>', StringComparison.Ordinal)];
        }

        Assert.Equal(3, pages);
        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"urn:ngsi-ld:Pole:{i}"), seen);
    }

    [Fact]
    public async Task Upsert_replace_replaces_types_and_scope_too_and_touches_only_the_named_entity()
    {
        // FACTS §11.13: replace mode once replaced only attributes; another broker merged into every stored entity.
        var (a, bystander) = (Http.NewId(), Http.NewId());
        using var seeded = await _client.NgPostAsync("entityOperations/create", $$$"""
            [{"id": "{{{a}}}", "type": ["A", "B"], "scope": "/x", "p": 1},
             {"id": "{{{bystander}}}", "type": "A", "scope": "/x", "p": 1}]
            """, _tenant);
        await seeded.ExpectAsync(HttpStatusCode.Created);

        using var replaced = await _client.NgPostAsync("entityOperations/upsert", $$$"""[{"id": "{{{a}}}", "type": "A", "q": 2}]""", _tenant);
        await replaced.ExpectAsync(HttpStatusCode.NoContent);
        var entity = await GetAsync($"entities/{a}");
        Assert.Equal("A", (string?)entity["type"]);
        Assert.Null(entity["scope"]);
        Assert.Null(entity["p"]);
        Assert.Equal(2, (int)entity["q"]!["value"]!);

        var other = await GetAsync($"entities/{bystander}");
        Assert.Equal("/x", (string?)other["scope"]);
        Assert.Equal(1, (int)other["p"]!["value"]!);
        Assert.Null(other["q"]);
    }

    [Fact]
    public async Task Upsert_update_adds_types_replaces_scope_and_keeps_other_attributes()
    {
        var a = await CreateAsync(attributes: """ "scope": "/x", "p": 1 """);
        using var updated = await _client.NgPostAsync("entityOperations/upsert?options=update", $$$"""[{"id": "{{{a}}}", "type": "U", "scope": "/y", "q": 2}]""", _tenant);
        await updated.ExpectAsync(HttpStatusCode.NoContent);
        var entity = await GetAsync($"entities/{a}");
        Assert.Equal(["T", "U"], entity["type"]!.AsArray().Select(t => (string?)t).Order(StringComparer.Ordinal));
        Assert.Equal("/y", (string?)entity["scope"]);
        Assert.Equal(1, (int)entity["p"]!["value"]!);
        Assert.Equal(2, (int)entity["q"]!["value"]!);
    }

    [Fact]
    public async Task Hosted_context_urls_name_the_port_actually_bound()
    {
        // Regression: listening on port 0, hosted @context URLs said ":0" and could not be fetched.
        using var hosted = await _client.NgPostAsync("jsonldContexts", """{"@context": {"Bench": "https://example.org/city#Bench"}}""");
        await hosted.ExpectAsync(HttpStatusCode.Created);
        var location = hosted.Headers.Location!;
        Assert.True(location.IsAbsoluteUri, location.ToString());
        Assert.Equal(server.BaseAddress.Port, location.Port);
        Assert.Contains(location.ToString(), (await GetAsync("jsonldContexts")).AsArray().Select(n => (string?)n));
        using var served = await _client.GetAsync(location);
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        Assert.Equal("application/ld+json", served.Content.Headers.ContentType?.MediaType);
    }
}

[Collection(SharedSqliteServer.Name)]
public sealed class ConformanceTestsOnSqlite(SqliteServer server) : ConformanceTests(server);

[Collection(SharedPostgresServer.Name)]
public sealed class ConformanceTestsOnPostgres(PostgresServer server) : ConformanceTests(server);

using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace CityOS.Server.Tests.NgsiLd;

/// <summary>Small helpers for NGSI-LD calls over real HTTP.</summary>
internal static class Http
{
    public const string Base = "/ngsi-ld/v1";
    public const string CoreContext = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld";

    public static async Task<HttpResponseMessage> SendAsync(
        this HttpClient client, HttpMethod method, string path, string? body = null, string contentType = "application/json",
        string? tenant = null, string? link = null, string? accept = null)
    {
        using var request = new HttpRequestMessage(method, path.StartsWith('/') ? path : Base + "/" + path);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8);
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }

        if (tenant is not null)
        {
            request.Headers.Add("NGSILD-Tenant", tenant);
        }

        if (link is not null)
        {
            request.Headers.Add("Link", $"<{link}>; rel=\"http://www.w3.org/ns/json-ld#context\"; type=\"application/ld+json\"");
        }

        if (accept is not null)
        {
            request.Headers.Accept.Clear();
            request.Headers.TryAddWithoutValidation("Accept", accept);
        }

        return await client.SendAsync(request);
    }

    public static Task<HttpResponseMessage> NgPostAsync(this HttpClient client, string path, string body, string? tenant = null, string? link = null, string contentType = "application/json") =>
        client.SendAsync(HttpMethod.Post, path, body, contentType, tenant, link);

    public static Task<HttpResponseMessage> NgPatchAsync(this HttpClient client, string path, string body, string? tenant = null, string? link = null) =>
        client.SendAsync(HttpMethod.Patch, path, body, "application/json", tenant, link);

    public static Task<HttpResponseMessage> NgPutAsync(this HttpClient client, string path, string body, string? tenant = null) =>
        client.SendAsync(HttpMethod.Put, path, body, "application/json", tenant);

    public static Task<HttpResponseMessage> NgGetAsync(this HttpClient client, string path, string? tenant = null, string? link = null, string? accept = null) =>
        client.SendAsync(HttpMethod.Get, path, null, "application/json", tenant, link, accept);

    public static Task<HttpResponseMessage> NgDeleteAsync(this HttpClient client, string path, string? tenant = null) =>
        client.SendAsync(HttpMethod.Delete, path, null, "application/json", tenant);

    public static async Task<JsonNode> JsonAsync(this HttpResponseMessage response) =>
        JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

    /// <summary>Asserts the status and, for errors, the problem-details type.</summary>
    public static async Task ExpectAsync(this HttpResponseMessage response, HttpStatusCode status, string? errorType = null)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status} but got {(int)response.StatusCode}: {body}");
        if (errorType is not null)
        {
            Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
            var problem = JsonNode.Parse(body)!;
            Assert.Equal("https://uri.etsi.org/ngsi-ld/errors/" + errorType, (string?)problem["type"]);
            Assert.False(string.IsNullOrEmpty((string?)problem["title"]));
            Assert.False(string.IsNullOrEmpty((string?)problem["detail"]));
        }
    }

    public static string NewId(string type = "Thing") => $"urn:ngsi-ld:{type}:{Guid.NewGuid():N}";
}

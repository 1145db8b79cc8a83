using System.Buffers;
using System.Net.Http.Headers;
using System.Text.Json;
using CityOS.NgsiLd.Errors;

namespace CityOS.NgsiLd.JsonLd;

/// <summary>A remote @context document as downloaded: its bytes and how long the server lets it be cached.</summary>
/// <param name="Url">The URL it was requested from.</param>
/// <param name="Body">The UTF-8 JSON text, checked to be an object with an "@context" member.</param>
/// <param name="MaxAge">Freshness from Cache-Control / Expires; null when the response gave none.</param>
public sealed record DownloadedContext(string Url, ReadOnlyMemory<byte> Body, TimeSpan? MaxAge);

/// <summary>
/// Downloads remote @context documents with a timeout and a size cap. Every failure (network, timeout,
/// non-2xx, too large, not a JSON-LD context document) is LdContextNotAvailable (§5.5.2).
/// </summary>
/// <remarks>
/// Bodies served as <c>text/plain</c> or <c>application/octet-stream</c> are accepted and parsed: raw files
/// on git forges are served that way and a strict JSON-LD loader rejecting them is a known pitfall
/// (FACTS §11 #10). HTML and other explicit non-JSON types are refused.
/// </remarks>
public sealed class ContextDownloader
{
    private readonly HttpClient _httpClient;
    private readonly TimeSpan _timeout;
    private readonly long _maxBytes;

    public ContextDownloader(HttpClient httpClient, JsonLdContextOptions options)
    {
        ArgumentNullException.ThrowIfNull(httpClient);
        ArgumentNullException.ThrowIfNull(options);
        _httpClient = httpClient;
        _timeout = options.FetchTimeout;
        _maxBytes = options.MaxDocumentBytes;
    }

    /// <summary>Downloads and checks one document; cancellation by <paramref name="cancellationToken"/> propagates as such.</summary>
    public async Task<DownloadedContext> DownloadAsync(string url, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(url);
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw NotAvailable(url, "only http and https URLs can be downloaded");
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_timeout);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, uri);
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/ld+json"));
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json", 0.9));
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("*/*", 0.1));
            using var response = await _httpClient.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw NotAvailable(url, $"the server answered {(int)response.StatusCode}");
            }

            var mediaType = response.Content.Headers.ContentType?.MediaType;
            if (!IsAcceptableMediaType(mediaType))
            {
                throw NotAvailable(url, $"it is served as {mediaType}, not JSON");
            }

            if (response.Content.Headers.ContentLength > _maxBytes)
            {
                throw NotAvailable(url, $"it is larger than {_maxBytes} bytes");
            }

            var body = await ReadLimitedAsync(response.Content, url, timeout.Token).ConfigureAwait(false);
            CheckIsContextDocument(url, body);
            return new DownloadedContext(url, body, MaxAge(response));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw NotAvailable(url, $"no answer within {_timeout.TotalSeconds:0.###} s");
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            throw new NgsiLdException(ErrorType.LdContextNotAvailable, $"The @context {url} could not be downloaded: {e.Message}", e);
        }
    }

    private static bool IsAcceptableMediaType(string? mediaType)
    {
        if (mediaType is null)
        {
            return true;
        }

        return mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || mediaType.Equals("application/ld+json", StringComparison.OrdinalIgnoreCase)
            || mediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase)
            || mediaType.Equals("text/plain", StringComparison.OrdinalIgnoreCase)
            || mediaType.Equals("text/json", StringComparison.OrdinalIgnoreCase)
            || mediaType.Equals("application/octet-stream", StringComparison.OrdinalIgnoreCase);
    }

    private async Task<byte[]> ReadLimitedAsync(HttpContent content, string url, CancellationToken cancellationToken)
    {
        var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            using var buffer = new MemoryStream();
            var chunk = ArrayPool<byte>.Shared.Rent(16 * 1024);
            try
            {
                int read;
                while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    if (buffer.Length + read > _maxBytes)
                    {
                        // Content-Length can be absent or wrong (chunked), so the cap is enforced while reading.
                        throw NotAvailable(url, $"it is larger than {_maxBytes} bytes");
                    }

                    await buffer.WriteAsync(chunk.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(chunk);
            }

            // Files saved by some editors start with a UTF-8 byte order mark, which the JSON reader does not skip.
            var bytes = buffer.GetBuffer().AsSpan(0, (int)buffer.Length);
            return bytes.StartsWith("\uFEFF"u8) ? bytes[3..].ToArray() : bytes.ToArray();
        }
    }

    private static void CheckIsContextDocument(string url, byte[] body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind != JsonValueKind.Object || !document.RootElement.TryGetProperty("@context", out _))
            {
                throw NotAvailable(url, "it is not a JSON-LD context document (an object with \"@context\")");
            }
        }
        catch (JsonException)
        {
            throw NotAvailable(url, "it is not valid JSON");
        }
    }

    private static TimeSpan? MaxAge(HttpResponseMessage response)
    {
        var cacheControl = response.Headers.CacheControl;
        if (cacheControl is not null)
        {
            if (cacheControl.NoStore || cacheControl.NoCache)
            {
                return TimeSpan.Zero;
            }

            if (cacheControl.MaxAge is { } maxAge)
            {
                return maxAge;
            }
        }

        if (response.Content.Headers.Expires is { } expires)
        {
            var now = response.Headers.Date ?? DateTimeOffset.UtcNow;
            return expires > now ? expires - now : TimeSpan.Zero;
        }

        return null;
    }

    private static NgsiLdException NotAvailable(string url, string why) =>
        new(ErrorType.LdContextNotAvailable, $"The @context {url} is not available: {why}.");
}

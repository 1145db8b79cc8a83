using System.Diagnostics;
using System.Net;
using System.Text;

namespace CityOS.Server.Bench;

/// <summary>What one load phase did.</summary>
internal sealed class LoadPhaseResult
{
    public required LatencyHistogram Latency { get; init; }

    /// <summary>Requests answered with a success status (2xx other than 207).</summary>
    public long Successes { get; init; }

    public long Errors { get; init; }

    /// <summary>From the first request sent to the last answer received.</summary>
    public double ElapsedSeconds { get; init; }

    public string? FirstError { get; init; }

    public int Concurrency { get; init; }

    /// <summary>True when the phase stopped because every one of the first requests failed.</summary>
    public bool GaveUp { get; init; }

    public double SuccessesPerSecond => ElapsedSeconds > 0 ? Successes / ElapsedSeconds : 0;
}

/// <summary>
/// Keeps a fixed number of requests in flight for a bounded time and a bounded count, and measures each
/// from just before it is sent until its response body has been read to the end.
/// </summary>
internal sealed class LoadGenerator
{
    /// <summary>A phase whose first this-many requests all fail stops early: the server is down or refuses everything.</summary>
    internal const int GiveUpAfterErrors = 1000;

    private const int FirstErrorMaxChars = 600;
    private const int DrainBufferBytes = 64 * 1024;
    private readonly HttpClient _client;
    private readonly TimeSpan _requestTimeout;

    /// <param name="client">The run's one client.</param>
    /// <param name="requestTimeout">Bound of each request including its body (HttpClient.Timeout stops at the headers).</param>
    public LoadGenerator(HttpClient client, TimeSpan requestTimeout)
    {
        _client = client;
        _requestTimeout = requestTimeout;
    }

    /// <summary>True for 2xx except 207, which NGSI-LD uses for partly (or wholly) failed batches.</summary>
    public static bool IsSuccess(HttpStatusCode status) => (int)status is >= 200 and < 300 && status != HttpStatusCode.MultiStatus;

    /// <summary>
    /// Runs <paramref name="concurrency"/> workers until <paramref name="duration"/> has passed or
    /// <paramref name="maxRequests"/> requests were sent, whichever comes first.
    /// </summary>
    /// <param name="concurrency">Requests kept in flight.</param>
    /// <param name="duration">Time bound of the phase.</param>
    /// <param name="maxRequests">Count bound of the phase.</param>
    /// <param name="createRequest">
    /// Builds request number <c>sequence</c> (0-based, unique within the phase) for worker <c>worker</c>;
    /// called on that worker only, so it may reuse buffers owned by the worker.
    /// </param>
    /// <param name="cancellationToken">Stops the phase.</param>
    /// <param name="completed">
    /// Told, on the worker that sent it, whether each request succeeded, before the request is disposed;
    /// lets a scenario keep exactly which writes were acknowledged.
    /// </param>
    public async Task<LoadPhaseResult> RunAsync(
        int concurrency,
        TimeSpan duration,
        long maxRequests,
        Func<int, long, HttpRequestMessage> createRequest,
        CancellationToken cancellationToken,
        Action<int, HttpRequestMessage, bool>? completed = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(concurrency);
        ArgumentNullException.ThrowIfNull(createRequest);
        var state = new PhaseState
        {
            Deadline = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency),
            MaxRequests = maxRequests,
        };
        var start = Stopwatch.GetTimestamp();
        var workers = new Task[concurrency];
        for (var w = 0; w < concurrency; w++)
        {
            var worker = w;
            workers[w] = Task.Run(() => WorkerAsync(worker, state, createRequest, completed, cancellationToken), cancellationToken);
        }

        await Task.WhenAll(workers).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        return new LoadPhaseResult
        {
            Latency = state.Latency,
            Successes = state.Successes,
            Errors = state.Errors,
            ElapsedSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds,
            FirstError = state.FirstError,
            Concurrency = concurrency,
            GaveUp = state.GaveUp,
        };
    }

    private async Task WorkerAsync(
        int worker,
        PhaseState state,
        Func<int, long, HttpRequestMessage> createRequest,
        Action<int, HttpRequestMessage, bool>? completed,
        CancellationToken cancellationToken)
    {
        var drain = new byte[DrainBufferBytes];

        // One timeout source per worker, re-armed per request and reset after it, so bounding every
        // request (body included) costs no allocation unless a request actually times out.
        var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            while (!cancellationToken.IsCancellationRequested && Stopwatch.GetTimestamp() < state.Deadline && !state.GaveUp)
            {
                var sequence = Interlocked.Increment(ref state.Issued) - 1;
                if (sequence >= state.MaxRequests)
                {
                    break;
                }

                if (!timeout.TryReset())
                {
                    timeout.Dispose();
                    timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                }

                timeout.CancelAfter(_requestTimeout);
                using var request = createRequest(worker, sequence);
                var (failed, description) = await SendAsync(request, drain, state, timeout.Token, cancellationToken).ConfigureAwait(false);
                completed?.Invoke(worker, request, !failed);
                if (!failed)
                {
                    Interlocked.Increment(ref state.Successes);
                    continue;
                }

                var errors = Interlocked.Increment(ref state.Errors);
                if (description is not null)
                {
                    Interlocked.CompareExchange(ref state.FirstError, Shorten(description), null);
                }

                if (errors >= GiveUpAfterErrors && Volatile.Read(ref state.Successes) == 0)
                {
                    state.GaveUp = true;
                }
            }
        }
        finally
        {
            timeout.Dispose();
        }
    }

    /// <summary>Sends one request, reads its answer to the end, and records its latency when it succeeded.</summary>
    /// <returns>Whether it failed, and for the first failure of the phase a description.</returns>
    private async Task<(bool Failed, string? Description)> SendAsync(
        HttpRequestMessage request,
        byte[] drain,
        PhaseState state,
        CancellationToken requestToken,
        CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            // Headers first, then the body read into a reused buffer: the measured time includes the
            // whole response without HttpClient buffering each body into a fresh MemoryStream.
            using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, requestToken).ConfigureAwait(false);
            if (IsSuccess(response.StatusCode))
            {
                await DrainAsync(response, drain, requestToken).ConfigureAwait(false);

                // Only answered requests are timed: a fast 404 must not make a slow query look fast.
                state.Latency.RecordElapsed(started, Stopwatch.GetTimestamp());
                return (false, null);
            }

            if (Volatile.Read(ref state.FirstError) is null)
            {
                return (true, await DescribeAsync(request, response, requestToken).ConfigureAwait(false));
            }

            await DrainAsync(response, drain, requestToken).ConfigureAwait(false);
            return (true, null);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested
            && e is HttpRequestException or IOException or OperationCanceledException)
        {
            // No answer at all (refused, reset, or timed out): an error like any non-2xx.
            var reason = e is OperationCanceledException ? $"no complete answer within {_requestTimeout.TotalSeconds:0} s" : $"{e.GetType().Name}: {e.Message}";
            return (true, $"{request.Method} {request.RequestUri?.PathAndQuery}: {reason}");
        }
    }

    private static async Task<string> DescribeAsync(HttpRequestMessage request, HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        return new StringBuilder()
            .Append(request.Method).Append(' ').Append(request.RequestUri?.PathAndQuery)
            .Append(" → ").Append((int)response.StatusCode).Append(' ').Append(response.ReasonPhrase)
            .Append(body.Length > 0 ? ": " : string.Empty).Append(body)
            .ToString();
    }

    private static async Task DrainAsync(HttpResponseMessage response, byte[] drain, CancellationToken cancellationToken)
    {
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            while (await stream.ReadAsync(drain, cancellationToken).ConfigureAwait(false) > 0)
            {
            }
        }
    }

    private static string Shorten(string text) =>
        text.Length <= FirstErrorMaxChars ? text : string.Concat(text.AsSpan(0, FirstErrorMaxChars), "…");

    private sealed class PhaseState
    {
        public readonly LatencyHistogram Latency = new();
        public long Deadline;
        public long MaxRequests;
        public long Issued;
        public long Successes;
        public long Errors;
        public string? FirstError;
        public volatile bool GaveUp;
    }
}

using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;

namespace CityOS.Server.Bench;

/// <summary>
/// Enforces the workplace rule that load is only ever generated against this machine: the target must
/// name a loopback address (127.0.0.0/8, ::1) or <c>localhost</c>, and every connection is checked again
/// when it is opened, so neither a name resolving elsewhere nor a redirect can send load off the machine.
/// </summary>
internal static class LoopbackTarget
{
    /// <summary>Parses <paramref name="text"/> as an http(s) base address on the loopback interface.</summary>
    /// <param name="text">The --target value.</param>
    /// <param name="target">The base address, without a trailing slash in its path.</param>
    /// <param name="error">Why it was refused.</param>
    /// <param name="option">The option the text came from, named in <paramref name="error"/>.</param>
    public static bool TryParse(string? text, [NotNullWhen(true)] out Uri? target, [NotNullWhen(false)] out string? error, string option = "--target")
    {
        target = null;
        if (string.IsNullOrWhiteSpace(text)
            || !Uri.TryCreate(text.Trim(), UriKind.Absolute, out var uri)
            || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            error = $"{option} must be an absolute http:// or https:// URL, e.g. http://127.0.0.1:1026 (got '{text}').";
            return false;
        }

        if (!IsLoopbackHost(uri.Host))
        {
            error = $"{option} {uri.Host} is not a loopback address: cityos bench only loads this machine "
                + "(127.0.0.0/8, ::1 or localhost), by workplace rule.";
            return false;
        }

        if (!string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment))
        {
            error = $"{option} must be the server's base address, without a query or fragment.";
            return false;
        }

        target = new Uri(uri.GetLeftPart(UriPartial.Path).TrimEnd('/'));
        error = null;
        return true;
    }

    /// <summary>True for <c>localhost</c> and for IP literals in 127.0.0.0/8 or ::1 (also IPv4-mapped).</summary>
    public static bool IsLoopbackHost(string host)
    {
        ArgumentNullException.ThrowIfNull(host);
        var bare = host.Trim('[', ']');
        if (bare.Equals("localhost", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        return IPAddress.TryParse(bare, out var address) && IsLoopback(address);
    }

    /// <summary>True for 127.0.0.0/8, ::1 and their IPv4-mapped IPv6 forms.</summary>
    public static bool IsLoopback(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        return IPAddress.IsLoopback(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address);
    }

    /// <summary>
    /// A <see cref="SocketsHttpHandler.ConnectCallback"/> that connects only to loopback addresses of the
    /// requested host, whatever name resolution answers for <c>localhost</c>.
    /// </summary>
    public static async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var endpoint = context.DnsEndPoint;
        var addresses = IPAddress.TryParse(endpoint.Host.Trim('[', ']'), out var literal)
            ? [literal]
            : await Dns.GetHostAddressesAsync(endpoint.Host, cancellationToken).ConfigureAwait(false);
        SocketException? last = null;
        foreach (var address in addresses)
        {
            if (!IsLoopback(address))
            {
                continue;
            }

            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(address, endpoint.Port, cancellationToken).ConfigureAwait(false);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException e)
            {
                socket.Dispose();
                last = e;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        throw last is not null
            ? new HttpRequestException($"cannot connect to {endpoint.Host}:{endpoint.Port}: {last.Message}", last)
            : new HttpRequestException($"refusing to connect: {endpoint.Host} does not resolve to a loopback address.");
    }
}

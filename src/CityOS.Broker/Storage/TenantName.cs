using CityOS.NgsiLd.Errors;

namespace CityOS.Broker.Storage;

/// <summary>
/// The one rule for tenant names (NGSILD-Tenant), shared by the API, which rejects a bad header with 400,
/// and every store, which must never create a tenant the API would refuse.
/// </summary>
public static class TenantName
{
    /// <summary>The longest tenant name.</summary>
    public const int MaxLength = 64;

    /// <summary>
    /// True for "" (the default tenant) and for 1–64 ASCII letters, digits, '_', '-', '.' and ':'
    /// (so URN-style names such as <c>urn:ngsi-ld:tenant:city</c> work).
    /// </summary>
    public static bool IsValid(string? tenant)
    {
        if (tenant is null || tenant.Length > MaxLength)
        {
            return false;
        }

        foreach (var c in tenant)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.' or ':'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Throws BadRequestData for an invalid tenant name.</summary>
    public static void Validate(string? tenant)
    {
        if (!IsValid(tenant))
        {
            var shown = tenant is null ? "(null)" : tenant.Length <= 80 ? tenant : tenant[..80] + "…";
            throw NgsiLdException.BadRequest(
                $"Tenant '{shown}' is not a valid tenant name: use at most {MaxLength} ASCII letters, digits, '_', '-', '.' or ':'.");
        }
    }
}

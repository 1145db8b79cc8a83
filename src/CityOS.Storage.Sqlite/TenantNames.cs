using CityOS.NgsiLd.Errors;

namespace CityOS.Storage.Sqlite;

/// <summary>The tenant names the store accepts.</summary>
public static class TenantNames
{
    /// <summary>The longest tenant name.</summary>
    public const int MaxLength = 64;

    /// <summary>
    /// True for "" (the default tenant) and for 1–64 characters of ASCII letters, digits, '_', '-', '.'
    /// and ':' (so URN-style names such as urn:ngsi-ld:tenant:city work).
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
            throw NgsiLdException.BadRequest(
                $"Invalid tenant name: use at most {MaxLength} ASCII letters, digits, '_', '-', '.' or ':'.");
        }
    }
}

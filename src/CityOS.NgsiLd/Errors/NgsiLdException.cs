namespace CityOS.NgsiLd.Errors;

/// <summary>The ETSI NGSI-LD error types (GS CIM 009 §5.5.2) with the HTTP status each maps to.</summary>
public enum ErrorType
{
    InvalidRequest,
    BadRequestData,
    AlreadyExists,
    OperationNotSupported,
    ResourceNotFound,
    NonexistentTenant,
    NoMultiTenantSupport,
    TooComplexQuery,
    TooManyResults,
    LdContextNotAvailable,
    InternalError,
    Conflict,
    // Plain HTTP conditions that still answer with problem details.
    NotAcceptable,
    UnsupportedMediaType,
    PayloadTooLarge,
    MethodNotAllowed,
    LengthRequired,
}

/// <summary>Maps <see cref="ErrorType"/> to its URI and HTTP status.</summary>
public static class ErrorTypes
{
    private const string Base = "https://uri.etsi.org/ngsi-ld/errors/";

    /// <summary>The problem-details <c>type</c> URI of an error.</summary>
    public static string Uri(ErrorType type) => type switch
    {
        ErrorType.InvalidRequest => Base + "InvalidRequest",
        ErrorType.BadRequestData => Base + "BadRequestData",
        ErrorType.AlreadyExists => Base + "AlreadyExists",
        ErrorType.OperationNotSupported => Base + "OperationNotSupported",
        ErrorType.ResourceNotFound => Base + "ResourceNotFound",
        ErrorType.NonexistentTenant => Base + "NonexistentTenant",
        ErrorType.NoMultiTenantSupport => Base + "NoMultiTenantSupport",
        ErrorType.TooComplexQuery => Base + "TooComplexQuery",
        ErrorType.TooManyResults => Base + "TooManyResults",
        ErrorType.LdContextNotAvailable => Base + "LdContextNotAvailable",
        ErrorType.Conflict => Base + "Conflict",
        ErrorType.NotAcceptable => Base + "NotAcceptable",
        ErrorType.UnsupportedMediaType => Base + "UnsupportedMediaType",
        ErrorType.PayloadTooLarge => Base + "PayloadTooLarge",
        ErrorType.MethodNotAllowed => Base + "MethodNotAllowed",
        ErrorType.LengthRequired => Base + "LengthRequired",
        _ => Base + "InternalError",
    };

    /// <summary>The HTTP status an error is answered with.</summary>
    public static int Status(ErrorType type) => type switch
    {
        ErrorType.InvalidRequest or ErrorType.BadRequestData => 400,
        ErrorType.AlreadyExists or ErrorType.Conflict => 409,
        ErrorType.OperationNotSupported => 422,
        ErrorType.ResourceNotFound or ErrorType.NonexistentTenant => 404,
        ErrorType.NoMultiTenantSupport => 501,
        ErrorType.TooComplexQuery or ErrorType.TooManyResults => 403,
        ErrorType.LdContextNotAvailable => 503,
        ErrorType.NotAcceptable => 406,
        ErrorType.UnsupportedMediaType => 415,
        ErrorType.PayloadTooLarge => 413,
        ErrorType.MethodNotAllowed => 405,
        ErrorType.LengthRequired => 411,
        _ => 500,
    };

    /// <summary>A short human title for an error type.</summary>
    public static string Title(ErrorType type) => type switch
    {
        ErrorType.InvalidRequest => "Invalid request",
        ErrorType.BadRequestData => "Bad request data",
        ErrorType.AlreadyExists => "Already exists",
        ErrorType.OperationNotSupported => "Operation not supported",
        ErrorType.ResourceNotFound => "Resource not found",
        ErrorType.NonexistentTenant => "Nonexistent tenant",
        ErrorType.TooManyResults => "Too many results",
        ErrorType.TooComplexQuery => "Too complex query",
        ErrorType.LdContextNotAvailable => "@context not available",
        ErrorType.NotAcceptable => "Not acceptable",
        ErrorType.UnsupportedMediaType => "Unsupported media type",
        ErrorType.PayloadTooLarge => "Payload too large",
        ErrorType.MethodNotAllowed => "Method not allowed",
        ErrorType.LengthRequired => "Length required",
        ErrorType.Conflict => "Conflict",
        ErrorType.NoMultiTenantSupport => "No multi-tenant support",
        _ => "Internal error",
    };
}

/// <summary>
/// An NGSI-LD error that the API answers with an RFC 7807 problem-details body. Thrown by parsers,
/// validators and the broker; never carries secrets or stack traces to the client.
/// </summary>
public sealed class NgsiLdException : Exception
{
    public NgsiLdException(ErrorType type, string detail)
        : base(detail)
    {
        Type = type;
    }

    public NgsiLdException(ErrorType type, string detail, Exception inner)
        : base(detail, inner)
    {
        Type = type;
    }

    public NgsiLdException()
        : this(ErrorType.InternalError, "Internal error")
    {
    }

    public NgsiLdException(string message)
        : this(ErrorType.InternalError, message)
    {
    }

    public NgsiLdException(string message, Exception innerException)
        : this(ErrorType.InternalError, message, innerException)
    {
    }

    public ErrorType Type { get; }

    public int Status => ErrorTypes.Status(Type);

    public static NgsiLdException BadRequest(string detail) => new(ErrorType.BadRequestData, detail);

    public static NgsiLdException InvalidRequest(string detail) => new(ErrorType.InvalidRequest, detail);

    public static NgsiLdException NotFound(string detail) => new(ErrorType.ResourceNotFound, detail);
}

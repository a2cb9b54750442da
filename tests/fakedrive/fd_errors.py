"""Google API error bodies, as the Drive v3 API returns them.

Reference: "Resolve errors" (drive/api/guides/handle-errors):
    {"error": {"code": 404, "message": "File not found: X.",
               "errors": [{"domain": "global", "reason": "notFound",
                           "message": "File not found: X.",
                           "locationType": "parameter",
                           "location": "fileId"}]}}
Errors raised by Google's front end (authentication, JSON parsing) also carry a
"status" string (UNAUTHENTICATED, INVALID_ARGUMENT, PERMISSION_DENIED).
"""

# Human messages Google uses for reasons that fault rules may name.
REASON_MESSAGES = {
    "backendError": "Backend Error",
    "internalError": "Internal Error",
    "rateLimitExceeded": "Rate Limit Exceeded",
    "userRateLimitExceeded": "User Rate Limit Exceeded",
    "sharingRateLimitExceeded":
        "Rate limit exceeded. User message: \"Sorry, you have exceeded your "
        "sharing quota.\"",
    "dailyLimitExceeded": "Daily Limit Exceeded",
    "quotaExceeded": "Quota exceeded",
    "storageQuotaExceeded":
        "The user's Drive storage quota has been exceeded.",
    "notFound": "Not Found",
    "badRequest": "Bad Request",
    "invalid": "Invalid Value",
    "authError": "Invalid Credentials",
    "insufficientFilePermissions":
        "The user does not have sufficient permissions for this file.",
    "forbidden": "Forbidden",
    "conflict": "Conflict",
    "preconditionFailed": "Precondition Failed",
}

USAGE_LIMIT_REASONS = {
    "rateLimitExceeded", "userRateLimitExceeded", "dailyLimitExceeded",
    "quotaExceeded", "storageQuotaExceeded", "sharingRateLimitExceeded",
}


class ApiError(Exception):
    """An error response in Google's JSON error format."""

    def __init__(self, code, reason, message, domain=None, location=None,
                 location_type="parameter", status=None, headers=None,
                 item_message=None):
        super().__init__(message)
        self.item_message = item_message or message
        self.code = code
        self.reason = reason
        self.message = message
        self.domain = domain or ("usageLimits" if reason in USAGE_LIMIT_REASONS
                                 else "global")
        self.location = location
        self.location_type = location_type
        self.status = status
        self.headers = dict(headers or {})

    def body(self):
        item = {"message": self.item_message, "domain": self.domain,
                "reason": self.reason}
        if self.location is not None:
            item["location"] = self.location
            item["locationType"] = self.location_type
        err = {"code": self.code, "message": self.message, "errors": [item]}
        if self.status:
            err["status"] = self.status
        return {"error": err}


def fault_error(status, reason, message=None):
    """The error a fault rule injects."""
    msg = message or REASON_MESSAGES.get(reason, reason)
    return ApiError(status, reason, msg)


def not_found(file_id, location="fileId"):
    return ApiError(404, "notFound", "File not found: %s." % file_id,
                    location=location)


def invalid_value(location):
    return ApiError(400, "invalid", "Invalid Value", location=location)


def required(param):
    return ApiError(400, "required", "Required parameter: %s" % param,
                    location=param)


def bad_request(message, location=None):
    return ApiError(400, "badRequest", message, location=location)


def invalid_fields(selection):
    return ApiError(400, "invalidParameter",
                    "Invalid field selection %s" % selection,
                    location="fields")


def field_not_writable(message=None):
    return ApiError(403, "fieldNotWritable", message or
                    "The resource body includes fields which are not directly "
                    "writable.")


def insufficient_file_permissions():
    return ApiError(403, "insufficientFilePermissions",
                    REASON_MESSAGES["insufficientFilePermissions"])


def insufficient_scopes():
    return ApiError(403, "insufficientPermissions",
                    "Request had insufficient authentication scopes.",
                    status="PERMISSION_DENIED")


def storage_quota_exceeded():
    return ApiError(403, "storageQuotaExceeded",
                    REASON_MESSAGES["storageQuotaExceeded"])


def user_rate_limit():
    return ApiError(403, "userRateLimitExceeded",
                    REASON_MESSAGES["userRateLimitExceeded"])


def parse_error(detail):
    return ApiError(400, "parseError",
                    "Invalid JSON payload received. %s" % detail,
                    status="INVALID_ARGUMENT")


def unknown_body_field(name):
    return ApiError(400, "badRequest",
                    "Invalid JSON payload received. Unknown name \"%s\": "
                    "Cannot find field." % name, status="INVALID_ARGUMENT")


_AUTH_SEE = ("Expected OAuth 2 access token, login cookie or other valid "
             "authentication credential. See "
             "https://developers.google.com/identity/sign-in/web/"
             "devconsole-project.")


def auth_missing():
    """No credentials at all (reason "required", errors[].message "Login
    Required.")."""
    return ApiError(401, "required",
                    "Request is missing required authentication credential. "
                    + _AUTH_SEE, location="Authorization",
                    location_type="header", status="UNAUTHENTICATED",
                    item_message="Login Required.",
                    headers={"WWW-Authenticate":
                             'Bearer realm="https://accounts.google.com/"'})


def auth_invalid():
    """Unknown, revoked or expired access token."""
    return ApiError(401, "authError",
                    "Request had invalid authentication credentials. "
                    + _AUTH_SEE, location="Authorization",
                    location_type="header", status="UNAUTHENTICATED",
                    item_message="Invalid Credentials",
                    headers={"WWW-Authenticate":
                             'Bearer realm="https://accounts.google.com/", '
                             'error="invalid_token"'})

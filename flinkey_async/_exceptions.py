"""Every error flinkey_async raises, in one tree.

```
FlinkeyError
├── ValidationError            bad input, caught before anything is sent (also a ValueError)
├── ODataError                 a query that cannot be built, printed or evaluated (a ValueError)
│   ├── ODataSyntaxError       query text that does not parse; knows the position
│   ├── UnknownFieldError      a field the model does not have (also an AttributeError)
│   └── UnsupportedODataError  valid OData this package cannot represent
├── DecodeError                a response body that is not the documented shape
├── NotSelectedError           a field the query's ``$select`` left out (a KeyError, AttributeError)
├── ClientClosedError          the client was closed before or during the call (a RuntimeError)
├── TransportError             no usable HTTP answer
│   ├── ConnectError           the connection could not be made, or broke
│   ├── RequestTimeoutError    no answer in time (also a TimeoutError)
│   └── OutcomeUnknownError    a create may or may not have happened; it was not replayed
└── APIError                   the service answered with an error status
    ├── BadRequestError              400
    ├── AuthenticationError          401
    │   ├── InvalidAPIKeyError       401 "Access denied due to invalid subscription key..."
    │   ├── InvalidTokenError        401 "Unauthorized. Access token is missing or invalid."
    │   └── InvalidCredentialsError  the token endpoint refused the username or password
    ├── NotFoundError                404
    │   └── ManagerNotFoundError     404 "Unable to find a manager for the given OAuth ID..."
    ├── ConflictError                409
    ├── UnsupportedMediaTypeError    415
    ├── RateLimitError               429 (``retry_after`` in seconds, when the service said)
    └── ServerError                  5xx
```

Errors carry the HTTP method and the URL path, never the query's secrets: the API key, the
password and the token are not part of any message.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from . import _messages as messages

__all__ = [
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConflictError",
    "ConnectError",
    "DecodeError",
    "FlinkeyError",
    "InvalidAPIKeyError",
    "InvalidCredentialsError",
    "InvalidTokenError",
    "ManagerNotFoundError",
    "NotFoundError",
    "NotSelectedError",
    "ODataError",
    "ODataSyntaxError",
    "OutcomeUnknownError",
    "RateLimitError",
    "RequestTimeoutError",
    "ServerError",
    "TransportError",
    "UnsupportedMediaTypeError",
    "ValidationError",
    "error_from_response",
]


class FlinkeyError(Exception):
    """Base class of every error raised by flinkey_async."""


class ValidationError(FlinkeyError, ValueError):
    """An argument breaks a rule the API documents; nothing was sent.

    ``field`` names the argument (``"name"``, ``"car_id"``, ...).
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ODataError(FlinkeyError, ValueError):
    """An OData query that cannot be built, printed or evaluated."""


class ODataSyntaxError(ODataError):
    """OData text that does not parse. ``position`` is the 0-based index where it goes wrong."""

    def __init__(self, message: str, text: str, position: int) -> None:
        super().__init__(f"{message} at position {position} in {text!r}")
        self.message = message
        self.text = text
        self.position = position


class DecodeError(FlinkeyError):
    """The service answered, but the body is not the documented shape.

    ``path`` names where in the payload it goes wrong (for example ``[3].licensePlate``).
    """

    def __init__(
        self, message: str, *, path: str = "", method: str = "", url_path: str = ""
    ) -> None:
        where = f" at {path}" if path else ""
        request = f" ({method} {url_path})" if method else ""
        super().__init__(f"unexpected response body{where}: {message}{request}")
        self.message = message
        self.path = path
        self.method = method
        self.url_path = url_path


class NotSelectedError(FlinkeyError, KeyError, AttributeError):
    """A field read from a :class:`~flinkey_async.Selected` result that ``$select`` left out.

    The model holds ``None`` there, which would read as a real null. ``field`` is the
    attribute name, ``selected`` the names the query did select.
    """

    def __init__(self, field: str, selected: frozenset[str], model: str) -> None:
        chosen = ", ".join(sorted(selected)) or "nothing"
        self.message = f"{model}.{field} was not selected by the query (selected: {chosen})"
        super().__init__(self.message)
        self.field = field
        self.selected = selected

    def __str__(self) -> str:  # KeyError would quote the message
        return self.message


class ClientClosedError(FlinkeyError, RuntimeError):
    """The client was closed, before the call or while it was in flight; nothing more is sent.

    Also a ``RuntimeError``, which is what a call on a closed client raised before.
    """


class TransportError(FlinkeyError):
    """No usable HTTP answer: the request failed below HTTP."""

    def __init__(self, message: str, *, method: str, path: str) -> None:
        super().__init__(f"{message} ({method} {path})")
        self.message = message
        self.method = method
        self.path = path


class ConnectError(TransportError):
    """The connection could not be made, or broke while the request was in flight."""


class RequestTimeoutError(TransportError, TimeoutError):
    """The service did not answer in time."""


class OutcomeUnknownError(TransportError):
    """A request that creates an entity failed after it may have reached the service.

    It was not replayed, because a replay could create a second entity. Look the entity up (by a
    natural key such as a group's name or a car's VIN) before trying again.
    """


class APIError(FlinkeyError):
    """The service answered with an error status.

    ``message`` is the service's text (JSON ``message``, an RFC 7807 ``title``, or the plain-text
    body); ``trace_id`` is set when an RFC 7807 document carried one.
    """

    status_code: ClassVar[int | None] = None

    def __init__(
        self,
        status: int,
        message: str,
        *,
        method: str,
        path: str,
        trace_id: str | None = None,
    ) -> None:
        super().__init__(f"{status} {message} ({method} {path})")
        self.status = status
        self.message = message
        self.method = method
        self.path = path
        self.trace_id = trace_id


class BadRequestError(APIError):
    """400: the service rejected the request's content."""

    status_code = 400


class AuthenticationError(APIError):
    """401: the API key or the token was not accepted."""

    status_code = 401


class InvalidAPIKeyError(AuthenticationError):
    """401: the ``flinkey-API-Key`` is wrong or its subscription is not active."""


class InvalidTokenError(AuthenticationError):
    """401: the bearer token is missing, malformed, expired or revoked."""


class InvalidCredentialsError(AuthenticationError):
    """The token endpoint refused the API Manager's username or password.

    OAuth2 servers answer a wrong password with 400 ``invalid_grant`` or with 401; both end here,
    with the service's status kept in ``status``.
    """


class NotFoundError(APIError):
    """404: the entity does not exist, or is not assigned to this customer."""

    status_code = 404


class ManagerNotFoundError(NotFoundError):
    """404: the token's API Manager is unknown to the service."""


class ConflictError(APIError):
    """409: the change conflicts with the current state (duplicate name, existing member...)."""

    status_code = 409


class UnsupportedMediaTypeError(APIError):
    """415: the request body was not sent as ``application/json``."""

    status_code = 415


class RateLimitError(APIError):
    """429: too many requests. ``retry_after`` is the service's hint in seconds, if it gave one."""

    status_code = 429

    def __init__(
        self,
        status: int,
        message: str,
        *,
        method: str,
        path: str,
        trace_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(status, message, method=method, path=path, trace_id=trace_id)
        self.retry_after = retry_after


class ServerError(APIError):
    """5xx: the service failed."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    404: NotFoundError,
    409: ConflictError,
    415: UnsupportedMediaTypeError,
    429: RateLimitError,
}

_BY_MESSAGE: dict[tuple[int, str], type[APIError]] = {
    (401, messages.INVALID_API_KEY): InvalidAPIKeyError,
    (401, messages.INVALID_TOKEN): InvalidTokenError,
    (404, messages.MANAGER_NOT_FOUND): ManagerNotFoundError,
}

_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    408: "Request Timeout",
    409: "Conflict",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

_MAX_MESSAGE = 500


def _message_from_body(status: int, body: bytes) -> tuple[str, str | None]:
    """The service's text from one of the three documented body shapes, and a trace id."""
    text = body.decode("utf-8", errors="replace").strip()
    if text.startswith("{"):
        try:
            document: Any = json.loads(text)
        except ValueError:
            document = None
        if isinstance(document, dict):
            trace_id = document.get("traceId")
            trace = str(trace_id) if trace_id is not None else None
            for key in ("message", "title", "detail", "error_description", "error"):
                value = document.get(key)
                if isinstance(value, str) and value:
                    return value, trace
            return _REASONS.get(status, f"HTTP {status}"), trace
    # Plain-text bodies may be wrapped over lines ("...subscription key. \n  Make sure ...").
    text = " ".join(text.split())
    if not text:
        return _REASONS.get(status, f"HTTP {status}"), None
    if len(text) > _MAX_MESSAGE:
        text = text[:_MAX_MESSAGE] + "..."
    return text, None


def _classify(status: int, message: str) -> type[APIError]:
    by_message = _BY_MESSAGE.get((status, message))
    if by_message is not None:
        return by_message
    if status == 401:
        # A 401 that does not quote the key message is about the token: the gateway checks the
        # key first, and the token is what a client can repair by asking for a new one.
        return InvalidAPIKeyError if "subscription key" in message else InvalidTokenError
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, APIError)


def error_from_response(
    status: int,
    body: bytes,
    *,
    method: str,
    path: str,
    retry_after: float | None = None,
) -> APIError:
    """The typed error for an error response: status and the documented message decide the class."""
    message, trace_id = _message_from_body(status, body)
    cls = _classify(status, message)
    if cls is RateLimitError:
        return RateLimitError(
            status, message, method=method, path=path, trace_id=trace_id, retry_after=retry_after
        )
    return cls(status, message, method=method, path=path, trace_id=trace_id)

"""The sandbox's answers and the request reading its handlers share.

The response builders (JSON, plain text, problem JSON, 204), :class:`_Reply` to end a request
from deep inside a handler, and the readers that bind what a request carries as the service
does: ids as ASP.NET binds an ``int`` (:func:`parse_int32`), JSON bodies under one policy
(:mod:`._body`), JSON-Patch documents, search dates and the token form.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import parse_qsl

from aiohttp import web

from .. import _messages as messages
from .._json import dumps
from ._body import InvalidJSON, read_json

__all__ = ["SandboxMessages", "parse_int32"]

logger = logging.getLogger("flinkey_async.sandbox")

_JSON: Final = "application/json; charset=utf-8"
_TEXT: Final = "text/plain; charset=utf-8"
_PROBLEM: Final = "application/problem+json; charset=utf-8"
# ASCII digits only: Python's \d (and so strptime) also takes full-width or Arabic-Indic digits.
_SEARCH_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_INT32: Final = re.compile(r"[\t\n\v\f\r ]*([+-]?)0*([0-9]+)[\t\n\v\f\r ]*")
_INT32_MIN: Final = -(2**31)
_INT32_MAX: Final = 2**31 - 1
_FORM_CHARSETS: Final = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})


class SandboxMessages:
    """The sandbox's own texts, for cases the reference pages do not cover."""

    RESOURCE_NOT_FOUND: Final = "Resource not found"
    SERVICE_UNAVAILABLE: Final = "Service unavailable."
    RATE_LIMITED: Final = "Rate limit is exceeded. Try again in {seconds} seconds."
    INVALID_JSON: Final = "The request body is not valid JSON."
    NOT_AN_OBJECT: Final = "The request body must be a JSON object."
    NOT_A_PATCH: Final = "The request body must be a JSON-Patch document: an array of operations."
    PATCH_OPERATION: Final = (
        "Unsupported JSON-Patch operation {op}: the operations allowed here are {allowed}."
    )
    PATCH_PATH: Final = "Unsupported JSON-Patch path {path}: the paths allowed here are {allowed}."
    PATCH_VALUE: Final = "The value for '{path}' must be a string or null."
    FIELD_TYPE: Final = "The field '{field}' must be a string or null."
    ID_TYPE: Final = "The field '{field}' must be an integer."
    ODATA: Final = "Invalid OData query: {problem}"
    LOCATION_FILTERED: Final = "The location of this car does not match the $filter."
    TOKEN_CONTENT_TYPE: Final = (
        "The token request must be sent as application/x-www-form-urlencoded."
    )
    TOKEN_MISSING: Final = "The request is missing the '{field}' parameter."
    TOKEN_GRANT: Final = "Only the 'password' grant type is supported."
    TOKEN_LOGIN: Final = "The user name or password is incorrect."
    TOKEN_ENCODING: Final = "The token request must be encoded as UTF-8."


# -- responses ----------------------------------------------------------------------------------


class _Reply(Exception):
    """Ends a request with a ready answer (raised from deep inside a handler)."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


class _InjectedCrash(RuntimeError):
    """The handler failure a ``crash`` fault simulates."""


def _json(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> web.Response:
    all_headers = {"Content-Type": _JSON}
    if headers:
        all_headers.update(headers)
    return web.Response(status=status, body=dumps(payload), headers=all_headers)


def _text(status: int, message: str) -> web.Response:
    # A message may quote request text that did not decode (kept as lone surrogates).
    body = message.encode("utf-8", "backslashreplace")
    return web.Response(status=status, body=body, headers={"Content-Type": _TEXT})


def _no_content() -> web.Response:
    return web.Response(status=204)


def _fail(status: int, message: str) -> _Reply:
    return _Reply(_text(status, message))


def _unauthorized(message: str) -> web.Response:
    return _json(401, {"statusCode": 401, "message": message})


def _unsupported_media_type() -> web.Response:
    problem = {
        "type": messages.UNSUPPORTED_MEDIA_TYPE_TYPE,
        "title": messages.UNSUPPORTED_MEDIA_TYPE_TITLE,
        "status": "415",
        "traceId": f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-00",
    }
    return web.Response(status=415, body=dumps(problem), headers={"Content-Type": _PROBLEM})


_INTERNAL_ERROR_BODY: Final = messages.INTERNAL_SERVER_ERROR.encode()


def _internal_error() -> web.Response:
    return web.Response(status=500, body=_INTERNAL_ERROR_BODY, headers={"Content-Type": _TEXT})


# -- request parsing ----------------------------------------------------------------------------


def parse_int32(text: str) -> int | None:
    """``text`` as ASP.NET binds an ``int`` (route value or header); None if it does not bind.

    .NET parses with ``NumberStyles.Integer`` and the invariant culture: ASCII digits only,
    optional leading and trailing white space (tab, line feed, vertical tab, form feed, carriage
    return, space), one leading ``+`` or ``-``, leading zeros allowed. Full-width or Arabic-Indic
    digits, ``1_001`` and ``1e3`` do not bind (Python's ``int()`` takes the first two).

    Out of range: the ids are ``int`` (Int32) in the service, and an ``{id:int}`` route
    constraint, like ``int.TryParse``, refuses a value beyond -2,147,483,648 ... 2,147,483,647
    rather than wrapping or clamping it. So such an id matches no route (404 "Resource not
    found", the answer for any id that is not a number), and such a ``Customer-ID`` names no
    customer (the documented 404). Leading zeros are dropped before converting, so no length of
    input reaches Python's limit on converting long digit strings.
    """
    match = _INT32.fullmatch(text)
    if match is None:
        return None
    sign, digits = match.groups()
    if len(digits) > 10:
        return None
    value = int(digits)
    if sign == "-":
        value = -value
    return value if _INT32_MIN <= value <= _INT32_MAX else None


def _path_id(request: web.Request, name: str) -> int:
    value = parse_int32(request.match_info[name])
    assert value is not None  # checked before the request reached the handler
    return value


async def _json_body(request: web.Request) -> Any:
    raw = await request.read()
    try:
        return read_json(raw)
    except InvalidJSON:
        raise _fail(400, SandboxMessages.INVALID_JSON) from None


async def _json_object(request: web.Request) -> dict[str, Any]:
    body = await _json_body(request)
    if not isinstance(body, dict):
        raise _fail(400, SandboxMessages.NOT_AN_OBJECT)
    return body


def _optional_string(body: Mapping[str, Any], field: str) -> str | None:
    value = body.get(field)
    if value is not None and not isinstance(value, str):
        raise _fail(400, SandboxMessages.FIELD_TYPE.format(field=field))
    return value


def _member_id(body: Mapping[str, Any], field: str) -> int | None:
    """The id in ``{"carId": 12}``; a missing or null id is no id (it matches nothing).

    The service binds it to an ``int``: a fraction, a boolean, a string or a number beyond
    the Int32 range is refused with the field's text.
    """
    value = body.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(400, SandboxMessages.ID_TYPE.format(field=field))
    if not _INT32_MIN <= value <= _INT32_MAX:
        raise _fail(400, SandboxMessages.ID_TYPE.format(field=field))
    return value


def _name_length(name: str) -> int:
    """The length the service checks: .NET counts UTF-16 code units, so an emoji counts two."""
    return len(name.encode("utf-16-le", "surrogatepass")) // 2


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _patch_operations(
    body: Any, *, allowed_ops: tuple[str, ...], allowed_paths: tuple[str, ...]
) -> list[tuple[str, str, Any]]:
    """Check a JSON-Patch document against the operations and paths a page allows."""
    if not isinstance(body, list) or not all(isinstance(op, dict) for op in body):
        raise _fail(400, SandboxMessages.NOT_A_PATCH)
    operations = []
    for entry in body:
        op, path = entry.get("op"), entry.get("path")
        if op not in allowed_ops:
            raise _fail(
                400,
                SandboxMessages.PATCH_OPERATION.format(
                    op=_quote(op), allowed=", ".join(f"'{o}'" for o in allowed_ops)
                ),
            )
        if path not in allowed_paths:
            raise _fail(
                400,
                SandboxMessages.PATCH_PATH.format(
                    path=_quote(path), allowed=", ".join(allowed_paths)
                ),
            )
        value = entry.get("value")
        if value is not None and not isinstance(value, str):
            raise _fail(400, SandboxMessages.PATCH_VALUE.format(path=path))
        operations.append((op, path, value if op == "replace" else None))
    return operations


def _quote(value: Any) -> str:
    if value is None:
        return "(missing)"
    return f"'{value}'" if isinstance(value, str) else str(value)


def _parse_search_date(text: str) -> datetime:
    if _SEARCH_DATE.fullmatch(text) is None:
        raise _fail(400, messages.INVALID_DATE_FORMAT)
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:  # 2025-02-30T00:00:00Z and the like
        raise _fail(400, messages.INVALID_DATE_FORMAT) from None


# -- the token form, and the answer of no route ------------------------------------------------


async def _token_form(request: web.Request) -> dict[str, str] | None:
    """The form fields (the first of a repeated name), or None if the form is not UTF-8.

    Read here rather than with ``request.post()``, which fails on an unknown ``charset`` and on
    bytes that do not decode; both are the client's mistake, answered with a 400.
    """
    charset = request.charset
    if charset is not None and charset.lower() not in _FORM_CHARSETS:
        return None
    raw = await request.read()
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:  # raw bytes, or %XX escapes, that are not UTF-8
        return None
    form: dict[str, str] = {}
    for name, value in pairs:
        form.setdefault(name, value)
    return form


def _oauth_error(error: str, description: str) -> web.Response:
    """An RFC 6749 section 5.2 error answer of the token endpoint."""
    return _json(
        400,
        {"error": error, "error_description": description},
        {"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


def _not_found() -> web.Response:
    return _json(404, {"statusCode": 404, "message": SandboxMessages.RESOURCE_NOT_FOUND})

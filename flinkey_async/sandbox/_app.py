"""The aiohttp.web application: the 28 documented endpoints, ``GET /customers`` and the token
endpoint, answering with the statuses, bodies and messages of the reference pages.

Every endpoint runs through the same gate, in the order a real API gateway and service check
things:

1. ``flinkey-API-Key``: missing or wrong -> 401 JSON, key message (the gateway answers first);
2. bearer token: missing, malformed, wrongly signed, expired or revoked -> 401 JSON, token
   message;
3. ``Content-Type`` of a request with a body: not ``application/json`` -> 415 problem JSON;
4. ``Customer-ID``: missing, not an integer, or not a customer of this API Manager -> 404
   "Unable to find a manager for the given OAuth ID claim data.";
5. faults (latency, 500, 503, 429, connection reset before processing, handler crash);
6. the handler, whose own 400/404/409 answers come from :mod:`flinkey_async._messages`;
7. after-processing faults (reset after processing, truncated body).

Ids in the path and ``Customer-ID`` are bound as ASP.NET binds an ``int`` (:func:`parse_int32`);
an id that does not bind matches no route. Request bodies are read under one JSON policy
(:mod:`._body`). An exception a handler does not expect becomes ``500 Internal server error.``
(plain text); a client that goes away mid-request is a debug line, since nobody can be answered.

Rows are served from the state's cached JSON form; OData options, on the endpoints the pages
mark, go through :mod:`flinkey_async.odata` (the same parser and evaluator the client uses),
after a check against the entity's model (:mod:`._odata`) so a type clash is a 400 whatever
the data.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import socket
import struct
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import parse_qsl

import attrs
from aiohttp import web

from .. import _api
from .. import _messages as messages
from .._api import Scope
from .._exceptions import ODataError
from .._json import dumps
from .._models import Car, Location, Product, Service, wire_name
from ..odata import Query, apply_query, apply_to_entity, check_properties, parse_query
from ._auth import Credentials, TokenAuthority
from ._body import InvalidJSON, read_json
from ._faults import PRE_KINDS, Counters, Decision, FaultKind, Faults
from ._odata import Schema, check_types, public_problem, schema_of
from ._routes import ENDPOINTS, ODATA_ENDPOINTS, served
from ._state import SandboxState

__all__ = [
    "ENDPOINTS",
    "ODATA_ENDPOINTS",
    "SandboxMessages",
    "build_app",
]

logger = logging.getLogger("flinkey_async.sandbox")

Handler = Callable[[web.Request, int], Awaitable[web.Response]]

_JSON: Final = "application/json; charset=utf-8"
_TEXT: Final = "text/plain; charset=utf-8"
_PROBLEM: Final = "application/problem+json; charset=utf-8"
# ASCII digits only: Python's \d (and so strptime) also takes full-width or Arabic-Indic digits.
_SEARCH_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_PARAM: Final = re.compile(r"\{(\w+)\}")
_INT32: Final = re.compile(r"[\t\n\v\f\r ]*([+-]?)0*([0-9]+)[\t\n\v\f\r ]*")
_INT32_MIN: Final = -(2**31)
_INT32_MAX: Final = 2**31 - 1
_FORM_CHARSETS: Final = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})
_CAR_FIELDS: Final = {field.pointer: field.attribute for field in _api.CAR_FIELDS}
_CAR_OPTIONAL_FIELDS: Final = {
    field.wire: field.attribute for field in _api.CAR_FIELDS if field.nullable
}


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


# -- OData ---------------------------------------------------------------------------------------

_EMPTY_QUERY: Final = Query()
_UNREADABLE: Final = "the query cannot be read or evaluated"
_LIMITS: Final = (ValueError, ArithmeticError, RecursionError)


@attrs.frozen
class _Entity:
    """What an OData query may name on one kind of entity, and the kinds of its values."""

    properties: frozenset[str]
    schema: Schema

    @classmethod
    def of(cls, model: type[Any]) -> _Entity:
        names = frozenset(wire_name(field.name) for field in attrs.fields(model))
        return cls(names, schema_of(model))


CAR: Final = _Entity.of(Car)
PRODUCT: Final = _Entity.of(Product)
SERVICE: Final = _Entity.of(Service)
LOCATION: Final = _Entity.of(Location)


def _odata_query(request: web.Request, entity: _Entity) -> Query | None:
    """The request's OData options (None without any), checked against the entity.

    Options that do not parse, name an unknown property or compare a property with a literal of
    another type answer 400 here, before any lookup, so the answer depends on the query alone.
    The query string is decoded as the live service's web framework decodes it: ``%XX``
    escapes, and ``+`` as a space (a literal plus must be sent as ``%2B``). A repeated option
    is an error.
    """
    if not request.rel_url.raw_query_string:
        return None
    try:
        query = parse_query(request.query)
        check_properties(query, entity.properties)
        check_types(query, entity.schema)
    except ODataError as exc:
        raise _fail(400, SandboxMessages.ODATA.format(problem=exc)) from None
    except Exception as exc:
        # Whatever else escapes the parser (a 5,000-digit number, say) is still a query that
        # cannot be read: a 400, never a 500.
        raise _unreadable(exc) from None
    return None if query == _EMPTY_QUERY else query


def _unreadable(exc: Exception) -> _Reply:
    """The 400 for a query the OData package failed on without its own error.

    Limits (a number too long to convert, nesting too deep) are expected; anything else is a
    defect of the parser or evaluator, answered the same way but logged with its traceback.
    """
    if not isinstance(exc, _LIMITS):
        logger.warning("the OData package failed on a query, answering 400", exc_info=exc)
    return _fail(400, SandboxMessages.ODATA.format(problem=_UNREADABLE))


def _evaluation_failed(exc: Exception) -> _Reply:
    """A 400 for a type error met on a row: it names types, never the row's values."""
    if not isinstance(exc, ODataError):
        return _unreadable(exc)
    return _fail(400, SandboxMessages.ODATA.format(problem=public_problem(exc)))


def _odata_list(query: Query | None, rows: list[dict[str, Any]]) -> web.Response:
    """A list answer under ``$filter``/``$orderby``/``$skip``/``$top``/``$select``.

    ``$count`` is checked and accepted, and the body stays a plain array without a count, as
    the live service answers.
    """
    if query is None:
        return _json(200, rows)
    try:
        shaped = apply_query(query, rows)
    except Exception as exc:
        raise _evaluation_failed(exc) from None
    return _json(200, shaped)


def _odata_entity(query: Query | None, row: dict[str, Any], not_found: str) -> web.Response:
    """A single entity under ``$select``; a ``$filter`` it does not pass answers 404.

    ``not_found`` is the endpoint's text for "this entity does not exist" (as if the id were
    unknown), or, where no documented text says only that, the sandbox's own.
    """
    if query is None:
        return _json(200, row)
    try:
        shaped = apply_to_entity(query, row)
    except Exception as exc:
        raise _evaluation_failed(exc) from None
    if shaped is None:
        raise _fail(404, not_found)
    return _json(200, shaped)


# -- the application ----------------------------------------------------------------------------


class _SandboxApp:
    """Holds what the handlers share and builds the aiohttp application."""

    def __init__(
        self,
        *,
        state: SandboxState,
        credentials: Credentials,
        authority: TokenAuthority,
        faults: Faults,
        counters: Counters,
    ) -> None:
        self.state = state
        self.credentials = credentials
        self.authority = authority
        self.faults = faults
        self.counters = counters

    # -- the gate --------------------------------------------------------------------------

    def _admit(self, request: web.Request, scope: Scope, has_body: bool) -> int:
        """Check key, token, content type and customer, in that order; the customer id."""
        headers = request.headers
        if not self.credentials.api_key_matches(headers.get("flinkey-API-Key")):
            raise _Reply(_unauthorized(messages.INVALID_API_KEY))
        if scope == "token":
            if self.faults.config.token_outage:
                raise _fail(503, SandboxMessages.SERVICE_UNAVAILABLE)
            return 0
        authorization = headers.get("Authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not self.authority.verify(token.strip()):
            raise _Reply(_unauthorized(messages.INVALID_TOKEN))
        if has_body and request.content_type != "application/json":
            raise _Reply(_unsupported_media_type())
        if scope == "manager":
            return 0
        customer_id = parse_int32(headers.get("Customer-ID", ""))
        if customer_id is None or self.state.customer(customer_id) is None:
            raise _fail(404, messages.MANAGER_NOT_FOUND)
        return customer_id

    def endpoint(
        self, route: str, handler: Handler, scope: Scope, has_body: bool
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        counters = self.counters
        faults = self.faults
        id_names = tuple(name for name in _PARAM.findall(route) if name.endswith("Id"))

        async def serve(request: web.Request) -> web.StreamResponse:
            match_info = request.match_info
            for name in id_names:
                if parse_int32(match_info[name]) is None:
                    return _not_found()  # as if no route matched: what a {id:int} route does
            counters.requests[route] += 1
            decision: Decision | None = None
            response: web.Response | None
            try:
                customer_id = self._admit(request, scope, has_body)
                decision = faults.before(route)
                if decision.delay:
                    counters.faults[(route, FaultKind.LATENCY.value)] += 1
                    await asyncio.sleep(decision.delay)
                if decision.kind is not None and decision.kind in PRE_KINDS:
                    counters.faults[(route, decision.kind.value)] += 1
                    response = self._pre_fault(route, decision)
                else:
                    response = await handler(request, customer_id)
            except _Reply as reply:
                response = reply.response
            except web.HTTPException as exc:  # aiohttp's own answers, e.g. 413 for a huge body
                counters.responses[(route, exc.status)] += 1
                raise
            except _InjectedCrash:
                logger.info("%s: injected handler failure, answering 500", route)
                response = _internal_error()
            except ConnectionError as exc:  # the client went away while the body was read
                logger.debug("%s: the client disconnected (%s)", route, exc)
                counters.responses[(route, 0)] += 1
                return web.Response(status=499)  # nobody to send it to: aiohttp drops it
            except Exception:
                logger.exception("%s: unexpected failure, answering 500", route)
                response = _internal_error()
            if response is None:  # reset before processing
                return self._reset(request, route)
            body = response.body
            if decision is not None:
                late = faults.after(route, decision, has_body=bool(body))
                if late is not None:
                    counters.faults[(route, late.value)] += 1
                    if late is FaultKind.RESET_AFTER:
                        return self._reset(request, route)
                    if isinstance(body, bytes):
                        counters.responses[(route, response.status)] += 1
                        return await self._truncated(request, response, body)
            counters.responses[(route, response.status)] += 1
            return response

        return serve

    def _pre_fault(self, route: str, decision: Decision) -> web.Response | None:
        """The answer of a fault that strikes before processing; None for a reset."""
        kind = decision.kind
        if kind is FaultKind.ERROR_500:
            return _internal_error()
        if kind is FaultKind.ERROR_503:
            return _text(503, SandboxMessages.SERVICE_UNAVAILABLE)
        if kind is FaultKind.RATE_LIMIT:
            seconds = decision.retry_after
            message = SandboxMessages.RATE_LIMITED.format(seconds=seconds)
            return _json(
                429, {"statusCode": 429, "message": message}, {"Retry-After": str(seconds)}
            )
        if kind is FaultKind.CRASH:
            raise _InjectedCrash(f"injected failure in {route}")
        return None

    def _reset(self, request: web.Request, route: str) -> web.StreamResponse:
        """Cut the connection without an answer (a TCP reset where the platform allows)."""
        self.counters.responses[(route, 0)] += 1
        transport = request.transport
        if transport is not None:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):  # platform dependent
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        # aiohttp cannot write this on the closed transport; it drops it quietly.
        return web.Response(status=500)

    async def _truncated(
        self, request: web.Request, response: web.Response, body: bytes
    ) -> web.StreamResponse:
        """Announce the full length, send half of the body, close the connection."""
        stream = web.StreamResponse(status=response.status)
        content_type = response.headers.get("Content-Type")
        if content_type is not None:
            stream.headers["Content-Type"] = content_type
        stream.content_length = len(body)
        await stream.prepare(request)
        await stream.write(body[: len(body) // 2])
        transport = request.transport
        if transport is not None:
            transport.close()  # flushes what was written, then closes
        return stream

    # -- auth and customers ----------------------------------------------------------------

    async def token(self, request: web.Request, _: int) -> web.Response:
        if request.content_type != "application/x-www-form-urlencoded":
            return _oauth_error("invalid_request", SandboxMessages.TOKEN_CONTENT_TYPE)
        form = await _token_form(request)
        if form is None:
            return _oauth_error("invalid_request", SandboxMessages.TOKEN_ENCODING)
        fields: dict[str, str] = {}
        for name in ("grant_type", "username", "password"):
            value = form.get(name)
            if not isinstance(value, str) or not value:
                missing = SandboxMessages.TOKEN_MISSING.format(field=name)
                return _oauth_error("invalid_request", missing)
            fields[name] = value
            if name == "grant_type" and value != "password":
                return _oauth_error("unsupported_grant_type", SandboxMessages.TOKEN_GRANT)
        if not self.credentials.login_matches(fields["username"], fields["password"]):
            return _oauth_error("invalid_grant", SandboxMessages.TOKEN_LOGIN)
        issued = self.authority.issue()
        self.counters.tokens_issued += 1
        return _json(
            200,
            {
                "token_type": "Bearer",
                "expires_in": str(issued.expires_in),
                "access_token": issued.access_token,
            },
            {"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    async def customers(self, request: web.Request, _: int) -> web.Response:
        return _json(200, self.state.customers_wire())

    # -- products --------------------------------------------------------------------------

    async def list_products(self, request: web.Request, cid: int) -> web.Response:
        return _odata_list(_odata_query(request, PRODUCT), self.state.products_wire(cid))

    async def get_product(self, request: web.Request, cid: int) -> web.Response:
        query = _odata_query(request, PRODUCT)
        row = self.state.product_wire(cid, _path_id(request, "productId"))
        if row is None:
            raise _fail(404, messages.PRODUCT_NOT_FOUND)
        return _odata_entity(query, row, messages.PRODUCT_NOT_FOUND)

    async def service_of_product(self, request: web.Request, cid: int) -> web.Response:
        query = _odata_query(request, SERVICE)
        product_id = _path_id(request, "productId")
        if self.state.product(cid, product_id) is None:
            raise _fail(404, messages.PRODUCT_NOT_ASSIGNED)
        service = self.state.service_of_product(cid, product_id)
        if service is None:
            raise _fail(404, messages.SERVICE_OF_PRODUCT_NOT_FOUND)
        row = self.state.wire("services", service.id)
        return _odata_entity(query, row, messages.SERVICE_OF_PRODUCT_NOT_FOUND)

    async def car_of_product(self, request: web.Request, cid: int) -> web.Response:
        query = _odata_query(request, CAR)
        product_id = _path_id(request, "productId")
        if self.state.product(cid, product_id) is None:
            raise _fail(404, messages.PRODUCT_NOT_ASSIGNED)
        car = self.state.car_of_product(cid, product_id)
        if car is None:
            raise _fail(404, messages.CAR_OF_PRODUCT_NOT_FOUND)
        row = self.state.wire("cars", car.id)
        return _odata_entity(query, row, messages.CAR_OF_PRODUCT_NOT_FOUND)

    # -- cars ------------------------------------------------------------------------------

    async def list_cars(self, request: web.Request, cid: int) -> web.Response:
        return _odata_list(_odata_query(request, CAR), self.state.cars_wire(cid))

    async def get_car(self, request: web.Request, cid: int) -> web.Response:
        query = _odata_query(request, CAR)
        row = self.state.car_wire(cid, _path_id(request, "carId"))
        if row is None:
            raise _fail(404, messages.CAR_NOT_FOUND)
        return _odata_entity(query, row, messages.CAR_NOT_FOUND)

    async def create_car(self, request: web.Request, cid: int) -> web.Response:
        body = await _json_object(request)
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise _fail(400, messages.CAR_NAME_MISSING)
        fields = {
            attribute: _optional_string(body, field)
            for field, attribute in _CAR_OPTIONAL_FIELDS.items()
        }
        car = self.state.add_car(cid, name, **fields)
        self.counters.created["car"] += 1
        return _json(201, {"id": car.id})

    async def update_car(self, request: web.Request, cid: int) -> web.Response:
        body = await _json_body(request)
        car_id = _path_id(request, "carId")
        if self.state.car(cid, car_id) is None:
            raise _fail(404, messages.CAR_NOT_ASSIGNED)
        operations = _patch_operations(
            body,
            allowed_ops=_api.UPDATE_CAR.patch_ops,
            allowed_paths=_api.UPDATE_CAR.patch_paths,
        )
        changes: dict[str, str | None] = {}
        for _, path, value in operations:
            if path == "/name" and _blank(value):
                raise _fail(400, messages.CAR_NAME_BLANK)
            changes[_CAR_FIELDS[path]] = value
        if changes:
            self.state.update_car(cid, car_id, **changes)
        return _no_content()

    async def delete_car(self, request: web.Request, cid: int) -> web.Response:
        car_id = _path_id(request, "carId")
        if self.state.car(cid, car_id) is None:
            raise _fail(404, messages.CAR_NOT_ASSIGNED)
        self.state.delete_car(cid, car_id)
        return _no_content()

    async def products_of_car(self, request: web.Request, cid: int) -> web.Response:
        query = _odata_query(request, PRODUCT)
        car_id = _path_id(request, "carId")
        if self.state.car(cid, car_id) is None:
            raise _fail(404, messages.CAR_NOT_ASSIGNED)
        product_ids = self.state.product_ids_of_car(car_id)
        if not product_ids:
            raise _fail(404, messages.NO_PRODUCTS_ON_CAR)
        rows = [self.state.wire("products", p) for p in product_ids]
        return _odata_list(query, rows)

    async def location(self, request: web.Request, cid: int) -> web.Response:
        return self._location(request, cid, None)

    async def location_at(self, request: web.Request, cid: int) -> web.Response:
        return self._location(request, cid, _parse_search_date(request.match_info["searchDate"]))

    def _location(self, request: web.Request, cid: int, at: datetime | None) -> web.Response:
        query = _odata_query(request, LOCATION)
        car_id = _path_id(request, "carId")
        if self.state.car(cid, car_id) is None:
            raise _fail(404, messages.CAR_NOT_ASSIGNED)
        if not self.state.has_products(car_id):
            raise _fail(404, messages.NO_PRODUCTS_ON_CAR)
        row = self.state.location_wire(cid, car_id, at)
        # The car exists and has products: neither documented 404 text would be true here.
        return _odata_entity(query, row, SandboxMessages.LOCATION_FILTERED)

    # -- groups ----------------------------------------------------------------------------

    async def list_groups(self, request: web.Request, cid: int) -> web.Response:
        return _json(200, self.state.groups_wire(cid))

    def group_members(self, kind: _api.GroupMember[Any]) -> Handler:
        async def handler(request: web.Request, cid: int) -> web.Response:
            group_id = _path_id(request, "groupId")
            if self.state.group(cid, group_id) is None:
                raise _fail(404, messages.GROUP_NOT_FOUND_BY_ID)
            return _json(200, self.state.members_wire(cid, group_id, kind.segment))

        return handler

    async def create_group(self, request: web.Request, cid: int) -> web.Response:
        body = await _json_object(request)
        name = body.get("name")
        if name is not None and not isinstance(name, str):
            raise _fail(400, SandboxMessages.FIELD_TYPE.format(field="name"))
        if _blank(name):
            raise _fail(400, messages.GROUP_NAME_MISSING)
        assert isinstance(name, str)
        if _name_length(name) > messages.MAX_GROUP_NAME_LENGTH:
            raise _fail(400, messages.GROUP_NAME_TOO_LONG)
        if self.state.group_named(cid, name) is not None:
            raise _fail(409, messages.GROUP_NAME_TAKEN)
        group = self.state.add_group(cid, name)
        self.counters.created["group"] += 1
        return _json(201, {"id": group.id})

    def assign_member(self, kind: _api.GroupMember[Any]) -> Handler:
        segment = kind.segment

        async def handler(request: web.Request, cid: int) -> web.Response:
            body = await _json_object(request)
            group_id = _path_id(request, "groupId")
            if self.state.group(cid, group_id) is None:
                raise _fail(404, messages.GROUP_NOT_FOUND)
            member_id = _member_id(body, kind.id_parameter)
            if member_id is None or self.state.member(cid, segment, member_id) is None:
                raise _fail(404, kind.unknown)
            if self.state.is_member(group_id, segment, member_id):
                raise _fail(409, kind.already)
            self.state.add_member(cid, group_id, segment, member_id)
            self.counters.assigned[kind.name] += 1
            return _no_content()

        return handler

    async def update_group(self, request: web.Request, cid: int) -> web.Response:
        body = await _json_body(request)
        group_id = _path_id(request, "groupId")
        if group_id <= 0:
            # No group can have such an id, whoever asks: the service's id check answers.
            raise _fail(404, messages.GROUP_NOT_FOUND)
        if self.state.group(cid, group_id) is None:
            raise _fail(404, messages.GROUP_NOT_ASSIGNED)
        operations = _patch_operations(
            body,
            allowed_ops=_api.RENAME_GROUP.patch_ops,
            allowed_paths=_api.RENAME_GROUP.patch_paths,
        )
        new_name: str | None = None
        for _, _, value in operations:
            if _blank(value):
                raise _fail(400, messages.GROUP_NAME_BLANK)
            assert isinstance(value, str)
            if _name_length(value) > messages.MAX_GROUP_NAME_LENGTH:
                raise _fail(400, messages.GROUP_NAME_TOO_LONG)
            new_name = value
        if new_name is not None:
            other = self.state.group_named(cid, new_name)
            if other is not None and other.id != group_id:
                raise _fail(409, messages.GROUP_NAME_TAKEN)
            self.state.rename_group(cid, group_id, new_name)
        return _no_content()

    async def delete_group(self, request: web.Request, cid: int) -> web.Response:
        group_id = _path_id(request, "groupId")
        if self.state.group(cid, group_id) is None:
            raise _fail(404, messages.GROUP_NOT_FOUND)
        if self.state.group_has_members(cid, group_id):
            raise _fail(409, messages.GROUP_HAS_RELATIONS)
        self.state.delete_group(cid, group_id)
        return _no_content()

    def remove_member(self, kind: _api.GroupMember[Any]) -> Handler:
        segment = kind.segment

        async def handler(request: web.Request, cid: int) -> web.Response:
            group_id = _path_id(request, "groupId")
            member_id = _path_id(request, kind.id_parameter)
            if self.state.group(cid, group_id) is None:
                raise _fail(404, messages.GROUP_NOT_FOUND)
            if self.state.member(cid, segment, member_id) is None:
                raise _fail(404, kind.unknown)
            if not self.state.is_member(group_id, segment, member_id):
                raise _fail(404, kind.not_member)
            self.state.remove_member(cid, group_id, segment, member_id)
            return _no_content()

        return handler

    # -- wiring ----------------------------------------------------------------------------

    def routes(self) -> list[tuple[str, Handler, Scope, bool]]:
        """(``"METHOD /template"``, handler, scope, has a JSON body) for every endpoint of the
        API table."""
        handlers: dict[_api.Endpoint[Any], Handler] = {
            _api.TOKEN: self.token,
            _api.CUSTOMERS: self.customers,
            _api.PRODUCTS: self.list_products,
            _api.PRODUCT: self.get_product,
            _api.SERVICE_OF_PRODUCT: self.service_of_product,
            _api.CAR_OF_PRODUCT: self.car_of_product,
            _api.CARS: self.list_cars,
            _api.CAR: self.get_car,
            _api.CREATE_CAR: self.create_car,
            _api.UPDATE_CAR: self.update_car,
            _api.DELETE_CAR: self.delete_car,
            _api.PRODUCTS_OF_CAR: self.products_of_car,
            _api.LOCATION: self.location,
            _api.LOCATION_AT: self.location_at,
            _api.GROUPS: self.list_groups,
            _api.CREATE_GROUP: self.create_group,
            _api.RENAME_GROUP: self.update_group,
            _api.DELETE_GROUP: self.delete_group,
        }
        members = {"GET": self.group_members, "PUT": self.assign_member}
        table = []
        for endpoint in served():
            kind = endpoint.member
            if kind is None:
                handler = handlers[endpoint]
            else:
                handler = members.get(endpoint.method, self.remove_member)(kind)
            table.append((endpoint.route, handler, endpoint.scope, endpoint.json_body))
        return table


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


async def _unknown_route(request: web.Request) -> web.StreamResponse:
    return _not_found()


def build_app(
    *,
    state: SandboxState,
    credentials: Credentials,
    authority: TokenAuthority,
    faults: Faults,
    counters: Counters,
    prefix: str = "/v3",
) -> web.Application:
    """The aiohttp application serving ``state`` under ``prefix``."""
    sandbox = _SandboxApp(
        state=state,
        credentials=credentials,
        authority=authority,
        faults=faults,
        counters=counters,
    )
    app = web.Application()
    for route, handler, scope, has_body in sandbox.routes():
        method, template = route.split(" ", 1)
        app.router.add_route(
            method,
            # Every segment matches; ids are bound (or refused) by the endpoint: parse_int32.
            prefix + template,
            sandbox.endpoint(route, handler, scope, has_body),
        )
    app.router.add_route("*", "/{tail:.*}", _unknown_route)
    return app

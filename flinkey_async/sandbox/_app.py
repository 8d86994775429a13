"""The aiohttp.web application: the 28 documented endpoints, ``GET /customers`` and the token
endpoint, answering with the statuses, bodies and messages of the reference pages.

Every endpoint runs through the same gate (:mod:`._gate`: key, token, content type, customer,
faults, in the order a real API gateway and service check them); the handlers here answer with
the texts of :mod:`flinkey_async._messages` and the readers of :mod:`._replies`.

Rows are served from the state's cached JSON form; OData options, on the endpoints the pages
mark, go through :mod:`flinkey_async.odata` (the same parser and evaluator the client uses),
after a check against the entity's model (:mod:`._odata`) so a type clash is a 400 whatever
the data.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

import attrs
from aiohttp import web

from .. import _api
from .. import _messages as messages
from .._api import Scope
from .._exceptions import ODataError
from .._models import Car, Location, Product, Service, wire_name
from ..odata import Query, apply_query, apply_to_entity, check_properties, parse_query
from ._auth import Credentials, TokenAuthority
from ._faults import Counters, Faults
from ._gate import Handler, _Gate
from ._odata import Schema, check_types, public_problem, schema_of
from ._replies import (
    SandboxMessages,
    _blank,
    _fail,
    _json,
    _json_body,
    _json_object,
    _member_id,
    _name_length,
    _no_content,
    _not_found,
    _oauth_error,
    _optional_string,
    _parse_search_date,
    _patch_operations,
    _path_id,
    _Reply,
    _token_form,
    logger,
    parse_int32,
)
from ._routes import ENDPOINTS, ODATA_ENDPOINTS, served
from ._state import SandboxState

__all__ = [
    "ENDPOINTS",
    "ODATA_ENDPOINTS",
    "SandboxMessages",
    "build_app",
    "parse_int32",
]

_CAR_FIELDS: Final = {field.pointer: field.attribute for field in _api.CAR_FIELDS}
_CAR_OPTIONAL_FIELDS: Final = {
    field.wire: field.attribute for field in _api.CAR_FIELDS if field.nullable
}


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


def _by_id(
    request: web.Request,
    cid: int,
    entity: _Entity,
    parameter: str,
    wire: Callable[[int, int], dict[str, Any] | None],
    not_found: str,
) -> web.Response:
    """``GET /<entities>/{id}``: the row under the query's options, or ``not_found``'s 404."""
    query = _odata_query(request, entity)  # a bad query is a 400 before any lookup
    row = wire(cid, _path_id(request, parameter))
    if row is None:
        raise _fail(404, not_found)
    return _odata_entity(query, row, not_found)


# -- the application ----------------------------------------------------------------------------


class _SandboxApp(_Gate):
    """The handlers of the endpoints, and the routes that serve them."""

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
        wire = self.state.product_wire
        return _by_id(request, cid, PRODUCT, "productId", wire, messages.PRODUCT_NOT_FOUND)

    async def service_of_product(self, request: web.Request, cid: int) -> web.Response:
        find = self.state.service_of_product
        none = messages.SERVICE_OF_PRODUCT_NOT_FOUND
        return self._of_product(request, cid, SERVICE, "services", find, none)

    async def car_of_product(self, request: web.Request, cid: int) -> web.Response:
        find = self.state.car_of_product
        none = messages.CAR_OF_PRODUCT_NOT_FOUND
        return self._of_product(request, cid, CAR, "cars", find, none)

    def _of_product(
        self,
        request: web.Request,
        cid: int,
        entity: _Entity,
        table: str,
        find: Callable[[int, int], Car | Service | None],
        none: str,
    ) -> web.Response:
        """The one entity a product has (``find``), or ``none``'s 404 when it has none."""
        query = _odata_query(request, entity)
        product_id = _path_id(request, "productId")
        if self.state.product(cid, product_id) is None:
            raise _fail(404, messages.PRODUCT_NOT_ASSIGNED)
        found = find(cid, product_id)
        if found is None:
            raise _fail(404, none)
        return _odata_entity(query, self.state.wire(table, found.id), none)

    # -- cars ------------------------------------------------------------------------------

    async def list_cars(self, request: web.Request, cid: int) -> web.Response:
        return _odata_list(_odata_query(request, CAR), self.state.cars_wire(cid))

    async def get_car(self, request: web.Request, cid: int) -> web.Response:
        return _by_id(request, cid, CAR, "carId", self.state.car_wire, messages.CAR_NOT_FOUND)

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

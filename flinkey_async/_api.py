"""The facts of the flinkey API v3, written down once: its endpoints, the kinds of group members
and the car fields a request may write.

The client's resources build their requests from these entries and the sandbox its routes and
checks, so a new endpoint, member kind or car field is one entry here. Tests compare the table
with the reference pages (endpoints, OData marks, documented answers). The texts are those of
:mod:`._messages`.

The member kinds are read where they are used (``_api.GROUP_MEMBERS``), never copied at import,
so that the routes of a kind follow from its entry alone.
"""

from __future__ import annotations

import re
from typing import Any, Final, Generic, Literal, TypeAlias, TypeVar

import attrs

from . import _messages as m
from . import _models
from ._models import Car, CreatedId, Customer, Group, Location, Product, Service, Token, User

__all__ = [
    "CAR",
    "CARS",
    "CAR_FIELDS",
    "CAR_MEMBERS",
    "CAR_OF_PRODUCT",
    "CREATE_CAR",
    "CREATE_GROUP",
    "CUSTOMERS",
    "DELETE_CAR",
    "DELETE_GROUP",
    "GROUPS",
    "GROUP_MEMBERS",
    "LOCATION",
    "LOCATION_AT",
    "PRODUCT",
    "PRODUCTS",
    "PRODUCTS_OF_CAR",
    "PRODUCT_MEMBERS",
    "RENAME_GROUP",
    "SERVICE_MEMBERS",
    "SERVICE_OF_PRODUCT",
    "TOKEN",
    "UPDATE_CAR",
    "USER_MEMBERS",
    "Answer",
    "Body",
    "CarField",
    "Endpoint",
    "GroupMember",
    "MemberKind",
    "Scope",
    "endpoints",
    "group_member",
]

T = TypeVar("T")

Body = Literal["none", "object", "patch", "form"]
"""What a request carries: nothing, a JSON object, a JSON-Patch array, or an urlencoded form."""

Scope = Literal["token", "manager", "customer"]
"""Which credentials an endpoint wants: the API key alone (the token endpoint), a token too, or a
token and a ``Customer-ID``."""

Answer = tuple[int, str | None]
"""A documented answer: the status and its text (None for a JSON document or an empty body)."""

INVALID_KEY: Final[Answer] = (401, m.INVALID_API_KEY)
INVALID_TOKEN: Final[Answer] = (401, m.INVALID_TOKEN)
NO_MANAGER: Final[Answer] = (404, m.MANAGER_NOT_FOUND)
UNSUPPORTED_MEDIA_TYPE: Final[Answer] = (415, None)
SERVER_ERROR: Final[Answer] = (500, m.INTERNAL_SERVER_ERROR)

_PARAMETER: Final = re.compile(r"\{(\w+)\}")


def _split_template(template: str) -> tuple[str | None, ...]:
    """The path segments of a template, None where a parameter goes."""
    return tuple(
        None if _PARAMETER.fullmatch(part) else part for part in template.strip("/").split("/")
    )


@attrs.frozen
class Endpoint(Generic[T]):
    """One endpoint: how it is called and what it answers.

    ``model`` is the model of the success body (one, or a list of them when ``many``);
    ``type(None)`` where the answer is empty. ``errors`` are the endpoint's own documented
    answers; :attr:`answers` adds those every endpoint of its kind documents.
    """

    method: str
    template: str
    model: type[T]
    many: bool = False
    odata: bool = False
    body: Body = "none"
    scope: Scope = "customer"
    errors: tuple[Answer, ...] = ()
    patch_ops: tuple[str, ...] = ()
    """The JSON-Patch operations a ``body="patch"`` request may hold (the page's ``op`` enum)."""
    patch_paths: tuple[str, ...] = ()
    """The JSON-Patch paths it may name (the page's ``path`` enum)."""
    documents_manager: bool = True
    """Whether the page lists the 404 for an unknown customer (``GET /cars``'s does not)."""
    member: GroupMember[Any] | None = attrs.field(default=None, eq=False, repr=False)
    """The member kind of a ``/groups/{groupId}/<kind>`` endpoint."""
    parameters: tuple[str, ...] = attrs.field(
        init=False,
        eq=False,
        repr=False,
        default=attrs.Factory(lambda e: tuple(_PARAMETER.findall(e.template)), True),
    )
    """The template's parameters, in order: ``("carId", "searchDate")``."""
    _parts: tuple[str | None, ...] = attrs.field(
        init=False,
        eq=False,
        repr=False,
        default=attrs.Factory(lambda e: _split_template(e.template), True),
    )

    @property
    def route(self) -> str:
        """``"METHOD /template"``, the name routes, faults and counters go by."""
        return f"{self.method} {self.template}"

    @property
    def json_body(self) -> bool:
        """Whether the request carries JSON (and so a ``Content-Type`` the service checks)."""
        return self.body in ("object", "patch")

    @property
    def status(self) -> int:
        """The success status: 200 with a body, 201 for a create, 204 without a body."""
        if self.model is CreatedId:
            return 201
        return 204 if self.model is type(None) else 200

    @property
    def answers(self) -> tuple[Answer, ...]:
        """Every answer the page documents, success first (the token and customers endpoints
        have no page: theirs are not meant)."""
        return (
            (self.status, None),
            INVALID_KEY,
            INVALID_TOKEN,
            *((NO_MANAGER,) if self.documents_manager else ()),
            *self.errors,
            *((UNSUPPORTED_MEDIA_TYPE,) if self.json_body else ()),
            SERVER_ERROR,
        )

    def pieces(self) -> tuple[str, ...]:
        """The template's text around its parameters, one more than them: ``/cars/{carId}/location``
        gives ``("/cars/", "/location")``, so that a URL is a join, not a walk over segments."""
        pieces = [""]
        for part in self._parts:
            if part is None:
                pieces[-1] += "/"
                pieces.append("")
            else:
                pieces[-1] += "/" + part
        return tuple(pieces)

    def path(self, *values: str | int) -> tuple[str | int, ...]:
        """The path segments with ``values`` in place of the parameters, in order."""
        if len(values) != len(self.parameters):
            raise TypeError(f"{self.route} takes {len(self.parameters)} values, got {values!r}")
        given = iter(values)
        return tuple(next(given) if part is None else part for part in self._parts)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _member_endpoints(kind: GroupMember[T]) -> tuple[Endpoint[T], Endpoint[None], Endpoint[None]]:
    members = f"/groups/{{groupId}}/{kind.segment}"
    return (
        Endpoint(
            "GET",
            members,
            kind.model,
            many=True,
            errors=((404, m.GROUP_NOT_FOUND_BY_ID),),
            member=kind,
        ),
        Endpoint(
            "PUT",
            members,
            type(None),
            body="object",
            errors=((404, m.GROUP_NOT_FOUND), (404, kind.unknown), (409, kind.already)),
            member=kind,
        ),
        Endpoint(
            "DELETE",
            f"{members}/{{{kind.id_parameter}}}",
            type(None),
            errors=((404, m.GROUP_NOT_FOUND), (404, kind.unknown), (404, kind.not_member)),
            member=kind,
        ),
    )


@attrs.frozen
class GroupMember(Generic[T]):
    """One kind of group member: ``/groups/{groupId}/<segment>`` lists, assigns and removes them.

    ``id_parameter`` names the member's id both in the assigning body (``{"carId": 12}``) and in
    the removing path (``/groups/{groupId}/cars/{carId}``).
    """

    segment: str
    id_parameter: str
    model: type[T]
    unknown: str
    """404: no entity of this kind has the id."""
    already: str
    """409: the entity is in the group already."""
    not_member: str
    """404: the entity is not in the group."""
    endpoints: tuple[Endpoint[T], Endpoint[None], Endpoint[None]] = attrs.field(
        init=False, eq=False, repr=False, default=attrs.Factory(_member_endpoints, True)
    )
    """Listing, assigning and removing (``GET``, ``PUT``, ``DELETE``)."""

    @property
    def name(self) -> str:
        """The singular: ``car`` for ``cars``."""
        return self.id_parameter.removesuffix("Id")

    @property
    def argument(self) -> str:
        """The client's name of the member's id: ``car_id``."""
        return _snake(self.id_parameter)


CAR_MEMBERS: Final = GroupMember(
    "cars", "carId", Car, m.CAR_ID_NOT_FOUND, m.CAR_ALREADY_IN_GROUP, m.CAR_NOT_IN_GROUP
)
USER_MEMBERS: Final = GroupMember(
    "users", "userId", User, m.USER_ID_NOT_FOUND, m.USER_ALREADY_IN_GROUP, m.USER_NOT_IN_GROUP
)
SERVICE_MEMBERS: Final = GroupMember(
    "services",
    "serviceId",
    Service,
    m.SERVICE_ID_NOT_FOUND,
    m.SERVICE_ALREADY_IN_GROUP,
    m.SERVICE_NOT_IN_GROUP,
)
PRODUCT_MEMBERS: Final = GroupMember(
    "products",
    "productId",
    Product,
    m.PRODUCT_ID_NOT_FOUND,
    m.PRODUCT_ALREADY_IN_GROUP,
    m.PRODUCT_NOT_IN_GROUP,
)

MemberKind: TypeAlias = str
"""A kind of group member as the URL names it (``/groups/{groupId}/cars``): a key of
:data:`GROUP_MEMBERS` (a ``str``, not a ``Literal``, so that a new entry is the only change)."""

GROUP_MEMBERS: dict[MemberKind, GroupMember[Any]] = {
    kind.segment: kind for kind in (CAR_MEMBERS, USER_MEMBERS, SERVICE_MEMBERS, PRODUCT_MEMBERS)
}
"""The member kinds by segment. An entry here is all a new kind needs: the client's
``members``/``add_member``/``remove_member`` and the sandbox's routes, handlers and tables follow.
The named constants above give the documented kinds their model's type."""


def group_member(segment: str) -> GroupMember[Any] | None:
    """The member kind of a segment (``"cars"``), if there is one."""
    return GROUP_MEMBERS.get(segment)


@attrs.frozen
class CarField:
    """A car attribute that ``PUT /cars`` and ``PATCH /cars/{carId}`` may write (a string)."""

    attribute: str
    nullable: bool = attrs.field(
        init=False,
        default=attrs.Factory(
            lambda f: attrs.fields_dict(Car)[f.attribute].default is None, takes_self=True
        ),
    )
    """Whether it may be left out or removed (as the model says: its default is None)."""

    @property
    def wire(self) -> str:
        return _models.wire_name(self.attribute)

    @property
    def pointer(self) -> str:
        """Its JSON-Patch path: ``/licensePlate``."""
        return "/" + self.wire


CAR_FIELDS: Final = tuple(
    CarField(attribute)
    for attribute in ("description", "vin", "name", "license_plate", "brand", "model")
)
"""The writable car fields, in the order of the page's JSON-Patch ``path`` enum."""

# -- the endpoints ---------------------------------------------------------------------------------

TOKEN: Final = Endpoint("POST", "/oauth2/token", Token, body="form", scope="token")
"""The token endpoint (no page of its own; the API's public documentation describes it)."""
CUSTOMERS: Final = Endpoint("GET", "/customers", Customer, many=True, scope="manager")
"""The customers of the API Manager (no page; not customer-scoped)."""

PRODUCTS: Final = Endpoint("GET", "/products", Product, many=True, odata=True)
PRODUCT: Final = Endpoint(
    "GET", "/products/{productId}", Product, odata=True, errors=((404, m.PRODUCT_NOT_FOUND),)
)
SERVICE_OF_PRODUCT: Final = Endpoint(
    "GET",
    "/products/{productId}/services",
    Service,
    odata=True,
    errors=((404, m.PRODUCT_NOT_ASSIGNED), (404, m.SERVICE_OF_PRODUCT_NOT_FOUND)),
)
CAR_OF_PRODUCT: Final = Endpoint(
    "GET",
    "/products/{productId}/cars",
    Car,
    odata=True,
    errors=((404, m.PRODUCT_NOT_ASSIGNED), (404, m.CAR_OF_PRODUCT_NOT_FOUND)),
)
CARS: Final = Endpoint("GET", "/cars", Car, many=True, odata=True, documents_manager=False)
CAR: Final = Endpoint("GET", "/cars/{carId}", Car, odata=True, errors=((404, m.CAR_NOT_FOUND),))
CREATE_CAR: Final = Endpoint(
    "PUT", "/cars", CreatedId, body="object", errors=((400, m.CAR_NAME_MISSING),)
)
UPDATE_CAR: Final = Endpoint(
    "PATCH",
    "/cars/{carId}",
    type(None),
    body="patch",
    errors=((400, m.CAR_NAME_BLANK), (404, m.CAR_NOT_ASSIGNED)),
    patch_ops=("remove", "replace"),
    patch_paths=tuple(field.pointer for field in CAR_FIELDS),
)
DELETE_CAR: Final = Endpoint(
    "DELETE", "/cars/{carId}", type(None), errors=((404, m.CAR_NOT_ASSIGNED),)
)
_ON_A_CAR: Final = ((404, m.CAR_NOT_ASSIGNED), (404, m.NO_PRODUCTS_ON_CAR))
PRODUCTS_OF_CAR: Final = Endpoint(
    "GET", "/cars/{carId}/products", Product, many=True, odata=True, errors=_ON_A_CAR
)
LOCATION: Final = Endpoint("GET", "/cars/{carId}/location", Location, odata=True, errors=_ON_A_CAR)
LOCATION_AT: Final = Endpoint(
    "GET",
    "/cars/{carId}/location/{searchDate}",
    Location,
    odata=True,
    errors=((400, m.INVALID_DATE_FORMAT), *_ON_A_CAR),
)
GROUPS: Final = Endpoint("GET", "/groups", Group, many=True)
CREATE_GROUP: Final = Endpoint(
    "PUT",
    "/groups",
    CreatedId,
    body="object",
    errors=((400, m.GROUP_NAME_MISSING), (409, m.GROUP_NAME_TAKEN)),
)
RENAME_GROUP: Final = Endpoint(
    "PATCH",
    "/groups/{groupId}",
    type(None),
    body="patch",
    errors=(
        (400, m.GROUP_NAME_BLANK),
        (400, m.GROUP_NAME_TOO_LONG),
        (404, m.GROUP_NOT_ASSIGNED),
        (404, m.GROUP_NOT_FOUND),
    ),
    patch_ops=("replace",),
    patch_paths=("/name",),
)
DELETE_GROUP: Final = Endpoint(
    "DELETE",
    "/groups/{groupId}",
    type(None),
    errors=((404, m.GROUP_NOT_FOUND), (409, m.GROUP_HAS_RELATIONS)),
)


def endpoints() -> tuple[Endpoint[Any], ...]:
    """The documented endpoints (28 with the four member kinds), in the pages' order.

    Built from :data:`GROUP_MEMBERS` as it is now, so each member kind brings its three.
    """
    kinds = GROUP_MEMBERS.values()
    return (
        PRODUCTS,
        PRODUCT,
        SERVICE_OF_PRODUCT,
        CAR_OF_PRODUCT,
        CARS,
        CAR,
        CREATE_CAR,
        UPDATE_CAR,
        DELETE_CAR,
        PRODUCTS_OF_CAR,
        LOCATION,
        LOCATION_AT,
        GROUPS,
        *(kind.endpoints[0] for kind in kinds),
        CREATE_GROUP,
        *(kind.endpoints[1] for kind in kinds),
        RENAME_GROUP,
        DELETE_GROUP,
        *(kind.endpoints[2] for kind in kinds),
    )

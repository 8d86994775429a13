"""The table of the API's 28 operations (plus ``GET /customers``), shared by the endpoint tests.

Each row says how the client calls the operation, what goes over the wire, what a successful
answer looks like and what the method returns, and which error answers the reference pages list
for it (status, message). ``test_pages_match_table`` checks the error lists against the pages.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import attrs

from flinkey_async import (
    Car,
    Customer,
    FlinkeyClient,
    Group,
    Location,
    Product,
    ProductType,
    Service,
    User,
    UserData,
)
from flinkey_async import _messages as m

CAR_JSON = {
    "id": 7,
    "name": "Golf",
    "description": "pool car",
    "vin": "WVWZZZ1JZXW000001",
    "licensePlate": "B-FL 7",
    "brand": "VW",
    "model": "Golf 8",
}
CAR = Car(7, "Golf", "pool car", "WVWZZZ1JZXW000001", "B-FL 7", "VW", "Golf 8")
PRODUCT_JSON = {
    "id": 3,
    "uniqueId": "FB-0003",
    "serialNumber": "SN3",
    "sapNumber": "SAP3",
    "dongleTerminationTimeStamp": "2024-05-01T10:00:00Z",
    "type": "flinkey IQ",
}
PRODUCT = Product(
    3, "FB-0003", "SN3", "SAP3", ProductType.IQ, datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
)
SERVICE_JSON = {
    "id": 5,
    "name": "flinkey Go",
    "isTerminated": True,
    "terminationDate": "2024-06-30T00:00:00+02:00",
    "terminationCause": "contract ended",
}
SERVICE = Service(
    5,
    "flinkey Go",
    True,
    datetime(2024, 6, 30, tzinfo=timezone(timedelta(hours=2))),
    "contract ended",
)
GROUP_JSON = {"id": 9, "name": "Pool Berlin"}
GROUP = Group(9, "Pool Berlin")
USER_JSON = {
    "id": 11,
    "emailAddress": "ada@example.test",
    "userData": {"firstName": "Ada", "lastName": None},
}
USER = User(11, "ada@example.test", UserData("Ada", None))
LOCATION_JSON = {
    "latitude": "52.520008",
    "longitude": "13.404954",
    "date": "2024-05-01T12:00:03Z",
    "odometerDate": "2024-05-01T11:59:00Z",
    "odometer": "12345.5",
}
LOCATION = Location(
    52.520008,
    13.404954,
    datetime(2024, 5, 1, 12, 0, 3, tzinfo=UTC),
    datetime(2024, 5, 1, 11, 59, tzinfo=UTC),
    12345.5,
)
CUSTOMER_JSON = {"id": 42, "name": "ACME Fleet"}
CUSTOMER = Customer(42, "ACME Fleet")

SEARCH_DATE = datetime(2024, 5, 1, 14, 0, 0, 250_000, tzinfo=timezone(timedelta(hours=2)))
"""Sent as 2024-05-01T12:00:00Z: converted to UTC, sub-seconds dropped."""

KEY = (401, m.INVALID_API_KEY)
TOKEN = (401, m.INVALID_TOKEN)
MANAGER = (404, m.MANAGER_NOT_FOUND)
MEDIA = (415, m.UNSUPPORTED_MEDIA_TYPE_TITLE)
SERVER = (500, m.INTERNAL_SERVER_ERROR)

Call = Callable[[FlinkeyClient], Awaitable[Any]]


@attrs.frozen
class Endpoint:
    name: str
    method: str
    path: str
    call: Call
    status: int
    answer: Any
    result: Any
    errors: tuple[tuple[int, str], ...]
    body: Any = None
    scoped: bool = True
    odata: bool = False


def _404(*messages: str) -> tuple[tuple[int, str], ...]:
    return tuple((404, message) for message in messages)


ENDPOINTS: list[Endpoint] = [
    # -- products -------------------------------------------------------------------------------
    Endpoint(
        "products.list",
        "GET",
        "/products",
        lambda c: c.products.list(),
        200,
        [PRODUCT_JSON],
        [PRODUCT],
        (KEY, TOKEN, MANAGER, SERVER),
        odata=True,
    ),
    Endpoint(
        "products.get",
        "GET",
        "/products/3",
        lambda c: c.products.get(3),
        200,
        PRODUCT_JSON,
        PRODUCT,
        (KEY, TOKEN, *_404(m.MANAGER_NOT_FOUND, m.PRODUCT_NOT_FOUND), SERVER),
        odata=True,
    ),
    Endpoint(
        "products.service",
        "GET",
        "/products/3/services",
        lambda c: c.products.service(3),
        200,
        SERVICE_JSON,
        SERVICE,
        (
            KEY,
            TOKEN,
            *_404(m.MANAGER_NOT_FOUND, m.PRODUCT_NOT_ASSIGNED, m.SERVICE_OF_PRODUCT_NOT_FOUND),
            SERVER,
        ),
        odata=True,
    ),
    Endpoint(
        "products.car",
        "GET",
        "/products/3/cars",
        lambda c: c.products.car(3),
        200,
        CAR_JSON,
        CAR,
        (
            KEY,
            TOKEN,
            *_404(m.MANAGER_NOT_FOUND, m.PRODUCT_NOT_ASSIGNED, m.CAR_OF_PRODUCT_NOT_FOUND),
            SERVER,
        ),
        odata=True,
    ),
    # -- cars -----------------------------------------------------------------------------------
    Endpoint(
        "cars.list",
        "GET",
        "/cars",
        lambda c: c.cars.list(),
        200,
        [CAR_JSON],
        [CAR],
        (KEY, TOKEN, SERVER),
        odata=True,
    ),
    Endpoint(
        "cars.get",
        "GET",
        "/cars/7",
        lambda c: c.cars.get(7),
        200,
        CAR_JSON,
        CAR,
        (KEY, TOKEN, *_404(m.MANAGER_NOT_FOUND, m.CAR_NOT_FOUND), SERVER),
        odata=True,
    ),
    Endpoint(
        "cars.create",
        "PUT",
        "/cars",
        lambda c: c.cars.create("Golf", license_plate="B-FL 7", vin="WVWZZZ1JZXW000001"),
        201,
        {"id": 123},
        123,
        ((400, m.CAR_NAME_MISSING), KEY, TOKEN, MANAGER, MEDIA, SERVER),
        body={"name": "Golf", "licensePlate": "B-FL 7", "vin": "WVWZZZ1JZXW000001"},
    ),
    Endpoint(
        "cars.update",
        "PATCH",
        "/cars/7",
        lambda c: c.cars.update(7, name="Golf GTI", license_plate=None),
        204,
        None,
        None,
        (
            (400, m.CAR_NAME_BLANK),
            KEY,
            TOKEN,
            *_404(m.MANAGER_NOT_FOUND, m.CAR_NOT_ASSIGNED),
            MEDIA,
            SERVER,
        ),
        body=[
            {"op": "replace", "path": "/name", "value": "Golf GTI"},
            {"op": "remove", "path": "/licensePlate"},
        ],
    ),
    Endpoint(
        "cars.delete",
        "DELETE",
        "/cars/7",
        lambda c: c.cars.delete(7),
        204,
        None,
        None,
        (KEY, TOKEN, *_404(m.MANAGER_NOT_FOUND, m.CAR_NOT_ASSIGNED), SERVER),
    ),
    Endpoint(
        "cars.products",
        "GET",
        "/cars/7/products",
        lambda c: c.cars.products(7),
        200,
        [PRODUCT_JSON],
        [PRODUCT],
        (KEY, TOKEN, *_404(m.MANAGER_NOT_FOUND, m.CAR_NOT_ASSIGNED, m.NO_PRODUCTS_ON_CAR), SERVER),
        odata=True,
    ),
    Endpoint(
        "cars.location",
        "GET",
        "/cars/7/location",
        lambda c: c.cars.location(7),
        200,
        LOCATION_JSON,
        LOCATION,
        (KEY, TOKEN, *_404(m.MANAGER_NOT_FOUND, m.CAR_NOT_ASSIGNED, m.NO_PRODUCTS_ON_CAR), SERVER),
        odata=True,
    ),
    Endpoint(
        "cars.location_at",
        "GET",
        "/cars/7/location/2024-05-01T12:00:00Z",
        lambda c: c.cars.location_at(7, SEARCH_DATE),
        200,
        LOCATION_JSON,
        LOCATION,
        (
            (400, m.INVALID_DATE_FORMAT),
            KEY,
            TOKEN,
            *_404(m.MANAGER_NOT_FOUND, m.CAR_NOT_ASSIGNED, m.NO_PRODUCTS_ON_CAR),
            SERVER,
        ),
        odata=True,
    ),
    # -- groups ---------------------------------------------------------------------------------
    Endpoint(
        "groups.list",
        "GET",
        "/groups",
        lambda c: c.groups.list(),
        200,
        [GROUP_JSON],
        [GROUP],
        (KEY, TOKEN, MANAGER, SERVER),
    ),
    Endpoint(
        "groups.cars",
        "GET",
        "/groups/9/cars",
        lambda c: c.groups.cars(9),
        200,
        [CAR_JSON],
        [CAR],
        (KEY, TOKEN, *_404(m.MANAGER_NOT_FOUND, m.GROUP_NOT_FOUND_BY_ID), SERVER),
    ),
    Endpoint(
        "groups.users",
        "GET",
        "/groups/9/users",
        lambda c: c.groups.users(9),
        200,
        [USER_JSON],
        [USER],
        (KEY, TOKEN, *_404(m.MANAGER_NOT_FOUND, m.GROUP_NOT_FOUND_BY_ID), SERVER),
    ),
    Endpoint(
        "groups.services",
        "GET",
        "/groups/9/services",
        lambda c: c.groups.services(9),
        200,
        [SERVICE_JSON],
        [SERVICE],
        (KEY, TOKEN, *_404(m.MANAGER_NOT_FOUND, m.GROUP_NOT_FOUND_BY_ID), SERVER),
    ),
    Endpoint(
        "groups.products",
        "GET",
        "/groups/9/products",
        lambda c: c.groups.products(9),
        200,
        [PRODUCT_JSON],
        [PRODUCT],
        (KEY, TOKEN, *_404(m.MANAGER_NOT_FOUND, m.GROUP_NOT_FOUND_BY_ID), SERVER),
    ),
    Endpoint(
        "groups.create",
        "PUT",
        "/groups",
        lambda c: c.groups.create("Pool Berlin"),
        201,
        {"id": 9},
        9,
        (
            (400, m.GROUP_NAME_MISSING),
            KEY,
            TOKEN,
            MANAGER,
            (409, m.GROUP_NAME_TAKEN),
            MEDIA,
            SERVER,
        ),
        body={"name": "Pool Berlin"},
    ),
    Endpoint(
        "groups.add_car",
        "PUT",
        "/groups/9/cars",
        lambda c: c.groups.add_car(9, 7),
        204,
        None,
        None,
        (
            KEY,
            TOKEN,
            *_404(m.MANAGER_NOT_FOUND, m.GROUP_NOT_FOUND, m.CAR_ID_NOT_FOUND),
            (409, m.CAR_ALREADY_IN_GROUP),
            MEDIA,
            SERVER,
        ),
        body={"carId": 7},
    ),
    Endpoint(
        "groups.add_user",
        "PUT",
        "/groups/9/users",
        lambda c: c.groups.add_user(9, 11),
        204,
        None,
        None,
        (
            KEY,
            TOKEN,
            *_404(m.MANAGER_NOT_FOUND, m.GROUP_NOT_FOUND, m.USER_ID_NOT_FOUND),
            (409, m.USER_ALREADY_IN_GROUP),
            MEDIA,
            SERVER,
        ),
        body={"userId": 11},
    ),
    Endpoint(
        "groups.add_service",
        "PUT",
        "/groups/9/services",
        lambda c: c.groups.add_service(9, 5),
        204,
        None,
        None,
        (
            KEY,
            TOKEN,
            *_404(m.MANAGER_NOT_FOUND, m.GROUP_NOT_FOUND, m.SERVICE_ID_NOT_FOUND),
            (409, m.SERVICE_ALREADY_IN_GROUP),
            MEDIA,
            SERVER,
        ),
        body={"serviceId": 5},
    ),
    Endpoint(
        "groups.add_product",
        "PUT",
        "/groups/9/products",
        lambda c: c.groups.add_product(9, 3),
        204,
        None,
        None,
        (
            KEY,
            TOKEN,
            *_404(m.MANAGER_NOT_FOUND, m.GROUP_NOT_FOUND, m.PRODUCT_ID_NOT_FOUND),
            (409, m.PRODUCT_ALREADY_IN_GROUP),
            MEDIA,
            SERVER,
        ),
        body={"productId": 3},
    ),
    Endpoint(
        "groups.rename",
        "PATCH",
        "/groups/9",
        lambda c: c.groups.rename(9, "Pool Mitte"),
        204,
        None,
        None,
        (
            (400, m.GROUP_NAME_BLANK),
            (400, m.GROUP_NAME_TOO_LONG),
            KEY,
            TOKEN,
            *_404(m.MANAGER_NOT_FOUND, m.GROUP_NOT_ASSIGNED, m.GROUP_NOT_FOUND),
            MEDIA,
            SERVER,
        ),
        body=[{"op": "replace", "path": "/name", "value": "Pool Mitte"}],
    ),
    Endpoint(
        "groups.delete",
        "DELETE",
        "/groups/9",
        lambda c: c.groups.delete(9),
        204,
        None,
        None,
        (
            KEY,
            TOKEN,
            *_404(m.MANAGER_NOT_FOUND, m.GROUP_NOT_FOUND),
            (409, m.GROUP_HAS_RELATIONS),
            SERVER,
        ),
    ),
    Endpoint(
        "groups.remove_user",
        "DELETE",
        "/groups/9/users/11",
        lambda c: c.groups.remove_user(9, 11),
        204,
        None,
        None,
        (
            KEY,
            TOKEN,
            *_404(m.MANAGER_NOT_FOUND, m.GROUP_NOT_FOUND, m.USER_ID_NOT_FOUND, m.USER_NOT_IN_GROUP),
            SERVER,
        ),
    ),
    Endpoint(
        "groups.remove_car",
        "DELETE",
        "/groups/9/cars/7",
        lambda c: c.groups.remove_car(9, 7),
        204,
        None,
        None,
        (
            KEY,
            TOKEN,
            *_404(m.MANAGER_NOT_FOUND, m.GROUP_NOT_FOUND, m.CAR_ID_NOT_FOUND, m.CAR_NOT_IN_GROUP),
            SERVER,
        ),
    ),
    Endpoint(
        "groups.remove_service",
        "DELETE",
        "/groups/9/services/5",
        lambda c: c.groups.remove_service(9, 5),
        204,
        None,
        None,
        (
            KEY,
            TOKEN,
            *_404(
                m.MANAGER_NOT_FOUND,
                m.GROUP_NOT_FOUND,
                m.SERVICE_ID_NOT_FOUND,
                m.SERVICE_NOT_IN_GROUP,
            ),
            SERVER,
        ),
    ),
    Endpoint(
        "groups.remove_product",
        "DELETE",
        "/groups/9/products/3",
        lambda c: c.groups.remove_product(9, 3),
        204,
        None,
        None,
        (
            KEY,
            TOKEN,
            *_404(
                m.MANAGER_NOT_FOUND,
                m.GROUP_NOT_FOUND,
                m.PRODUCT_ID_NOT_FOUND,
                m.PRODUCT_NOT_IN_GROUP,
            ),
            SERVER,
        ),
    ),
]

CUSTOMERS = Endpoint(
    "customers.list",
    "GET",
    "/customers",
    lambda c: c.customers.list(),
    200,
    [CUSTOMER_JSON],
    [CUSTOMER],
    (KEY, TOKEN, SERVER),
    scoped=False,
)

ALL = [*ENDPOINTS, CUSTOMERS]

ERROR_CASES = [
    (endpoint, status, message) for endpoint in ALL for status, message in endpoint.errors
]


def case_id(endpoint: Endpoint, status: int, message: str) -> str:
    return f"{endpoint.name}-{status}-{message[:48]}"

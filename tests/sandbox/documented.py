"""Every answer the reference pages document, per endpoint, written out from ``_messages``.

``(status, message)``: the plain-text body (400, 404, 409, 500) or the ``message`` of the 401
JSON body; ``None`` for answers that are a JSON document (2xx bodies, the 415 problem document)
or empty (204). The conformance test takes its rows from the pages, not from here;
``test_conformance.test_table_is_exactly_the_pages`` proves this table equals what the pages
say, so a constant of ``_messages`` that drifts from its page is caught.

Note what the pages leave out, kept here as they are: ``GET /cars`` documents no 404.
"""

from __future__ import annotations

from typing import Any, Final

from flinkey_async import Car, CreatedId, Group, Location, Product, Service, User
from flinkey_async import _messages as m

Answer = tuple[int, str | None]

KEY: Final[Answer] = (401, m.INVALID_API_KEY)
TOKEN: Final[Answer] = (401, m.INVALID_TOKEN)
MANAGER: Final[Answer] = (404, m.MANAGER_NOT_FOUND)
ERROR: Final[Answer] = (500, m.INTERNAL_SERVER_ERROR)
PROBLEM: Final[Answer] = (415, None)
OK: Final[Answer] = (200, None)
CREATED: Final[Answer] = (201, None)
NO_CONTENT: Final[Answer] = (204, None)


def _members(kind: str, unknown: str, already: str, not_member: str) -> dict[str, list[Answer]]:
    return {
        f"GET /groups/{{groupId}}/{kind}": [
            OK, KEY, TOKEN, MANAGER, (404, m.GROUP_NOT_FOUND_BY_ID), ERROR,
        ],
        f"PUT /groups/{{groupId}}/{kind}": [
            NO_CONTENT, KEY, TOKEN, MANAGER, (404, m.GROUP_NOT_FOUND), (404, unknown),
            (409, already), PROBLEM, ERROR,
        ],
    }  # fmt: skip


DOCUMENTED: Final[dict[str, list[Answer]]] = {
    "GET /products": [OK, KEY, TOKEN, MANAGER, ERROR],
    "GET /products/{productId}": [OK, KEY, TOKEN, MANAGER, (404, m.PRODUCT_NOT_FOUND), ERROR],
    "GET /products/{productId}/services": [
        OK, KEY, TOKEN, MANAGER, (404, m.PRODUCT_NOT_ASSIGNED),
        (404, m.SERVICE_OF_PRODUCT_NOT_FOUND), ERROR,
    ],
    "GET /products/{productId}/cars": [
        OK, KEY, TOKEN, MANAGER, (404, m.PRODUCT_NOT_ASSIGNED),
        (404, m.CAR_OF_PRODUCT_NOT_FOUND), ERROR,
    ],
    "GET /cars": [OK, KEY, TOKEN, ERROR],
    "GET /cars/{carId}": [OK, KEY, TOKEN, MANAGER, (404, m.CAR_NOT_FOUND), ERROR],
    "PUT /cars": [CREATED, (400, m.CAR_NAME_MISSING), KEY, TOKEN, MANAGER, PROBLEM, ERROR],
    "PATCH /cars/{carId}": [
        NO_CONTENT, (400, m.CAR_NAME_BLANK), KEY, TOKEN, MANAGER, (404, m.CAR_NOT_ASSIGNED),
        PROBLEM, ERROR,
    ],
    "DELETE /cars/{carId}": [NO_CONTENT, KEY, TOKEN, MANAGER, (404, m.CAR_NOT_ASSIGNED), ERROR],
    "GET /cars/{carId}/products": [
        OK, KEY, TOKEN, MANAGER, (404, m.CAR_NOT_ASSIGNED), (404, m.NO_PRODUCTS_ON_CAR), ERROR,
    ],
    "GET /cars/{carId}/location": [
        OK, KEY, TOKEN, MANAGER, (404, m.CAR_NOT_ASSIGNED), (404, m.NO_PRODUCTS_ON_CAR), ERROR,
    ],
    "GET /cars/{carId}/location/{searchDate}": [
        OK, (400, m.INVALID_DATE_FORMAT), KEY, TOKEN, MANAGER, (404, m.CAR_NOT_ASSIGNED),
        (404, m.NO_PRODUCTS_ON_CAR), ERROR,
    ],
    "GET /groups": [OK, KEY, TOKEN, MANAGER, ERROR],
    **_members("cars", m.CAR_ID_NOT_FOUND, m.CAR_ALREADY_IN_GROUP, m.CAR_NOT_IN_GROUP),
    **_members("users", m.USER_ID_NOT_FOUND, m.USER_ALREADY_IN_GROUP, m.USER_NOT_IN_GROUP),
    **_members(
        "services", m.SERVICE_ID_NOT_FOUND, m.SERVICE_ALREADY_IN_GROUP, m.SERVICE_NOT_IN_GROUP
    ),
    **_members(
        "products", m.PRODUCT_ID_NOT_FOUND, m.PRODUCT_ALREADY_IN_GROUP, m.PRODUCT_NOT_IN_GROUP
    ),
    "PUT /groups": [
        CREATED, (400, m.GROUP_NAME_MISSING), KEY, TOKEN, MANAGER, (409, m.GROUP_NAME_TAKEN),
        PROBLEM, ERROR,
    ],
    "PATCH /groups/{groupId}": [
        NO_CONTENT, (400, m.GROUP_NAME_BLANK), (400, m.GROUP_NAME_TOO_LONG), KEY, TOKEN, MANAGER,
        (404, m.GROUP_NOT_ASSIGNED), (404, m.GROUP_NOT_FOUND), PROBLEM, ERROR,
    ],
    "DELETE /groups/{groupId}": [
        NO_CONTENT, KEY, TOKEN, MANAGER, (404, m.GROUP_NOT_FOUND), (409, m.GROUP_HAS_RELATIONS),
        ERROR,
    ],
}  # fmt: skip

for _kind, _parameter, _unknown, _not_member in (
    ("users", "userId", m.USER_ID_NOT_FOUND, m.USER_NOT_IN_GROUP),
    ("cars", "carId", m.CAR_ID_NOT_FOUND, m.CAR_NOT_IN_GROUP),
    ("services", "serviceId", m.SERVICE_ID_NOT_FOUND, m.SERVICE_NOT_IN_GROUP),
    ("products", "productId", m.PRODUCT_ID_NOT_FOUND, m.PRODUCT_NOT_IN_GROUP),
):
    DOCUMENTED[f"DELETE /groups/{{groupId}}/{_kind}/{{{_parameter}}}"] = [
        NO_CONTENT, KEY, TOKEN, MANAGER, (404, m.GROUP_NOT_FOUND), (404, _unknown),
        (404, _not_member), ERROR,
    ]  # fmt: skip

SUCCESS_MODEL: Final[dict[str, tuple[type[Any], bool]]] = {
    # route: (model of the 2xx body, is a list)
    "GET /products": (Product, True),
    "GET /products/{productId}": (Product, False),
    "GET /products/{productId}/services": (Service, False),
    "GET /products/{productId}/cars": (Car, False),
    "GET /cars": (Car, True),
    "GET /cars/{carId}": (Car, False),
    "PUT /cars": (CreatedId, False),
    "GET /cars/{carId}/products": (Product, True),
    "GET /cars/{carId}/location": (Location, False),
    "GET /cars/{carId}/location/{searchDate}": (Location, False),
    "GET /groups": (Group, True),
    "GET /groups/{groupId}/cars": (Car, True),
    "GET /groups/{groupId}/users": (User, True),
    "GET /groups/{groupId}/services": (Service, True),
    "GET /groups/{groupId}/products": (Product, True),
    "PUT /groups": (CreatedId, False),
}


def rows() -> list[tuple[str, int, str | None]]:
    """Every (endpoint, status, message) pair of the table."""
    return [
        (route, status, message)
        for route, answers in DOCUMENTED.items()
        for status, message in answers
    ]

"""The sandbox's endpoints by name (``"METHOD /template"``), apart from the app.

Fault routes and counters use these names; keeping them here lets :mod:`._faults` check a route
without importing aiohttp.web.
"""

from __future__ import annotations

import difflib
from typing import Final

__all__ = [
    "CUSTOMERS_ENDPOINT",
    "ENDPOINTS",
    "ODATA_ENDPOINTS",
    "ROUTES",
    "TOKEN_ENDPOINT",
    "check_route",
]

ENDPOINTS: Final = (
    "GET /products",
    "GET /products/{productId}",
    "GET /products/{productId}/services",
    "GET /products/{productId}/cars",
    "GET /cars",
    "GET /cars/{carId}",
    "PUT /cars",
    "PATCH /cars/{carId}",
    "DELETE /cars/{carId}",
    "GET /cars/{carId}/products",
    "GET /cars/{carId}/location",
    "GET /cars/{carId}/location/{searchDate}",
    "GET /groups",
    "GET /groups/{groupId}/cars",
    "GET /groups/{groupId}/users",
    "GET /groups/{groupId}/services",
    "GET /groups/{groupId}/products",
    "PUT /groups",
    "PUT /groups/{groupId}/cars",
    "PUT /groups/{groupId}/users",
    "PUT /groups/{groupId}/services",
    "PUT /groups/{groupId}/products",
    "PATCH /groups/{groupId}",
    "DELETE /groups/{groupId}",
    "DELETE /groups/{groupId}/users/{userId}",
    "DELETE /groups/{groupId}/cars/{carId}",
    "DELETE /groups/{groupId}/services/{serviceId}",
    "DELETE /groups/{groupId}/products/{productId}",
)
"""The 28 endpoints of the reference pages, as ``"METHOD /template"``."""

ODATA_ENDPOINTS: Final = frozenset(
    {
        "GET /products",
        "GET /products/{productId}",
        "GET /products/{productId}/services",
        "GET /products/{productId}/cars",
        "GET /cars",
        "GET /cars/{carId}",
        "GET /cars/{carId}/products",
        "GET /cars/{carId}/location",
        "GET /cars/{carId}/location/{searchDate}",
    }
)
"""The endpoints whose page says "The returned data can be manipulated using OData"."""

TOKEN_ENDPOINT: Final = "POST /oauth2/token"
CUSTOMERS_ENDPOINT: Final = "GET /customers"

ROUTES: Final = frozenset({*ENDPOINTS, TOKEN_ENDPOINT, CUSTOMERS_ENDPOINT})
"""Every route the sandbox serves: the 28 endpoints, the token endpoint and ``GET /customers``."""


def check_route(route: object) -> str:
    """``route`` if the sandbox serves it; a ValueError naming the close matches otherwise.

    A misspelt route would never match a request, so a fault meant for it would silently never
    fire and a test relying on it would pass without testing anything.
    """
    if isinstance(route, str) and route in ROUTES:
        return route
    if not isinstance(route, str):
        raise ValueError(f"a route is a 'METHOD /template' string, got {route!r}")
    by_key = {known.upper(): known for known in sorted(ROUTES)}  # "get /cars" is close too
    keys = difflib.get_close_matches(route.upper(), by_key, n=3, cutoff=0.6)
    close = [by_key[key] for key in keys]
    if close:
        quoted = [repr(match) for match in close]
        choices = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
        hint = f"did you mean {choices}?"
    else:
        hint = "routes are endpoint templates such as 'PUT /cars' or 'GET /cars/{carId}'"
    raise ValueError(f"the sandbox has no route {route!r}: {hint}")

"""The sandbox's endpoints by name (``"METHOD /template"``), apart from the app.

The names come from :mod:`flinkey_async._api`, the one table of the API's endpoints. Fault
routes and counters use these names; keeping them here lets :mod:`._faults` check a route without
importing aiohttp.web.
"""

from __future__ import annotations

import difflib
from typing import Any, Final

from .. import _api

__all__ = [
    "CUSTOMERS_ENDPOINT",
    "ENDPOINTS",
    "ODATA_ENDPOINTS",
    "ROUTES",
    "TOKEN_ENDPOINT",
    "check_route",
    "served",
]

ENDPOINTS: Final = tuple(endpoint.route for endpoint in _api.endpoints())
"""The 28 endpoints of the reference pages, as ``"METHOD /template"``."""

ODATA_ENDPOINTS: Final = frozenset(
    endpoint.route for endpoint in _api.endpoints() if endpoint.odata
)
"""The endpoints whose page says "The returned data can be manipulated using OData"."""

TOKEN_ENDPOINT: Final = _api.TOKEN.route
CUSTOMERS_ENDPOINT: Final = _api.CUSTOMERS.route

ROUTES: Final = frozenset({*ENDPOINTS, TOKEN_ENDPOINT, CUSTOMERS_ENDPOINT})
"""Every route the sandbox serves: the 28 endpoints, the token endpoint and ``GET /customers``."""


def served() -> tuple[_api.Endpoint[Any], ...]:
    """Every endpoint the sandbox serves, as the API table has them now."""
    return (_api.TOKEN, _api.CUSTOMERS, *_api.endpoints())


def check_route(route: object) -> str:
    """``route`` if the sandbox serves it; a ValueError naming the close matches otherwise.

    A misspelt route would never match a request, so a fault meant for it would silently never
    fire and a test relying on it would pass without testing anything.
    """
    routes = {endpoint.route for endpoint in served()}
    if isinstance(route, str) and route in routes:
        return route
    if not isinstance(route, str):
        raise ValueError(f"a route is a 'METHOD /template' string, got {route!r}")
    by_key = {known.upper(): known for known in sorted(routes)}  # "get /cars" is close too
    keys = difflib.get_close_matches(route.upper(), by_key, n=3, cutoff=0.6)
    close = [by_key[key] for key in keys]
    if close:
        quoted = [repr(match) for match in close]
        choices = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
        hint = f"did you mean {choices}?"
    else:
        hint = "routes are endpoint templates such as 'PUT /cars' or 'GET /cars/{carId}'"
    raise ValueError(f"the sandbox has no route {route!r}: {hint}")

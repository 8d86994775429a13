"""flinkey_async: an asyncio client for the flinkey API v3.

```python
async with FlinkeyClient(api_key=..., username=..., password=..., customer_id=42) as client:
    cars = await client.cars.list()
```

The OData query builder lives in :mod:`flinkey_async.odata`, the sandbox server in
:mod:`flinkey_async.sandbox` and the sync job in :mod:`flinkey_async.sync`.
"""

import importlib
import typing
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from ._cars import UNCHANGED, CarsResource, Unchanged
    from ._client import FlinkeyClient
    from ._config import DEFAULT_TIMEOUT, PRODUCTION_URL, TEST_URL, ClientConfig, RetryPolicy
    from ._customers import CustomersResource
    from ._engine import BoundedRunner, Outcome, get_many
    from ._exceptions import (
        APIError,
        AuthenticationError,
        BadRequestError,
        ClientClosedError,
        ConflictError,
        ConnectError,
        DecodeError,
        FlinkeyError,
        InvalidAPIKeyError,
        InvalidCredentialsError,
        InvalidTokenError,
        ManagerNotFoundError,
        NotFoundError,
        NotSelectedError,
        ODataError,
        ODataSyntaxError,
        OutcomeUnknownError,
        RateLimitError,
        RequestTimeoutError,
        ServerError,
        TransportError,
        UnsupportedMediaTypeError,
        ValidationError,
    )
    from ._fleet import Failure, FleetResource, FleetSnapshot
    from ._groups import GroupsResource
    from ._models import (
        Car,
        CreatedId,
        Customer,
        Group,
        Location,
        Product,
        ProductType,
        Service,
        Token,
        User,
        UserData,
    )
    from ._paging import iterate_pages
    from ._products import ProductsResource
    from ._rate import RateLimiter
    from ._selected import Selected
    from ._transport import ClientStats, QueryLike
    from .odata._errors import UnknownFieldError, UnsupportedODataError

_CORE: dict[str, str] = {
    "iterate_pages": "._paging",
    "UNCHANGED": "._cars",
    "CarsResource": "._cars",
    "Unchanged": "._cars",
    "FlinkeyClient": "._client",
    "DEFAULT_TIMEOUT": "._config",
    "PRODUCTION_URL": "._config",
    "TEST_URL": "._config",
    "ClientConfig": "._config",
    "RetryPolicy": "._config",
    "CustomersResource": "._customers",
    "BoundedRunner": "._engine",
    "Outcome": "._engine",
    "get_many": "._engine",
    "APIError": "._exceptions",
    "AuthenticationError": "._exceptions",
    "BadRequestError": "._exceptions",
    "ClientClosedError": "._exceptions",
    "ConflictError": "._exceptions",
    "ConnectError": "._exceptions",
    "DecodeError": "._exceptions",
    "FlinkeyError": "._exceptions",
    "InvalidAPIKeyError": "._exceptions",
    "InvalidCredentialsError": "._exceptions",
    "InvalidTokenError": "._exceptions",
    "ManagerNotFoundError": "._exceptions",
    "NotFoundError": "._exceptions",
    "NotSelectedError": "._exceptions",
    "ODataError": "._exceptions",
    "ODataSyntaxError": "._exceptions",
    "OutcomeUnknownError": "._exceptions",
    "RateLimitError": "._exceptions",
    "RequestTimeoutError": "._exceptions",
    "ServerError": "._exceptions",
    "TransportError": "._exceptions",
    "UnsupportedMediaTypeError": "._exceptions",
    "ValidationError": "._exceptions",
    "GroupsResource": "._groups",
    "Car": "._models",
    "CreatedId": "._models",
    "Customer": "._models",
    "Group": "._models",
    "Location": "._models",
    "Product": "._models",
    "ProductType": "._models",
    "Service": "._models",
    "Token": "._models",
    "User": "._models",
    "UserData": "._models",
    "ProductsResource": "._products",
    "RateLimiter": "._rate",
    "Selected": "._selected",
    "ClientStats": "._transport",
    "QueryLike": "._transport",
}
"""The client's names, loaded together on first use: ``import flinkey_async`` itself imports
nothing heavy (no aiohttp), so a command line can take over Ctrl-C before the real imports, and
the first name used brings all of these at once, each reported under its public path."""

_LAZY = {
    "Failure": "._fleet",
    "FleetResource": "._fleet",
    "FleetSnapshot": "._fleet",
    "UnknownFieldError": ".odata._errors",
    "UnsupportedODataError": ".odata._errors",
}
"""Names whose module loads on their own first use: the bulk helpers and the OData package are not
needed by a program that only makes single calls."""


def _public(cls: type) -> None:
    """Report a re-exported class as ``flinkey_async.Name``, where users import it from.

    Tracebacks, reprs and pickles then show the public path, not a private module. The class's
    string annotations (``from __future__ import annotations``) are resolved first, in the module
    that wrote them: ``typing.get_type_hints`` and attrs look names up in ``__module__``.
    """
    if cls.__module__ == __name__:
        return
    own = cls.__dict__.get("__annotations__")  # noqa: RUF063 (the dict itself, to update it)
    if own:
        try:
            hints = typing.get_type_hints(cls, include_extras=True)
        except Exception:  # a name only imported for type checkers: left as it was
            hints = {}
        for key in own:
            if key in hints:
                own[key] = hints[key]
    cls.__module__ = __name__


def _load_core() -> None:
    for name, module in _CORE.items():
        globals()[name] = getattr(importlib.import_module(module, __name__), name)
    for name in _CORE:
        value = globals()[name]
        if isinstance(value, type):
            _public(value)


def __getattr__(name: str) -> Any:
    if name in _CORE:
        _load_core()
        return globals()[name]
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    if isinstance(value, type):
        _public(value)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_CORE, *_LAZY})


__all__ = [
    "DEFAULT_TIMEOUT",
    "PRODUCTION_URL",
    "TEST_URL",
    "UNCHANGED",
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "BoundedRunner",
    "Car",
    "CarsResource",
    "ClientClosedError",
    "ClientConfig",
    "ClientStats",
    "ConflictError",
    "ConnectError",
    "CreatedId",
    "Customer",
    "CustomersResource",
    "DecodeError",
    "Failure",
    "FleetResource",
    "FleetSnapshot",
    "FlinkeyClient",
    "FlinkeyError",
    "Group",
    "GroupsResource",
    "InvalidAPIKeyError",
    "InvalidCredentialsError",
    "InvalidTokenError",
    "Location",
    "ManagerNotFoundError",
    "NotFoundError",
    "NotSelectedError",
    "ODataError",
    "ODataSyntaxError",
    "Outcome",
    "OutcomeUnknownError",
    "Product",
    "ProductType",
    "ProductsResource",
    "QueryLike",
    "RateLimitError",
    "RateLimiter",
    "RequestTimeoutError",
    "RetryPolicy",
    "Selected",
    "ServerError",
    "Service",
    "Token",
    "TransportError",
    "Unchanged",
    "UnknownFieldError",
    "UnsupportedMediaTypeError",
    "UnsupportedODataError",
    "User",
    "UserData",
    "ValidationError",
    "__version__",
    "get_many",
    "iterate_pages",
]

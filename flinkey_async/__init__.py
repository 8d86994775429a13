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
from ._products import ProductsResource
from ._rate import RateLimiter
from ._transport import ClientStats, QueryLike
from ._version import __version__

if TYPE_CHECKING:
    from ._fleet import Failure, FleetResource, FleetSnapshot
    from .odata._errors import UnknownFieldError, UnsupportedODataError

_LAZY = {
    "Failure": "._fleet",
    "FleetResource": "._fleet",
    "FleetSnapshot": "._fleet",
    "UnknownFieldError": ".odata._errors",
    "UnsupportedODataError": ".odata._errors",
}
"""Names whose module loads on first use: the bulk helpers and the OData package are not needed by
a program that only makes single calls, and ``import flinkey_async`` stays light."""


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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    if isinstance(value, type):
        _public(value)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


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
]

for _name in __all__:
    _value = globals().get(_name)
    if isinstance(_value, type):
        _public(_value)
del _name, _value

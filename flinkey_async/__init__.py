"""flinkey_async: an asyncio client for the flinkey API v3.

```python
async with FlinkeyClient(api_key=..., username=..., password=..., customer_id=42) as client:
    cars = await client.cars.list()
```

The OData query builder lives in :mod:`flinkey_async.odata`, the sandbox server in
:mod:`flinkey_async.sandbox` and the sync job in :mod:`flinkey_async.sync`.
"""

import importlib
from typing import TYPE_CHECKING, Any

from ._cars import CarsResource
from ._client import FlinkeyClient
from ._customers import CustomersResource
from ._engine import BoundedRunner, Outcome, get_many
from ._exceptions import (
    APIError,
    AuthenticationError,
    BadRequestError,
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
from ._paging import iterate_pages
from ._products import ProductsResource
from ._rate import RateLimiter
from ._transport import (
    DEFAULT_TIMEOUT,
    PRODUCTION_URL,
    TEST_URL,
    ClientStats,
    QueryLike,
    RetryPolicy,
)
from ._version import __version__

if TYPE_CHECKING:
    from ._fleet import Failure, FleetResource, FleetSnapshot

_LAZY = {"Failure": "._fleet", "FleetResource": "._fleet", "FleetSnapshot": "._fleet"}
"""Names whose module loads on first use: the bulk helpers (and the OData package they use) are
not needed by a program that only makes single calls, and ``import flinkey_async`` stays light."""


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "DEFAULT_TIMEOUT",
    "PRODUCTION_URL",
    "TEST_URL",
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "BoundedRunner",
    "Car",
    "CarsResource",
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
    "UnsupportedMediaTypeError",
    "User",
    "UserData",
    "ValidationError",
    "__version__",
    "get_many",
    "iterate_pages",
]

"""flinkey_async: an asyncio client for the flinkey API v3.

```python
async with FlinkeyClient(api_key=..., username=..., password=..., customer_id=42) as client:
    cars = await client.cars.list()
```
"""

from ._exceptions import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ConnectError,
    DecodeError,
    FlinkeyError,
    InvalidAPIKeyError,
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
from ._version import __version__

# -- client exports (below) --
# isort: split
from ._cars import CarsResource
from ._client import FlinkeyClient
from ._customers import CustomersResource
from ._groups import GroupsResource
from ._products import ProductsResource
from ._transport import (
    DEFAULT_TIMEOUT,
    PRODUCTION_URL,
    TEST_URL,
    ClientStats,
    QueryLike,
    RetryPolicy,
)

__all__ = [
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "Car",
    "ConflictError",
    "ConnectError",
    "CreatedId",
    "Customer",
    "DecodeError",
    "FlinkeyError",
    "Group",
    "InvalidAPIKeyError",
    "InvalidTokenError",
    "Location",
    "ManagerNotFoundError",
    "NotFoundError",
    "ODataError",
    "ODataSyntaxError",
    "OutcomeUnknownError",
    "Product",
    "ProductType",
    "RateLimitError",
    "RequestTimeoutError",
    "ServerError",
    "Service",
    "Token",
    "TransportError",
    "UnsupportedMediaTypeError",
    "User",
    "UserData",
    "ValidationError",
    "__version__",
    # -- client names (below) --
]
__all__ += [
    "DEFAULT_TIMEOUT",
    "PRODUCTION_URL",
    "TEST_URL",
    "CarsResource",
    "ClientStats",
    "CustomersResource",
    "FlinkeyClient",
    "GroupsResource",
    "ProductsResource",
    "QueryLike",
    "RetryPolicy",
]

"""A local flinkey API v3 for tests, demos and benchmarks (like stripe-mock for Stripe).

```python
from flinkey_async.sandbox import FaultConfig, Sandbox

async with Sandbox(cars=1000, seed=7) as sb:
    sb.base_url, sb.api_key, sb.username, sb.password, sb.customer_ids
    sb.faults.reset_after_next("PUT /cars")     # prove that a create is never replayed
    sb.counters.created["car"]                  # ... by counting what was created
```

The sandbox is an independent implementation of the reference pages: it never imports the
client, so the client's tests against it test the client, not a copy of it. It answers with
the documented statuses, bodies and messages, keeps each customer's data apart, serves a
deterministic seeded fleet and injects faults on demand. Needs the ``sandbox`` extra (PyJWT).

Also available as ``flinkey-async sandbox`` / ``python -m flinkey_async.sandbox`` and, for
pytest, as the ``flinkey_sandbox`` and ``flinkey_client`` fixtures.

The names below are loaded on first use, so that importing ``flinkey_async.sandbox.pytest_plugin``
(which pytest does in every run once the package is installed) loads neither the server nor
PyJWT and needs no extra; it still imports the ``flinkey_async`` package (the client) first.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._app import SandboxMessages
    from ._auth import Credentials
    from ._cli import add_arguments, serve_forever
    from ._data import REFERENCE_TIME, FleetSpec, generate, is_valid_vin, vin_check_digit
    from ._defaults import DEFAULT_CARS, DEFAULT_CUSTOMERS, DEFAULT_SEED
    from ._faults import Counters, FaultConfig, FaultKind, Faults
    from ._routes import ENDPOINTS, ODATA_ENDPOINTS, ROUTES
    from ._server import Sandbox
    from ._state import MemberKind, OdometerReading, Position, SandboxState

__all__ = [
    "DEFAULT_CARS",
    "DEFAULT_CUSTOMERS",
    "DEFAULT_SEED",
    "ENDPOINTS",
    "ODATA_ENDPOINTS",
    "REFERENCE_TIME",
    "ROUTES",
    "Counters",
    "Credentials",
    "FaultConfig",
    "FaultKind",
    "Faults",
    "FleetSpec",
    "MemberKind",
    "OdometerReading",
    "Position",
    "Sandbox",
    "SandboxMessages",
    "SandboxState",
    "add_arguments",
    "generate",
    "is_valid_vin",
    "serve_forever",
    "vin_check_digit",
]

_HOMES = {
    "DEFAULT_CARS": "._defaults",
    "DEFAULT_CUSTOMERS": "._defaults",
    "DEFAULT_SEED": "._defaults",
    "ENDPOINTS": "._routes",
    "ODATA_ENDPOINTS": "._routes",
    "ROUTES": "._routes",
    "SandboxMessages": "._app",
    "Credentials": "._auth",
    "add_arguments": "._cli",
    "serve_forever": "._cli",
    "REFERENCE_TIME": "._data",
    "FleetSpec": "._data",
    "generate": "._data",
    "is_valid_vin": "._data",
    "vin_check_digit": "._data",
    "Counters": "._faults",
    "FaultConfig": "._faults",
    "FaultKind": "._faults",
    "Faults": "._faults",
    "Sandbox": "._server",
    "MemberKind": "._state",
    "OdometerReading": "._state",
    "Position": "._state",
    "SandboxState": "._state",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

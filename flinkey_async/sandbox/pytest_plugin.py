"""pytest fixtures for your own tests against a local flinkey sandbox.

Installed with the package (``pytest11`` entry point ``flinkey_async``); nothing to configure::

    async def test_fleet_report(flinkey_client, flinkey_sandbox):
        cars = await flinkey_client.cars.list()
        assert len(cars) == len(flinkey_sandbox.state.cars(flinkey_sandbox.customer_id))

    @pytest.mark.flinkey_sandbox(cars=500, seed=3, faults=FaultConfig(error_rate_503=0.1))
    async def test_survives_outages(flinkey_client): ...

* ``flinkey_sandbox``: a running :class:`~flinkey_async.sandbox.Sandbox` per test (the default
  seed, 7, with 20 cars per customer so that a test starts in milliseconds, unless the
  ``flinkey_sandbox`` marker or ``--flinkey-sandbox-seed`` says otherwise).
* ``flinkey_client``: a ``FlinkeyClient`` logged in to that sandbox as its first customer.

The fixtures are async and need pytest-asyncio; the sandbox needs the ``sandbox`` extra
(PyJWT).

What loading the plugin costs (pytest loads it in every run once the package is installed):
this module and pytest-asyncio, plus the ``flinkey_async`` package itself, since Python imports
a package before its modules; that is the client and aiohttp, as ``import flinkey_async``.
The sandbox server, PyJWT and :mod:`flinkey_async.odata` are imported only when a test asks for
a fixture, so a run that uses no fixture needs no ``sandbox`` extra.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import pytest

from ._defaults import DEFAULT_SEED

if TYPE_CHECKING:
    from ._server import Sandbox

__all__ = ["flinkey_client", "flinkey_sandbox"]

_DEFAULTS: dict[str, Any] = {"cars": 20, "seed": DEFAULT_SEED}
"""The default seed of every sandbox, with a fleet of 20 cars per customer: small, so that a test
starts in milliseconds (the marker asks for more)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("flinkey_async", "flinkey_async sandbox")
    group.addoption(
        "--flinkey-sandbox-seed",
        type=int,
        default=None,
        help=f"seed of the flinkey_sandbox fixture's fleet (default {DEFAULT_SEED})",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "flinkey_sandbox(**options): options of the flinkey_sandbox fixture "
        "(cars, seed, customers, token_ttl, faults, ... as for flinkey_async.sandbox.Sandbox)",
    )


def sandbox_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The Sandbox arguments for a test: defaults, then the command line, then markers
    (the marker closest to the test wins)."""
    options = dict(_DEFAULTS)
    seed = request.config.getoption("flinkey_sandbox_seed", default=None)
    if seed is not None:
        options["seed"] = seed
    for marker in reversed(list(request.node.iter_markers("flinkey_sandbox"))):
        if marker.args:
            raise pytest.UsageError("the flinkey_sandbox marker takes keyword arguments only")
        options.update(marker.kwargs)
    return options


_F = TypeVar("_F", bound=Callable[..., Any])
_fixture: Any
try:
    from pytest_asyncio import fixture as _fixture
except ImportError:  # pragma: no cover - pytest then says an async fixture needs a plugin
    _fixture = pytest.fixture


def _async_fixture(function: _F) -> _F:
    return cast(_F, _fixture(function))


@_async_fixture
async def flinkey_sandbox(request: pytest.FixtureRequest) -> AsyncIterator[Sandbox]:
    """A running sandbox for this test, closed afterwards."""
    from ._server import Sandbox

    async with Sandbox(**sandbox_options(request)) as sandbox:
        yield sandbox


@_async_fixture
async def flinkey_client(flinkey_sandbox: Sandbox) -> AsyncIterator[Any]:
    """A ``FlinkeyClient`` for the sandbox's first customer, closed afterwards."""
    # The sandbox itself never uses the client; only this convenience fixture does.
    from flinkey_async import FlinkeyClient  # type: ignore[attr-defined,unused-ignore]

    async with FlinkeyClient(**flinkey_sandbox.client_kwargs()) as client:
        yield client

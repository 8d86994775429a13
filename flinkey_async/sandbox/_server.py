"""``Sandbox``: the local flinkey API v3 as an async context manager.

```python
async with Sandbox(cars=1000, seed=7) as sb:
    client = FlinkeyClient(api_key=sb.api_key, username=sb.username, password=sb.password,
                           customer_id=sb.customer_ids[0], base_url=sb.base_url)
```

The server listens on loopback (port 0 = a free port) through ``aiohttp.web.AppRunner`` in the
running event loop; nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import MutableMapping
from datetime import datetime
from types import TracebackType
from typing import Any, cast

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from ._app import build_app
from ._auth import Credentials, TokenAuthority
from ._data import REFERENCE_TIME, FleetSpec, generate
from ._defaults import DEFAULT_CARS, DEFAULT_CUSTOMERS, DEFAULT_SEED
from ._faults import Counters, FaultConfig, Faults
from ._state import SandboxState

__all__ = ["Sandbox"]

_PREFIX = "/v3"


class _ServerLog(logging.LoggerAdapter[logging.Logger]):
    """aiohttp's server log, with a client's malformed request as a debug line.

    aiohttp answers a request it cannot parse (a bad request line, a header with a NUL, a URL
    over 8 KiB) with 400 itself, and logs it as an error with a traceback. That is the client's
    mistake, answered as it should be; the sandbox's own failures still log as errors.
    """

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, Any]:
        return msg, kwargs

    def exception(self, msg: object, *args: object, exc_info: Any = True, **kwargs: Any) -> None:
        if isinstance(exc_info, HttpProcessingError):
            text = str(msg) % args if args else str(msg)
            self.debug("%s: %s", text, str(exc_info).partition("\n")[0])
            return
        self.error(msg, *args, exc_info=exc_info, **kwargs)


_SERVER_LOG = cast(logging.Logger, _ServerLog(logging.getLogger("aiohttp.server")))


class Sandbox:
    """A running, seeded stand-in for the flinkey API v3.

    Fleet sizes are per customer; ``None`` sizes follow ``cars`` (see :class:`FleetSpec`).
    ``api_key``, ``username`` and ``password`` are random unless given. ``token_ttl`` is the
    lifetime in seconds of tokens issued from then on (also settable while running).
    ``faults`` are the initial fault rates; change them at run time through :attr:`faults`.
    """

    def __init__(
        self,
        *,
        cars: int = DEFAULT_CARS,
        seed: int = DEFAULT_SEED,
        customers: int = DEFAULT_CUSTOMERS,
        products: int | None = None,
        services: int | None = None,
        groups: int | None = None,
        users: int | None = None,
        token_ttl: int = 3600,
        faults: FaultConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        username: str | None = None,
        password: str | None = None,
        reference_time: datetime = REFERENCE_TIME,
    ) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, got {port}")
        self.spec = FleetSpec(
            seed=seed,
            customers=customers,
            cars=cars,
            products=products,
            services=services,
            groups=groups,
            users=users,
            reference_time=reference_time,
        )
        generated = Credentials.random()
        self.credentials = Credentials(
            api_key=api_key if api_key is not None else generated.api_key,
            username=username if username is not None else generated.username,
            password=password if password is not None else generated.password,
        )
        self.authority = TokenAuthority(ttl=token_ttl)
        self.faults = Faults(faults, seed=seed)
        self.counters = Counters()
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self._state: SandboxState | None = None
        self._runner: web.AppRunner | None = None

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> Sandbox:
        """Generate the fleet and start listening. Returns ``self``."""
        if self._runner is not None:
            raise RuntimeError("the sandbox is already running")
        if self._state is None:
            # Generating a large fleet is CPU work: keep the event loop free meanwhile.
            self._state = await asyncio.to_thread(generate, self.spec)
        app = build_app(
            state=self._state,
            credentials=self.credentials,
            authority=self.authority,
            faults=self.faults,
            counters=self.counters,
            prefix=_PREFIX,
        )
        runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=1.0,
            logger=_SERVER_LOG,
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self._requested_port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = int(runner.addresses[0][1])
        return self

    async def close(self) -> None:
        """Stop listening and drop open connections. Safe to call twice."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Sandbox:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def running(self) -> bool:
        return self._runner is not None

    # -- what a client needs ---------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the sandbox has not been started")
        return self._port

    @property
    def base_url(self) -> str:
        """The API root, like ``https://api.flinkey.de/v3``: ``http://127.0.0.1:PORT/v3``."""
        host = self.host
        try:
            if ipaddress.ip_address(host).version == 6:
                host = f"[{host}]"
        except ValueError:
            pass
        return f"http://{host}:{self.port}{_PREFIX}"

    def url(self, path: str) -> str:
        """The absolute URL of an API path: ``sb.url("/cars/10001")``."""
        return self.base_url + (path if path.startswith("/") else f"/{path}")

    @property
    def api_key(self) -> str:
        return self.credentials.api_key

    @property
    def username(self) -> str:
        return self.credentials.username

    @property
    def password(self) -> str:
        return self.credentials.password

    @property
    def state(self) -> SandboxState:
        """The ground truth the sandbox serves (read it, change it to simulate upstream edits)."""
        if self._state is None:
            raise RuntimeError("the sandbox has not been started")
        return self._state

    @property
    def customer_ids(self) -> list[int]:
        """The customers the API Manager may act for, in id order."""
        return self.state.customer_ids

    @property
    def customer_id(self) -> int:
        """The first customer: the one to use when a test needs just one."""
        return self.customer_ids[0]

    def client_kwargs(self, customer_id: int | None = None) -> dict[str, Any]:
        """Keyword arguments that point a ``FlinkeyClient`` at this sandbox."""
        return {
            "api_key": self.api_key,
            "username": self.username,
            "password": self.password,
            "customer_id": self.customer_id if customer_id is None else customer_id,
            "base_url": self.base_url,
        }

    # -- tokens ----------------------------------------------------------------------------

    @property
    def token_ttl(self) -> int:
        """Lifetime in seconds of the tokens issued from now on."""
        return self.authority.ttl

    @token_ttl.setter
    def token_ttl(self, seconds: int) -> None:
        self.authority.ttl = seconds

    def revoke_tokens(self) -> None:
        """Every token issued so far stops working; new tokens can be requested."""
        self.authority.revoke_all()

    def issue_token(self, *, ttl: float | None = None) -> str:
        """A valid bearer token without a token request (not counted). A negative ``ttl``
        gives a correctly signed token that has already expired."""
        return self.authority.issue(ttl=ttl).access_token

    def __repr__(self) -> str:
        where = self.base_url if self._port is not None and self.running else "not running"
        return (
            f"<Sandbox {where} seed={self.spec.seed} customers={self.spec.customers} "
            f"cars={self.spec.cars} username={self.username!r}>"
        )

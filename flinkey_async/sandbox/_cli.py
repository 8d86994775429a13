"""``flinkey-async sandbox`` / ``python -m flinkey_async.sandbox``: serve a sandbox until stopped.

Prints the base URL and the credentials a client needs, then serves until Ctrl+C or SIGTERM.
``--format json`` prints them as one JSON line instead, for scripts that start the sandbox and
read its first line of output.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from ._defaults import DEFAULT_CARS, DEFAULT_CUSTOMERS, DEFAULT_SEED
from ._faults import FaultConfig
from ._server import Sandbox

__all__ = ["add_arguments", "build_parser", "main", "serve_forever"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The sandbox's options, for ``flinkey-async sandbox`` and ``python -m``."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port, 0 for a free one (8080)")
    fleet = parser.add_argument_group("fleet (sizes per customer)")
    fleet.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"same seed, same fleet ({DEFAULT_SEED})"
    )
    fleet.add_argument(
        "--customers",
        type=int,
        default=DEFAULT_CUSTOMERS,
        help=f"customers of the manager ({DEFAULT_CUSTOMERS})",
    )
    fleet.add_argument(
        "--cars", type=int, default=DEFAULT_CARS, help=f"cars per customer ({DEFAULT_CARS})"
    )
    for kind in ("products", "services", "groups", "users"):
        fleet.add_argument(f"--{kind}", type=int, default=None, help=f"{kind} per customer")
    auth = parser.add_argument_group("credentials (random unless given)")
    auth.add_argument("--api-key", default=None)
    auth.add_argument("--username", default=None)
    auth.add_argument("--password", default=None)
    auth.add_argument(
        "--token-ttl", type=int, default=3600, help="token lifetime in seconds (3600)"
    )
    faults = parser.add_argument_group("faults (all off by default; rates are per request)")
    faults.add_argument("--latency", type=float, default=0.0, help="seconds added to answers")
    faults.add_argument("--latency-jitter", type=float, default=0.0, help="up to N s more")
    faults.add_argument("--error-rate-500", type=float, default=0.0)
    faults.add_argument("--error-rate-503", type=float, default=0.0)
    faults.add_argument("--rate-limit-rate", type=float, default=0.0, help="share of 429s")
    faults.add_argument("--retry-after", type=int, default=1, help="Retry-After of a 429 (1)")
    faults.add_argument("--reset-before-rate", type=float, default=0.0)
    faults.add_argument("--reset-after-rate", type=float, default=0.0)
    faults.add_argument("--truncate-rate", type=float, default=0.0)
    faults.add_argument("--token-outage", action="store_true", help="token endpoint answers 503")
    faults.add_argument(
        "--fault-route",
        action="append",
        default=None,
        metavar="'METHOD /template'",
        help="limit rates to this endpoint, e.g. 'PUT /cars' (repeatable)",
    )
    parser.add_argument(
        "--format", choices=("text", "json"), default="text", help="how to print the details"
    )
    parser.add_argument(
        "--stop-on-eof",
        action="store_true",
        help="also stop when standard input (a pipe) closes: a program that starts the sandbox "
        "as its child leaves no sandbox behind, even when it is killed",
    )


def build_parser(prog: str = "flinkey-async sandbox") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Serve a local flinkey API v3 sandbox with a seeded fleet.",
    )
    add_arguments(parser)
    return parser


def fault_config(args: argparse.Namespace) -> FaultConfig:
    """The fault rates given on the command line (ValueError when they are inconsistent)."""
    return FaultConfig(
        latency=args.latency,
        latency_jitter=args.latency_jitter,
        error_rate_500=args.error_rate_500,
        error_rate_503=args.error_rate_503,
        rate_limit_rate=args.rate_limit_rate,
        retry_after=args.retry_after,
        reset_before_rate=args.reset_before_rate,
        reset_after_rate=args.reset_after_rate,
        truncate_rate=args.truncate_rate,
        token_outage=args.token_outage,
        routes=frozenset(args.fault_route) if args.fault_route else None,
    )


def describe(sandbox: Sandbox, fmt: str = "text") -> str:
    """What a client needs to reach the sandbox, as text or one JSON line."""
    details = {
        "base_url": sandbox.base_url,
        "api_key": sandbox.api_key,
        "username": sandbox.username,
        "password": sandbox.password,
        "customer_ids": sandbox.customer_ids,
    }
    if fmt == "json":
        return json.dumps(details)
    spec = sandbox.spec
    return "\n".join(
        [
            f"flinkey sandbox (seed {spec.seed}, {spec.customers} customers, "
            f"{spec.cars} cars each)",
            f"base URL:     {details['base_url']}",
            f"API key:      {details['api_key']}",
            f"username:     {details['username']}",
            f"password:     {details['password']}",
            f"customer IDs: {', '.join(str(c) for c in sandbox.customer_ids)}",
            "Press Ctrl+C to stop.",
        ]
    )


async def serve_forever(
    port: int = 8080,
    cars: int = DEFAULT_CARS,
    seed: int = DEFAULT_SEED,
    host: str = "127.0.0.1",
    *,
    customers: int = DEFAULT_CUSTOMERS,
    products: int | None = None,
    services: int | None = None,
    groups: int | None = None,
    users: int | None = None,
    token_ttl: int = 3600,
    faults: FaultConfig | None = None,
    api_key: str | None = None,
    username: str | None = None,
    password: str | None = None,
    fmt: str = "text",
    output: TextIO | None = None,
    stop: asyncio.Event | None = None,
    ready: Callable[[Sandbox], None] | None = None,
    stop_on_eof: bool = False,
) -> None:
    """Run a sandbox, print its details to ``output`` (stdout), serve until stopped.

    Stops when ``stop`` is set or on SIGINT/SIGTERM (where the loop can watch signals), and
    with ``stop_on_eof`` when standard input closes.
    """
    stop = stop if stop is not None else asyncio.Event()
    loop = asyncio.get_running_loop()
    watched: list[signal.Signals] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop.set)
        except (NotImplementedError, RuntimeError, ValueError):  # not main thread / Windows
            continue
        watched.append(signum)
    stdin: asyncio.BaseTransport | None = None
    if stop_on_eof:
        # Not a pipe, or a loop that cannot watch one: nothing to watch.
        with contextlib.suppress(OSError, ValueError, NotImplementedError):
            stdin, _ = await loop.connect_read_pipe(lambda: _EndOfInput(stop), sys.stdin)
    try:
        async with Sandbox(
            cars=cars,
            seed=seed,
            customers=customers,
            products=products,
            services=services,
            groups=groups,
            users=users,
            token_ttl=token_ttl,
            faults=faults,
            host=host,
            port=port,
            api_key=api_key,
            username=username,
            password=password,
        ) as sandbox:
            stream = output if output is not None else sys.stdout
            print(describe(sandbox, fmt), file=stream, flush=True)
            if ready is not None:
                ready(sandbox)
            await stop.wait()
    finally:
        for signum in watched:
            loop.remove_signal_handler(signum)
        if stdin is not None:
            stdin.close()


class _EndOfInput(asyncio.Protocol):
    """Sets ``stop`` when the pipe on standard input closes (its writer ended or died)."""

    def __init__(self, stop: asyncio.Event) -> None:
        self._stop = stop

    def eof_received(self) -> None:
        self._stop.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop.set()


def run(args: argparse.Namespace) -> int:
    """Serve with parsed arguments (for a CLI that added :func:`add_arguments`)."""
    try:
        faults = fault_config(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(
            serve_forever(
                args.port,
                args.cars,
                args.seed,
                args.host,
                customers=args.customers,
                products=args.products,
                services=args.services,
                groups=args.groups,
                users=args.users,
                token_ttl=args.token_ttl,
                faults=faults,
                api_key=args.api_key,
                username=args.username,
                password=args.password,
                fmt=args.format,
                stop_on_eof=args.stop_on_eof,
            )
        )
    except KeyboardInterrupt:  # a second Ctrl+C, or a platform without signal handlers
        return 0
    except (OSError, ValueError) as exc:  # port in use, bad sizes
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None, *, prog: str = "flinkey-async sandbox") -> int:
    """Entry point of ``flinkey-async sandbox`` and ``python -m flinkey_async.sandbox``;
    returns the exit status."""
    args = build_parser(prog).parse_args(argv)
    with contextlib.suppress(BrokenPipeError):
        return run(args)
    return 0

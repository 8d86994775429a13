"""``flinkey-async``: the command line. ``sync`` copies a fleet into a local store.

```
flinkey-async sync                       # no credentials: from the embedded sandbox
flinkey-async sync --out fleet.sqlite --concurrency 32 --rate 50 --customer all
flinkey-async sync --out postgresql://user@host/db --customer all   # one of several workers
flinkey-async sandbox --port 8080        # serve a sandbox (see flinkey-async sandbox --help)
```

Expected failures (credentials rejected, host unreachable, store not writable, another sync on
the same store) end with one line on stderr and a documented exit status, never a traceback.

One module although long: the arguments, the settings they make, the progress display, the
sandbox process and the mapping of errors to exit statuses are one user interface, changed
together; the work itself is in :mod:`flinkey_async.sync` and the client.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib
import json
import logging
import os
import signal
import sys
import tempfile
import textwrap
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO

from ._exceptions import (
    APIError,
    AuthenticationError,
    ConnectError,
    FlinkeyError,
    InvalidAPIKeyError,
    InvalidTokenError,
    ManagerNotFoundError,
    RequestTimeoutError,
    TransportError,
    ValidationError,
)
from .sandbox._defaults import DEFAULT_CARS, DEFAULT_SEED

if TYPE_CHECKING:
    from ._client import FlinkeyClient
    from .sync import DatabaseUrl, JsonlStore, PostgresStore, SqliteStore, SyncJob, SyncReport

__all__ = ["EXIT_CODES", "main"]

EXIT_OK = 0
EXIT_INCOMPLETE = 1
EXIT_USAGE = 2
EXIT_CREDENTIALS = 3
EXIT_UNREACHABLE = 4
EXIT_STORE = 5
EXIT_BUSY = 6
EXIT_INTERRUPTED = 130

EXIT_CODES = {
    EXIT_OK: "the sync completed",
    EXIT_INCOMPLETE: "the sync ran, but some requests kept failing (the store is consistent; "
    "run again to complete it), or the API answered with an unexpected error",
    EXIT_USAGE: "bad usage: an unknown option, a bad value (such as FLINKEY_BASE_URL), "
    "incomplete credentials",
    EXIT_CREDENTIALS: "the API key or the username or password was rejected, or the service "
    "found no API Manager for these credentials and the customer",
    EXIT_UNREACHABLE: "the API host cannot be reached (or does not answer in time)",
    EXIT_STORE: "the output cannot be opened or written",
    EXIT_BUSY: "another sync is running on the same output (it holds <out>.lock); try later",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C); the store is consistent, run again to complete it",
}

ENV_VARS = (
    "FLINKEY_API_KEY",
    "FLINKEY_USERNAME",
    "FLINKEY_PASSWORD",
    "FLINKEY_CUSTOMER_ID",
    "FLINKEY_BASE_URL",
    "FLINKEY_DATABASE_URL",
)

_LIVE = {
    "FLINKEY_API_KEY": "--api-key",
    "FLINKEY_USERNAME": "--username",
    "FLINKEY_PASSWORD": "--password",
    "FLINKEY_BASE_URL": "--base-url",
}
"""The settings that make a sync live, with their options (the customer is no such setting:
it also picks the sandbox's customer)."""
_REQUIRED = ("FLINKEY_API_KEY", "FLINKEY_USERNAME", "FLINKEY_PASSWORD")

_FIELDS = {
    "api_key": "FLINKEY_API_KEY / --api-key",
    "username": "FLINKEY_USERNAME / --username",
    "password": "FLINKEY_PASSWORD / --password",
    "customer_id": "FLINKEY_CUSTOMER_ID / --customer",
    "base_url": "FLINKEY_BASE_URL / --base-url",
}
"""The setting behind each argument of the client that may refuse a value."""

DEFAULT_CONCURRENCY = 32
SANDBOX_CARS = DEFAULT_CARS
SANDBOX_SEED = DEFAULT_SEED


class CliError(Exception):
    """An expected failure: one line for the user and an exit status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


# -- arguments -----------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _and(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _customer(text: str) -> int | Literal["all"]:
    if text.strip().lower() == "all":
        return "all"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a customer id or 'all', got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"a customer id is a positive number, got {value}")
    return value


def _exit_codes_epilog() -> str:
    lines = ["exit status:"]
    for code, text in EXIT_CODES.items():
        lines += textwrap.wrap(
            text, width=92, initial_indent=f"  {code:<4} ", subsequent_indent=" " * 7
        )
    return "\n".join(lines)


_SYNC_DESCRIPTION = """\
Copy a whole fleet into a local store: every car with its products and location, every product
with its service, every group with its cars, users, services and products. Runs again bring the
copy up to date: rows are updated in place, never duplicated; rows gone upstream are marked
deleted (deleted_in_run) by the run that noticed. An interrupted run leaves the store
consistent and the next run completes it.

Without credentials (none of FLINKEY_API_KEY, FLINKEY_USERNAME, FLINKEY_PASSWORD and
FLINKEY_BASE_URL set) it syncs from the embedded sandbox (a seeded fleet of 1,000 cars per
customer), which needs no network. With FLINKEY_API_KEY, FLINKEY_USERNAME, FLINKEY_PASSWORD and
FLINKEY_CUSTOMER_ID set (or the matching options; FLINKEY_BASE_URL is optional) it syncs the
live API. A partial setting (FLINKEY_BASE_URL alone, a password without a username...) is an
error naming what is missing (exit status 2), never a quiet fallback to the sandbox; --sandbox
uses the sandbox whatever is set.
"""

_SYNC_EPILOG = f"""\
environment:
  FLINKEY_API_KEY      the flinkey-API-Key
  FLINKEY_USERNAME     the API Manager's username
  FLINKEY_PASSWORD     the API Manager's password
  FLINKEY_CUSTOMER_ID  the customer to sync (or --customer)
  FLINKEY_BASE_URL     the API root (default https://api.flinkey.de/v3)
  FLINKEY_DATABASE_URL the output when --out is not given: postgresql://user@host/db
  Options given on the command line win over the environment. Prefer the environment for
  secrets: command lines are visible to other users of the machine.

reading the result:
  sqlite3 fleet.sqlite "select count(*) from cars where deleted_in_run is null"
{{tables}}

{_exit_codes_epilog()}
"""


def _tables_epilog() -> str:
    from .sync._schema import TABLES

    return "\n".join(
        textwrap.wrap(
            f"Tables: {', '.join([*TABLES, 'sync_runs'])}.",
            width=94,
            initial_indent="  ",
            subsequent_indent="  ",
        )
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flinkey-async",
        description="Tools of the flinkey_async library for the flinkey API v3.",
        epilog=_exit_codes_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from ._version import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    sync = commands.add_parser(
        "sync",
        help="copy the fleet into SQLite or JSON Lines (the main job)",
        description=_SYNC_DESCRIPTION,
        epilog=_SYNC_EPILOG.format(tables=_tables_epilog()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    output = sync.add_argument_group("output")
    output.add_argument(
        "--out",
        metavar="PATH|URL",
        help="the SQLite file (default fleet.sqlite) or, with --format jsonl, the directory "
        "of .jsonl files (default fleet-jsonl), or a PostgreSQL database: "
        "postgresql://user@host/db[?schema=name] (default FLINKEY_DATABASE_URL; the password "
        "from PGPASSWORD or ~/.pgpass; several workers may share it, see docs/sync.md)",
    )
    output.add_argument(
        "--format",
        choices=("sqlite", "jsonl"),
        default="sqlite",
        help="sqlite: one file, WAL, upserts keyed by id (default); jsonl: one file per table, "
        "each replaced atomically at the end of a run, sync_runs.jsonl last",
    )
    work = sync.add_argument_group("load on the API")
    work.add_argument(
        "--concurrency",
        type=_positive_int,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"requests in flight at most (default {DEFAULT_CONCURRENCY}); the connection pool "
        "is sized to match",
    )
    work.add_argument(
        "--rate",
        type=_positive_float,
        metavar="R",
        help="HTTP requests per second at most, every attempt counted (retries and token "
        "requests too), evenly spaced from the start (default: no limit)",
    )
    work.add_argument(
        "--timeout",
        type=_positive_float,
        metavar="SECONDS",
        help="how long one HTTP attempt may take (default 30; connecting: at most 10); an "
        "attempt that times out is retried like the client retries, up to 4 attempts",
    )
    work.add_argument(
        "--page-size",
        type=_positive_int,
        default=500,
        metavar="N",
        help="rows per listing request ($top), default 500",
    )
    source = sync.add_argument_group("source")
    source.add_argument(
        "--customer",
        type=_customer,
        metavar="ID|all",
        help="the customer to sync, or 'all' for every customer the API Manager can see "
        "(default: FLINKEY_CUSTOMER_ID; in the sandbox, its first customer)",
    )
    source.add_argument("--api-key", help="the flinkey-API-Key (FLINKEY_API_KEY)")
    source.add_argument("--username", help="the API Manager's username (FLINKEY_USERNAME)")
    source.add_argument("--password", help="the API Manager's password (FLINKEY_PASSWORD)")
    source.add_argument("--base-url", help="the API root (FLINKEY_BASE_URL)")
    source.add_argument(
        "--sandbox",
        action="store_true",
        help="use the embedded sandbox, ignoring every FLINKEY_* setting (--customer still "
        "picks the sandbox customer)",
    )
    source.add_argument(
        "--sandbox-cars",
        type=_positive_int,
        default=SANDBOX_CARS,
        metavar="N",
        help=f"cars per customer of the embedded sandbox (default {SANDBOX_CARS})",
    )
    source.add_argument(
        "--sandbox-seed",
        type=int,
        default=SANDBOX_SEED,
        metavar="S",
        help=f"seed of the embedded sandbox's fleet (default {SANDBOX_SEED})",
    )
    display = sync.add_argument_group("display")
    display.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log retries and other warnings to stderr (-vv: every request)",
    )
    display.add_argument(
        "--progress",
        choices=("auto", "rich", "plain", "none"),
        default="auto",
        help="live progress: rich (needs the cli extra), plain lines, none; auto picks rich on "
        "a terminal when installed",
    )
    commands.add_parser(
        "sandbox",
        help="serve a local sandbox of the API (see: flinkey-async sandbox --help)",
        add_help=False,
    )
    return parser


# -- configuration -------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """What ``sync`` was asked to do, from options and environment."""

    live: bool
    api_key: str | None
    username: str | None
    password: str | None
    base_url: str | None
    customer: int | Literal["all"] | None
    out: Path | DatabaseUrl
    format: Literal["sqlite", "jsonl", "postgresql"]
    concurrency: int
    rate: float | None
    page_size: int
    sandbox_cars: int
    sandbox_seed: int
    progress: str
    verbose: int = 0
    timeout: float | None = None
    sandbox_forced: bool = False
    ignored: tuple[str, ...] = ()
    """FLINKEY_* settings present but not used (with ``--sandbox``)."""


def _has_control_character(text: str) -> bool:
    """C0, DEL or C1: never part of a key, a name or a URL, and refused in an HTTP header."""
    return any(c < " " or "\x7f" <= c <= "\x9f" for c in text)


def settings_from(args: argparse.Namespace, env: dict[str, str]) -> Settings:
    """Options over environment. Any of the live settings asks for a live sync; all are needed.

    A partial setting is refused rather than quietly replaced by the sandbox: someone who set
    FLINKEY_BASE_URL meant that API, and a copy of the sandbox would pass for it.
    """
    options = {
        "FLINKEY_API_KEY": args.api_key,
        "FLINKEY_USERNAME": args.username,
        "FLINKEY_PASSWORD": args.password,
        "FLINKEY_BASE_URL": args.base_url,
    }
    given: dict[str, str] = {}  # name -> how it was given (the variable, or its option)
    values: dict[str, str | None] = {}
    for name, option in options.items():
        value = option if option is not None else env.get(name)
        values[name] = value if value else None
        if option:
            given[name] = _LIVE[name]
        elif env.get(name):
            given[name] = name
    customer = args.customer
    ignored: tuple[str, ...] = ()
    if args.sandbox:
        ignored = tuple(given.values())
        if customer is None and env.get("FLINKEY_CUSTOMER_ID"):
            ignored += ("FLINKEY_CUSTOMER_ID",)
        values = dict.fromkeys(values)
        given = {}
    elif customer is None and env.get("FLINKEY_CUSTOMER_ID"):
        try:
            customer = _customer(env["FLINKEY_CUSTOMER_ID"])
        except argparse.ArgumentTypeError as exc:
            raise CliError(f"FLINKEY_CUSTOMER_ID: {exc}", EXIT_USAGE) from None
    for name, value in values.items():
        if value is not None and _has_control_character(value):
            # Checked here as well as by the client, to name where the value came from.
            raise CliError(
                f"{given.get(name, name)} contains a control character (a line break read "
                "with it from a file?)",
                EXIT_USAGE,
            )
    api_key = values["FLINKEY_API_KEY"]
    username = values["FLINKEY_USERNAME"]
    password = values["FLINKEY_PASSWORD"]
    base_url = values["FLINKEY_BASE_URL"]
    live = bool(given)
    if live:
        missing = [name for name in _REQUIRED if not values[name]]
        if missing:
            present = list(given.values())
            raise CliError(
                f"{_and(missing)} not set: a live sync needs FLINKEY_API_KEY, "
                "FLINKEY_USERNAME and FLINKEY_PASSWORD (or --api-key, --username, --password), "
                f"and {_and(present)} {'is' if len(present) == 1 else 'are'} set; pass "
                "--sandbox to sync the embedded sandbox instead",
                EXIT_USAGE,
            )
        if customer is None:
            raise CliError(
                "no customer: set FLINKEY_CUSTOMER_ID or pass --customer ID (or --customer all)",
                EXIT_USAGE,
            )
    out, fmt = _output(args.out, args.format, env)
    return Settings(
        live=live,
        api_key=api_key,
        username=username,
        password=password,
        base_url=base_url,
        customer=customer,
        out=out,
        format=fmt,
        concurrency=args.concurrency,
        rate=args.rate,
        page_size=args.page_size,
        sandbox_cars=args.sandbox_cars,
        sandbox_seed=args.sandbox_seed,
        progress=args.progress,
        verbose=args.verbose,
        timeout=args.timeout,
        sandbox_forced=args.sandbox,
        ignored=ignored,
    )


def _output(
    out: str | None, fmt: Literal["sqlite", "jsonl"], env: dict[str, str]
) -> tuple[Path | DatabaseUrl, Literal["sqlite", "jsonl", "postgresql"]]:
    """Where the copy goes: a file, a directory, or a PostgreSQL database (its URL).

    ``--out`` wins over FLINKEY_DATABASE_URL; a URL never shows its password when printed.
    """
    from .sync import DatabaseUrl, is_dsn

    if out is None and fmt == "sqlite" and env.get("FLINKEY_DATABASE_URL"):
        out = env["FLINKEY_DATABASE_URL"]
        if not is_dsn(out):
            raise CliError("FLINKEY_DATABASE_URL: expected postgresql://user@host/db", EXIT_USAGE)
    if out is not None and is_dsn(out):
        if fmt == "jsonl":
            raise CliError("--format jsonl writes files: give --out a path", EXIT_USAGE)
        return DatabaseUrl(out), "postgresql"
    if out:
        return Path(out), fmt
    return Path("fleet.sqlite" if fmt == "sqlite" else "fleet-jsonl"), fmt


def _store(settings: Settings) -> SqliteStore | JsonlStore | PostgresStore:
    """The store ``--out`` names (a ``?schema=`` parameter of a URL names the schema)."""
    from .sync import DatabaseUrl, JsonlStore, PostgresStore, SqliteStore

    out = settings.out
    if isinstance(out, DatabaseUrl):
        from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

        parts = urlsplit(out.url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        schema = [v for k, v in query if k == "schema"]
        rest = urlencode([(k, v) for k, v in query if k != "schema"])
        url = urlunsplit(parts._replace(query=rest))
        try:
            return PostgresStore(url, schema=schema[-1]) if schema else PostgresStore(url)
        except ValidationError as exc:
            raise CliError(f"--out: {exc.message}", EXIT_USAGE) from None
    if settings.format == "jsonl":
        return JsonlStore(out)
    return SqliteStore(out)


# -- progress --------------------------------------------------------------------------------


def _counted(job: SyncJob) -> list[tuple[str, int]]:
    """The tables the run has received rows for so far, in the schema's order."""
    from .sync._schema import TABLES

    entities = job.progress.entities
    return [(name, entities[name]) for name in TABLES if entities.get(name)]


def _plain_status(job: SyncJob, started: float, requests0: int) -> str:
    p = job.progress
    parts = [f"{kind} {count}" for kind, count in _counted(job)]
    rate = (job.requests - requests0) / max(time.monotonic() - started, 1e-9)
    return (
        f"[{time.monotonic() - started:6.1f}s] {p.phase}: "
        + (", ".join(parts) or "-")
        + f" | requests {job.requests - requests0}, retries {job.retries}, "
        f"failures {p.failures}, {rate:.0f} req/s"
    )


class _Progress:
    """Shows a running job: a rich live table, plain lines, or nothing."""

    def __init__(self, mode: str, stream: TextIO) -> None:
        self.mode = mode
        self.stream = stream

    @contextlib.asynccontextmanager
    async def watching(self, job: SyncJob) -> Any:
        if self.mode == "none":
            yield
            return
        started = time.monotonic()
        requests0 = job.requests
        if self.mode == "rich":
            from rich.console import Console
            from rich.live import Live

            console = Console(file=self.stream)
            with Live(
                self._rich_table(job, started, requests0),
                console=console,
                refresh_per_second=4,
                transient=True,
            ) as live:
                task = asyncio.create_task(self._refresh_rich(live, job, started, requests0))
                try:
                    yield
                finally:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            return
        task = asyncio.create_task(self._print_plain(job, started, requests0))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _print_plain(self, job: SyncJob, started: float, requests0: int) -> None:
        while True:
            await asyncio.sleep(2.0)
            print(_plain_status(job, started, requests0), file=self.stream, flush=True)

    async def _refresh_rich(self, live: Any, job: SyncJob, started: float, requests0: int) -> None:
        while True:
            await asyncio.sleep(0.25)
            live.update(self._rich_table(job, started, requests0))

    @staticmethod
    def _rich_table(job: SyncJob, started: float, requests0: int) -> Any:
        from rich.table import Table

        p = job.progress
        elapsed = max(time.monotonic() - started, 1e-9)
        title = f"syncing customer {p.customer_id}: {p.phase}" if p.customer_id else p.phase
        table = Table(title=title, show_header=True, header_style="bold")
        table.add_column("entity")
        table.add_column("received", justify="right")
        for kind, count in _counted(job):
            table.add_row(kind, f"{count:,}")
        requests = job.requests - requests0
        table.add_section()
        table.add_row("requests", f"{requests:,}")
        table.add_row("retries", f"{job.retries:,}")
        table.add_row("failures", f"{p.failures:,}")
        table.add_row("rate", f"{requests / elapsed:,.0f} req/s")
        table.add_row("elapsed", f"{elapsed:,.1f} s")
        return table


def _progress_mode(requested: str, stream: TextIO) -> str:
    if requested != "auto":
        if requested == "rich" and not _have_rich():
            return "plain"
        return requested
    if stream.isatty() and _have_rich():
        return "rich"
    return "none"


def _have_rich() -> bool:
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


# -- summary ---------------------------------------------------------------------------------


def _summary_tables(report: SyncReport) -> Iterator[tuple[str, dict[str, int]]]:
    """Every table of the store with its changes (customers only when the run synced them)."""
    from .sync._schema import TABLES

    for name in TABLES:
        changes = report.changes.get(name, {})
        if name != "customers" or changes.get("alive"):
            yield name, changes


def summary_lines(report: SyncReport, out: Path | DatabaseUrl) -> Iterator[str]:
    """The end-of-run summary as plain text lines."""
    header = f"{'table':<17} {'rows':>8} {'new':>7} {'updated':>8} {'deleted':>8}"
    yield header
    yield "-" * len(header)
    for table, c in _summary_tables(report):
        yield (
            f"{table:<17} {c.get('alive', 0):>8,} {c.get('new', 0):>7,} "
            f"{c.get('updated', 0):>8,} {c.get('deleted', 0):>8,}"
        )
    yield "-" * len(header)
    yield (
        f"run {report.run_id} {report.status}: {report.requests:,} requests, "
        f"{report.retries:,} retries, {len(report.failures):,} failures, "
        f"{report.seconds:,.1f} s wall time -> {out}"
    )


def _print_summary(
    report: SyncReport, out: Path | DatabaseUrl, stream: TextIO, use_rich: bool
) -> None:
    if use_rich:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"run {report.run_id}: {report.status}", header_style="bold")
        for name, justify in (
            ("table", "left"),
            ("rows", "right"),
            ("new", "right"),
            ("updated", "right"),
            ("deleted", "right"),
        ):
            table.add_column(name, justify=justify)  # type: ignore[arg-type]
        for name, c in _summary_tables(report):
            table.add_row(
                name,
                *(f"{c.get(k, 0):,}" for k in ("alive", "new", "updated", "deleted")),
            )
        console = Console(file=stream)
        console.print(table)
        console.print(
            f"{report.requests:,} requests, {report.retries:,} retries, "
            f"{len(report.failures):,} failures, {report.seconds:,.1f} s wall time -> {out}"
        )
    else:
        for line in summary_lines(report, out):
            print(line, file=stream)
    for failure in report.failures[:10]:
        print(f"  failed: {failure.what} {failure.key}: {failure.message}", file=stream)
    if len(report.failures) > 10:
        print(f"  ... and {len(report.failures) - 10} more (see sync_runs)", file=stream)


# -- errors ------------------------------------------------------------------------------------


def _host_of(url: str) -> str:
    from yarl import URL

    try:
        parsed = URL(url)
    except (TypeError, ValueError):
        return url
    if parsed.host is None:
        return url
    return (
        f"{parsed.host}:{parsed.port}"
        if parsed.port and not parsed.is_default_port()
        else (parsed.host)
    )


def explain(error: BaseException, base_url: str, customer: int | None = None) -> CliError:
    """The one line and exit status for an expected failure (``customer``: the one asked for)."""
    host = _host_of(base_url)
    if isinstance(error, InvalidAPIKeyError):
        return CliError(
            f"the API key was rejected ({error.status} {error.message})", EXIT_CREDENTIALS
        )
    if isinstance(error, ManagerNotFoundError):
        # The service answers the same for an API Manager it does not know and for a customer
        # this manager may not act for: name both.
        if customer is None:
            return CliError(
                f"the service found no API Manager for this token ({error.status} "
                f"{error.message}): check the credentials",
                EXIT_CREDENTIALS,
            )
        return CliError(
            f"the service found no API Manager for this token and customer {customer} "
            f"({error.status} {error.message}): check FLINKEY_CUSTOMER_ID / --customer, and "
            "that these credentials are an API Manager of that customer",
            EXIT_CREDENTIALS,
        )
    if isinstance(error, InvalidTokenError):
        return CliError(
            f"the access token was rejected ({error.status} {error.message})", EXIT_CREDENTIALS
        )
    if isinstance(error, AuthenticationError):
        return CliError(
            f"username or password rejected ({error.status} {error.message})", EXIT_CREDENTIALS
        )
    if isinstance(error, RequestTimeoutError):
        return CliError(f"{host} did not answer in time ({error.message})", EXIT_UNREACHABLE)
    if isinstance(error, ConnectError | TransportError):
        return CliError(f"cannot reach {host} ({error.message})", EXIT_UNREACHABLE)
    if isinstance(error, ValidationError):
        return _invalid(error)
    if isinstance(error, APIError):
        return CliError(
            f"the API answered {error.status} {error.message} ({error.method} {error.path})",
            EXIT_INCOMPLETE,
        )
    return CliError(str(error), EXIT_INCOMPLETE)


def _invalid(error: ValidationError) -> CliError:
    """A value the client refused, with the setting it came from (never the value of a secret)."""
    where = _FIELDS.get(error.field)
    return CliError(f"{error} ({where})" if where else str(error), EXIT_USAGE)


def _client(settings: Settings, kwargs: dict[str, Any]) -> FlinkeyClient:
    """The client of a sync: ``--rate`` is its ``rate_limit``, so that every attempt counts."""
    from ._client import FlinkeyClient

    options: dict[str, Any] = {
        "connector_limit": max(100, settings.concurrency),
        "rate_limit": settings.rate,
    }
    if settings.timeout is not None:
        import aiohttp

        options["timeout"] = aiohttp.ClientTimeout(
            total=settings.timeout, connect=min(settings.timeout, 10.0)
        )
    try:
        return FlinkeyClient(**kwargs, **options)
    except ValidationError as exc:
        raise _invalid(exc) from None


def _sandbox_line(settings: Settings, base_url: str) -> str:
    """The first line of a sandbox sync: what is used, and why."""
    what = (
        f"the embedded sandbox ({settings.sandbox_cars:,} cars, seed {settings.sandbox_seed}) "
        f"at {base_url} into {settings.out} ({settings.format})"
    )
    if not settings.sandbox_forced:
        return f"No FLINKEY_* credentials set: syncing from {what}"
    if settings.ignored:
        return f"--sandbox: syncing from {what}; ignoring {_and(settings.ignored)}"
    return f"--sandbox: syncing from {what}"


# -- the sync command --------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _opened_store(
    settings: Settings,
) -> AsyncIterator[SqliteStore | JsonlStore | PostgresStore]:
    """The store ``--out`` names, open and locked: the first thing a sync does.

    Opened before the sandbox starts or anything is printed, so that an output that cannot be
    written, or one another sync holds, is the only thing reported. The parent directory must
    exist: a mistyped path is an error, not a new tree of directories.
    """
    from .sync import DatabaseUrl, StoreBusyError, StoreError

    out = settings.out
    if not isinstance(out, DatabaseUrl):
        parent = out.parent
        if not parent.exists():
            raise CliError(f"cannot open {out}: the directory {parent} does not exist", EXIT_STORE)
        if not parent.is_dir():
            raise CliError(f"cannot open {out}: {parent} is not a directory", EXIT_STORE)
    store = _store(settings)
    try:
        await store.open()
    except StoreBusyError as exc:
        raise CliError(str(exc), EXIT_BUSY) from None
    except StoreError as exc:
        raise CliError(str(exc), EXIT_STORE) from None
    try:
        yield store
    except BaseException as exc:
        if store.run_id is None:  # ended before the sync began (the sandbox did not start...)
            await _record_unstarted(store, exc, settings)
        raise
    finally:
        await store.close()


async def _record_unstarted(
    store: SqliteStore | JsonlStore | PostgresStore, exc: BaseException, settings: Settings
) -> None:
    """Record a run that ended before the sync began, so that the store says why it is empty."""
    interrupted = isinstance(exc, KeyboardInterrupt | asyncio.CancelledError)
    errors = (
        [] if interrupted else [{"what": "run", "error": type(exc).__name__, "message": str(exc)}]
    )
    source = settings.base_url or ("" if settings.live else "embedded sandbox")
    try:
        await store.begin_run(source=source, customer_ids=[])
        await store.end_run("interrupted" if interrupted else "failed", {}, errors)
    except Exception as error:  # the original error is the one to report
        exc.add_note(f"recording the run failed too: {error}")


@contextlib.asynccontextmanager
async def _sandbox_process(settings: Settings) -> AsyncIterator[dict[str, Any]]:
    """The embedded sandbox, served by a process of its own; its details (first line, JSON).

    In its own process the sandbox's handlers and fleet generation do not compete with the
    sync for one event loop and one core. It runs in a session of its own, so that a Ctrl-C at
    the terminal reaches the sync only, which stops it on every way out; it also stops when its
    standard input closes, so that it never outlives a sync that was killed.
    """
    command = _sandbox_command(settings)
    with tempfile.TemporaryFile() as errors:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=errors,
            start_new_session=True,
        )
        try:
            assert process.stdout is not None
            line = await process.stdout.readline()
            if not line:
                await process.wait()
                errors.seek(0)
                said = errors.read().decode(errors="replace").strip().splitlines()
                why = said[-1] if said else f"exit status {process.returncode}"
                hint = (
                    "; install the extra: python -m pip install 'flinkey-async[cli,sandbox]'"
                    if "ModuleNotFoundError" in why or "ImportError" in why
                    else ""
                )
                raise CliError(f"the embedded sandbox did not start ({why}){hint}", EXIT_USAGE)
            try:
                details: dict[str, Any] = json.loads(line)
            except ValueError:
                raise CliError(
                    f"the embedded sandbox did not start (it printed {line[:80]!r})", EXIT_USAGE
                ) from None
            yield details
        finally:
            await _stop(process)


def _sandbox_command(settings: Settings) -> list[str]:
    """The embedded sandbox's process: the sync's fleet, on a free port, details as JSON."""
    return [
        sys.executable, "-m", "flinkey_async.sandbox",
        "--port", "0",
        "--cars", str(settings.sandbox_cars),
        "--seed", str(settings.sandbox_seed),
        "--format", "json",
        "--stop-on-eof",
    ]  # fmt: skip


async def _stop(process: asyncio.subprocess.Process) -> None:
    """End the sandbox process and wait for it.

    It is killed, not asked to stop: its fleet lives in its memory only, so there is nothing to
    save, and a graceful exit would spend a good part of a second freeing that memory object by
    object. The kill comes first, so a wait cut short leaves nothing running.
    """
    if process.stdin is not None:
        process.stdin.close()
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


async def _sync(settings: Settings, stdout: TextIO, stderr: TextIO) -> int:
    from .sync import StoreError, SyncJob

    async with contextlib.AsyncExitStack() as stack:
        client: FlinkeyClient | None = None
        customers: int | Literal["all"] | None = settings.customer
        if settings.live:
            assert settings.api_key is not None
            kwargs: dict[str, Any] = {
                "api_key": settings.api_key,
                "username": settings.username,
                "password": settings.password,
                "customer_id": settings.customer if isinstance(settings.customer, int) else None,
            }
            if settings.base_url:
                kwargs["base_url"] = settings.base_url
            client = _client(settings, kwargs)  # a refused setting: before anything is opened
            await stack.enter_async_context(client)
        store = await stack.enter_async_context(_opened_store(settings))
        if client is not None:
            where = str(client.base_url)
            print(f"Syncing from {where} into {settings.out} ({settings.format})", file=stdout)
        else:
            sandbox = await stack.enter_async_context(_sandbox_process(settings))
            sandbox_customers: list[int] = sandbox["customer_ids"]
            if isinstance(customers, int) and customers not in sandbox_customers:
                why = "--sandbox" if settings.sandbox_forced else "no FLINKEY_* credentials set"
                raise CliError(
                    f"the sandbox has customers {', '.join(map(str, sandbox_customers))}, "
                    f"not {customers} (this is the embedded sandbox: {why})",
                    EXIT_USAGE,
                )
            where = sandbox["base_url"]
            client = _client(
                settings,
                {
                    "api_key": sandbox["api_key"],
                    "username": sandbox["username"],
                    "password": sandbox["password"],
                    "customer_id": sandbox_customers[0],
                    "base_url": where,
                },
            )
            await stack.enter_async_context(client)
            print(_sandbox_line(settings, where), file=stdout, flush=True)
        # --rate is the client's rate_limit (every HTTP attempt), not the runner's call rate.
        job = SyncJob(
            client,
            store,
            customer_ids=[customers] if isinstance(customers, int) else customers,
            concurrency=settings.concurrency,
            page_size=settings.page_size,
        )
        mode = _progress_mode(settings.progress, stderr)
        try:
            async with _Progress(mode, stderr).watching(job):
                report = await job.run()
        except StoreError as exc:
            raise CliError(str(exc), EXIT_STORE) from None
        except FlinkeyError as exc:
            asked = job.progress.customer_id
            if asked is None and isinstance(customers, int):
                asked = customers
            raise explain(exc, where, asked) from None
        _print_summary(report, settings.out, stdout, use_rich=mode == "rich")
        if report.failures:
            print(
                f"error: {len(report.failures)} request(s) kept failing; the store is "
                "consistent, run again to complete it",
                file=stderr,
            )
            return EXIT_INCOMPLETE
        return EXIT_OK
    raise AssertionError("unreachable")  # pragma: no cover


@contextlib.contextmanager
def _library_logging(verbose: int, stream: TextIO) -> Iterator[None]:
    """Route the library's log to ``stream``: errors only, warnings with -v, everything with -vv.

    Retries are expected in a long sync and shown as counts; their log lines would only
    scroll the progress display away.
    """
    logger = logging.getLogger("flinkey_async")
    level = {0: logging.ERROR, 1: logging.WARNING}.get(verbose, logging.DEBUG)
    handler = logging.StreamHandler(stream)
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    saved = (logger.level, logger.propagate)
    logger.addHandler(handler)
    logger.propagate = False
    if logger.level == logging.NOTSET or logger.level > level:
        logger.setLevel(level)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


@contextlib.contextmanager
def _collecting_less() -> Iterator[None]:
    """Fewer garbage collections during the sync: it allocates many small objects that live
    until their page is written, so the default thresholds scan them over and over for no
    garbage. The objects of the imports are frozen out of the scans altogether.
    """
    saved = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, saved[1], saved[2])
    try:
        yield
    finally:
        gc.set_threshold(*saved)
        gc.unfreeze()


GC_THRESHOLD = 50_000
"""Allocations between two young-generation collections during a sync (CPython's default: 700)."""


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when it is installed (the ``speed`` extra), else asyncio's."""
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def _run_sync(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    try:
        settings = settings_from(args, dict(os.environ))
        # The heavy imports, before the event loop starts: a Ctrl-C during them stops at once
        # (in the loop it would only cancel the run once they are done).
        importlib.import_module(".sync", __package__)
        with (
            _library_logging(settings.verbose, stderr),
            _collecting_less(),
            asyncio.Runner(loop_factory=_loop_factory()) as runner,
        ):
            return runner.run(_sync(settings, stdout, stderr))
    except CliError as exc:
        print(f"error: {exc}", file=stderr)
        return exc.status


_INTERRUPTED = "interrupted: the store is consistent; run the sync again to complete it"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``flinkey-async``; returns the exit status.

    A Ctrl-C at any moment after the package is imported (parsing, the imports of the sync,
    opening the store, the run) ends with one line and status 130: a run in progress is
    cancelled and recorded as ``interrupted`` first.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        return _main(arguments)
    except KeyboardInterrupt:
        _ending(argv)
        sandbox = bool(arguments) and arguments[0] == "sandbox"
        with contextlib.suppress(OSError):
            print("interrupted" if sandbox else _INTERRUPTED, file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    finally:
        _ending(argv)


def _ending(argv: Sequence[str] | None) -> None:
    """As the program ends (not a call with arguments), a late Ctrl-C must not print a traceback."""
    if argv is None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _main(arguments: list[str]) -> int:
    if arguments and arguments[0] == "sandbox":
        try:
            from .sandbox._cli import main as sandbox_main
        except ImportError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        return sandbox_main(arguments[1:])
    parser = build_parser()
    args = parser.parse_args(arguments)
    if args.command == "sync":
        with contextlib.suppress(BrokenPipeError):
            return _run_sync(args, sys.stdout, sys.stderr)
        return EXIT_OK
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover - argparse catches it
    return EXIT_USAGE  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

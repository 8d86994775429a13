"""Fault injection and request counters: what makes the sandbox useful for testing a client.

Faults are off by default. Two ways to switch them on:

* **Rates** (:class:`FaultConfig`): every request draws once from the sandbox's seeded random
  generator and gets at most one of 500, 503, 429, a reset before or after processing, or a
  truncated body; latency (fixed plus random jitter) comes on top. ``routes`` limits rates and
  latency to some endpoints (``{"PUT /cars"}``). Given the same seed and the same sequence of
  requests, the same requests fail.
* **One-shot faults** (``sb.faults.reset_after_next("PUT /cars")``): the next N matching
  requests get exactly that fault. They win over rates, so tests stay deterministic.

A route is an endpoint template exactly as :data:`~._routes.ROUTES` spells it; any other string
is refused with a ValueError, since a fault on a route that never matches would never fire.

Every fault that fires is counted in :class:`Counters` (``faults[("PUT /cars", "reset_after")]``),
next to the requests per endpoint and the entities created, so a test can prove that a client did
not replay a create or asked for one token only.
"""

from __future__ import annotations

import enum
import random
from collections import Counter, deque
from typing import Any

import attrs

from ._routes import TOKEN_ENDPOINT, check_route

__all__ = ["Counters", "FaultConfig", "FaultKind", "Faults"]


class FaultKind(enum.StrEnum):
    """What can go wrong with one request."""

    ERROR_500 = "error_500"
    """A ``500 Internal server error.`` before the request is processed."""
    ERROR_503 = "error_503"
    """A ``503`` from the gateway before the request is processed."""
    RATE_LIMIT = "rate_limit"
    """A ``429`` with ``Retry-After`` before the request is processed."""
    RESET_BEFORE = "reset_before"
    """The connection is reset without an answer; the request was not processed."""
    RESET_AFTER = "reset_after"
    """The request was processed (a create did create), then the connection is reset."""
    TRUNCATE = "truncate"
    """The answer announces its full length but stops half-way, then the connection closes."""
    CRASH = "crash"
    """The handler fails unexpectedly; the sandbox answers ``500 Internal server error.``"""
    LATENCY = "latency"
    """Counted when latency was added (configured only through rates)."""


PRE_KINDS = frozenset(
    {
        FaultKind.ERROR_500,
        FaultKind.ERROR_503,
        FaultKind.RATE_LIMIT,
        FaultKind.RESET_BEFORE,
        FaultKind.CRASH,
    }
)
POST_KINDS = frozenset({FaultKind.RESET_AFTER, FaultKind.TRUNCATE})


def _rate(_: Any, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be between 0 and 1, got {value!r}")


def _non_negative(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must not be negative, got {value!r}")


def _routes(value: Any) -> frozenset[str] | None:
    """The routes as a set, each checked: a misspelt route would silently never fault."""
    if value is None:
        return None
    if isinstance(value, str):
        return frozenset({check_route(value)})
    return frozenset(check_route(route) for route in value)


@attrs.frozen(slots=True, kw_only=True)
class FaultConfig:
    """The fault rates of a run (all off by default). Rates are probabilities per request."""

    latency: float = attrs.field(default=0.0, validator=_non_negative)
    """Seconds added to every answer."""
    latency_jitter: float = attrs.field(default=0.0, validator=_non_negative)
    """Up to this many seconds more, drawn uniformly per request."""
    error_rate_500: float = attrs.field(default=0.0, validator=_rate)
    error_rate_503: float = attrs.field(default=0.0, validator=_rate)
    rate_limit_rate: float = attrs.field(default=0.0, validator=_rate)
    retry_after: int = attrs.field(default=1, validator=_non_negative)
    """The ``Retry-After`` seconds a 429 carries."""
    reset_before_rate: float = attrs.field(default=0.0, validator=_rate)
    reset_after_rate: float = attrs.field(default=0.0, validator=_rate)
    truncate_rate: float = attrs.field(default=0.0, validator=_rate)
    token_outage: bool = False
    """While true, the token endpoint answers 503: no new tokens (issued ones keep working)."""
    routes: frozenset[str] | None = attrs.field(default=None, converter=_routes)
    """Endpoints the rates and latency apply to (``"PUT /cars"``, ``"GET /cars/{carId}"``);
    ``None`` means every endpoint. A route the sandbox does not serve is a ValueError."""

    def __attrs_post_init__(self) -> None:
        if self.total_rate > 1.0 + 1e-9:
            raise ValueError(f"the fault rates add up to {self.total_rate:.3f}, more than 1")

    @property
    def total_rate(self) -> float:
        return (
            self.error_rate_500
            + self.error_rate_503
            + self.rate_limit_rate
            + self.reset_before_rate
            + self.reset_after_rate
            + self.truncate_rate
        )

    def applies_to(self, route: str) -> bool:
        return self.routes is None or route in self.routes


@attrs.define(slots=True)
class _OneShot:
    kind: FaultKind
    route: str | None
    remaining: int
    retry_after: int | None = None


@attrs.frozen(slots=True)
class Decision:
    """The faults chosen for one request."""

    delay: float = 0.0
    kind: FaultKind | None = None
    retry_after: int = 1


_NONE = Decision()


class Faults:
    """The faults of a running sandbox; change them at any time (``sb.faults``)."""

    def __init__(self, config: FaultConfig | None = None, *, seed: int = 0) -> None:
        self.config = config if config is not None else FaultConfig()
        self._rng = random.Random(f"{seed}/faults")
        self._one_shots: deque[_OneShot] = deque()

    # -- configuration ---------------------------------------------------------------------

    def set(self, **changes: Any) -> FaultConfig:
        """Change some rates: ``sb.faults.set(error_rate_503=0.2, routes={"GET /cars"})``."""
        self.config = attrs.evolve(self.config, **changes)
        return self.config

    def clear(self) -> None:
        """Back to no faults at all: rates off, pending one-shot faults dropped."""
        self.config = FaultConfig()
        self._one_shots.clear()

    @property
    def token_outage(self) -> bool:
        return self.config.token_outage

    @token_outage.setter
    def token_outage(self, value: bool) -> None:
        self.set(token_outage=value)

    # -- one-shot faults -------------------------------------------------------------------

    def inject(
        self,
        kind: FaultKind | str,
        route: str | None = None,
        *,
        count: int = 1,
        retry_after: int | None = None,
    ) -> None:
        """Give the next ``count`` requests to ``route`` (any endpoint if None) this fault.

        ``route`` must be one the sandbox serves (ValueError naming close matches otherwise).
        """
        fault = FaultKind(kind)
        if route is not None:
            check_route(route)
        if fault is FaultKind.LATENCY:
            raise ValueError("latency is configured with FaultConfig(latency=...)")
        if count < 1:
            raise ValueError("count must be at least 1")
        self._one_shots.append(_OneShot(fault, route, count, retry_after))

    def fail_next(self, route: str | None = None, *, status: int = 500, count: int = 1) -> None:
        """The next requests answer ``500 Internal server error.`` or a ``503``."""
        kinds = {500: FaultKind.ERROR_500, 503: FaultKind.ERROR_503}
        if status not in kinds:
            raise ValueError("status must be 500 or 503")
        self.inject(kinds[status], route, count=count)

    def rate_limit_next(
        self, route: str | None = None, *, retry_after: int | None = None, count: int = 1
    ) -> None:
        """The next requests answer ``429`` with ``Retry-After``."""
        self.inject(FaultKind.RATE_LIMIT, route, count=count, retry_after=retry_after)

    def reset_before_next(self, route: str | None = None, *, count: int = 1) -> None:
        """The next requests are cut off unanswered, before anything happened."""
        self.inject(FaultKind.RESET_BEFORE, route, count=count)

    def reset_after_next(self, route: str | None = None, *, count: int = 1) -> None:
        """The next requests are processed, then cut off unanswered."""
        self.inject(FaultKind.RESET_AFTER, route, count=count)

    def truncate_next(self, route: str | None = None, *, count: int = 1) -> None:
        """The next answers with a body stop half-way."""
        self.inject(FaultKind.TRUNCATE, route, count=count)

    def crash_next(self, route: str | None = None, *, count: int = 1) -> None:
        """The next requests fail inside the handler (an unexpected error: 500)."""
        self.inject(FaultKind.CRASH, route, count=count)

    @property
    def pending(self) -> int:
        """How many one-shot faults are still waiting for a request."""
        return sum(shot.remaining for shot in self._one_shots)

    # -- decisions (used by the app) -------------------------------------------------------

    def _take(self, route: str, kinds: frozenset[FaultKind]) -> _OneShot | None:
        for shot in self._one_shots:
            if shot.kind in kinds and (shot.route is None or shot.route == route):
                shot.remaining -= 1
                if shot.remaining == 0:
                    self._one_shots.remove(shot)
                return shot
        return None

    def before(self, route: str) -> Decision:
        """Faults for a request about to be processed (latency, errors, reset before).

        A random draw also decides the after-processing faults of the request; they are
        returned here and applied by the app once the handler has answered.
        """
        config = self.config
        shot = self._take(route, PRE_KINDS) if self._one_shots else None
        applies = config.applies_to(route)
        delay = 0.0
        if applies and (config.latency or config.latency_jitter):
            delay = config.latency + self._rng.uniform(0.0, config.latency_jitter)
        if shot is not None:
            retry = shot.retry_after if shot.retry_after is not None else config.retry_after
            return Decision(delay, shot.kind, retry)
        if not applies or config.total_rate == 0.0:
            return Decision(delay, None, config.retry_after) if delay else _NONE
        draw = self._rng.random()
        for kind, rate in (
            (FaultKind.ERROR_500, config.error_rate_500),
            (FaultKind.ERROR_503, config.error_rate_503),
            (FaultKind.RATE_LIMIT, config.rate_limit_rate),
            (FaultKind.RESET_BEFORE, config.reset_before_rate),
            (FaultKind.RESET_AFTER, config.reset_after_rate),
            (FaultKind.TRUNCATE, config.truncate_rate),
        ):
            if draw < rate:
                return Decision(delay, kind, config.retry_after)
            draw -= rate
        return Decision(delay, None, config.retry_after)

    def after(self, route: str, decision: Decision, *, has_body: bool) -> FaultKind | None:
        """The after-processing fault of a request that the handler has answered.

        A one-shot truncation waits for an answer with a body (a ``204`` has nothing to cut).
        """
        if decision.kind in POST_KINDS:
            if decision.kind is FaultKind.TRUNCATE and not has_body:
                return None
            return decision.kind
        if not self._one_shots:
            return None
        kinds = POST_KINDS if has_body else frozenset({FaultKind.RESET_AFTER})
        shot = self._take(route, kinds)
        return None if shot is None else shot.kind

    def __repr__(self) -> str:
        return f"<Faults {self.config!r} pending={self.pending}>"


class Counters:
    """What the sandbox saw, for tests: ``sb.counters.requests["PUT /cars"]``.

    * ``requests``: requests per endpoint template (``"GET /cars/{carId}"``), faulted ones too.
    * ``responses``: answers per ``(endpoint, status)``; a connection reset, or a client that
      went away mid-request, counts as status 0.
    * ``faults``: faults that fired per ``(endpoint, kind)``.
    * ``created``: entities created through the API per kind (``"car"``, ``"group"``).
    * ``assigned``: members put into groups through the API per kind (``"car"``, ``"user"``...).
    * ``tokens_issued``: tokens the token endpoint handed out.
    """

    __slots__ = ("assigned", "created", "faults", "requests", "responses", "tokens_issued")

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.responses: Counter[tuple[str, int]] = Counter()
        self.faults: Counter[tuple[str, str]] = Counter()
        self.created: Counter[str] = Counter()
        self.assigned: Counter[str] = Counter()
        self.tokens_issued = 0

    @property
    def token_requests(self) -> int:
        """Requests to the token endpoint, answered or not."""
        return self.requests[TOKEN_ENDPOINT]

    @property
    def total_requests(self) -> int:
        return self.requests.total()

    def reset(self) -> None:
        """Start counting from zero (for example after a test's setup)."""
        self.requests.clear()
        self.responses.clear()
        self.faults.clear()
        self.created.clear()
        self.assigned.clear()
        self.tokens_issued = 0

    def snapshot(self) -> dict[str, Any]:
        """A JSON-friendly copy of all counters."""
        return {
            "requests": dict(self.requests),
            "responses": {f"{route} {status}": n for (route, status), n in self.responses.items()},
            "faults": {f"{route} {kind}": n for (route, kind), n in self.faults.items()},
            "created": dict(self.created),
            "assigned": dict(self.assigned),
            "tokens_issued": self.tokens_issued,
        }

    def __repr__(self) -> str:
        return (
            f"<Counters requests={self.total_requests} tokens_issued={self.tokens_issued} "
            f"created={dict(self.created)}>"
        )

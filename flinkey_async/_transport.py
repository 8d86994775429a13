"""The one request path: URLs, headers, bodies, timeouts, retries, error mapping and decoding.

Every call of every resource ends in :meth:`Transport.fetch` (reads call it directly, writes
through :meth:`Transport.send`). It

- builds URLs with yarl from ``int`` ids and fixed segments, and appends an OData query string
  verbatim (it arrives already percent-encoded, so nothing is encoded twice);
- sends the ``flinkey-API-Key``, ``Authorization: Bearer`` and ``Customer-ID`` headers, and JSON
  bodies as ``application/json``;
- replays a request once when the service answers 401 "token missing or invalid", with a new token;
- retries with exponential backoff and full jitter on connection errors, timeouts and 408, 429,
  502, 503, 504, honouring ``Retry-After`` up to a cap; the response is released before sleeping;
- never repeats a create (``PUT /cars``, ``PUT /groups``) once it may have reached the service:
  such a failure, or a gateway's 408/502/504 (which says nothing about whether the service acted),
  becomes :class:`~flinkey_async.OutcomeUnknownError`;
- paces every attempt (token requests, retries and replays included) when a ``rate_limit`` is
  set;
- maps error answers to the exception tree and decodes bodies into models.

What follows a failed attempt (retry, replay, settle, raise) is decided by
:func:`flinkey_async._decision.decide`, a pure function tested as a table; the loop here sends,
classifies what came back, asks, and acts. The settings come as one
:class:`~flinkey_async.ClientConfig`, checked when it was made.

aiohttp itself resends a GET, PUT or DELETE once, silently, when the connection drops
(``ClientSession`` treats them as idempotent and offers no public switch). Against ``PUT /cars``
that creates a second car; for any method it is a request that the retry policy, the rate limit
and the statistics never see. Every request therefore runs with a per-request client middleware
that turns the two exceptions aiohttp would replay into a private exception it passes through; the
decision to repeat is made here, and only here. The caller's own session is never modified: its
middlewares are kept in the per-request chain.

``asyncio.CancelledError`` is never caught. The API key, the password and the token are never
logged and never part of an error message.

One module although long: :class:`Transport` is the one request path, and its loop, the attempt,
the error mapping and the middleware guard change together; the pure decision is in
:mod:`._decision` and the settings in :mod:`._config`.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar
from urllib.parse import urlencode

import aiohttp
import attrs
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from . import _json
from ._auth import StaticToken, TokenManager, TokenSource
from ._config import ClientConfig
from ._converter import decode, decode_list
from ._decision import Action, Answer, Attempt, Decision, Failure, Nature, Outcome, decide
from ._exceptions import (
    BadRequestError,
    ClientClosedError,
    ConnectError,
    DecodeError,
    FlinkeyError,
    InvalidCredentialsError,
    InvalidTokenError,
    OutcomeUnknownError,
    RequestTimeoutError,
    TransportError,
    ValidationError,
    error_from_response,
)
from ._models import Token
from ._rate import RateLimiter
from ._validation import check_id

if TYPE_CHECKING:
    from ._api import Endpoint

__all__ = ["ClientStats", "QueryLike", "Route", "Transport"]

_log = logging.getLogger(__name__)

T = TypeVar("T")

API_KEY_HEADER: Final = "flinkey-API-Key"
CUSTOMER_HEADER: Final = "Customer-ID"
_JSON: Final = "application/json"
_PLAIN_SEGMENT: Final = re.compile(r"(?![.]{1,2}\Z)[A-Za-z0-9._~:-]+")
"""A path segment that percent-encoding leaves unchanged (and that is not ``.`` or ``..``)."""
_FORM: Final = "application/x-www-form-urlencoded"
_NOTHING_TO_SETTLE: Final[frozenset[str]] = frozenset()
_SECRET_HEADERS: Final = (API_KEY_HEADER, "Authorization")
_FIRST: Final = Attempt()
_Headers = CIMultiDictProxy[str]
_HEADER_SETS: Final = 64
"""Header sets kept per transport (one per token, customer and content type in use)."""
_ERRORS: Final[dict[Failure, type[TransportError]]] = {
    Failure.REFUSED: ConnectError,
    Failure.CONNECT_TIMEOUT: RequestTimeoutError,
    Failure.TLS: ConnectError,
    Failure.LOST: ConnectError,
    Failure.TIMEOUT: RequestTimeoutError,
    Failure.BROKEN: TransportError,
}


class QueryLike(Protocol):
    """What a list or get method accepts as ``query=``: anything that prints an OData query.

    :class:`flinkey_async.odata.Query` is the builder that implements it. ``encoded()`` returns
    the final, percent-encoded query string without the leading ``?`` ("" when empty); it is
    appended to the URL as is.
    """

    def encoded(self) -> str: ...


@attrs.define(slots=True)
class ClientStats:
    """Counters of what the client sent. Cheap to read at any time (for progress displays)."""

    requests: int = 0
    """HTTP requests sent to API endpoints, every attempt counted."""
    retries: int = 0
    """Attempts that repeated a failed one (connection error, timeout, 408/429/5xx)."""
    token_requests: int = 0
    """Requests sent to the token endpoint."""
    token_replays: int = 0
    """Requests repeated once with a new token after a 401 "token missing or invalid"."""
    outcome_unknown: int = 0
    """Creates that failed after they may have reached the service."""


class _NotReplayed(Exception):
    """The connection broke after the request may have been sent; aiohttp must not resend it."""


@attrs.frozen(slots=True)
class _Failed:
    """An attempt that did not succeed: what :func:`decide` reads, and what an error needs."""

    outcome: Outcome
    reason: str
    """For log lines and error messages: the status and text, or the failure described."""
    cause: Exception
    """The error answer as its exception, or what aiohttp raised (chained to the final error)."""
    token: str
    """The token the attempt carried ("" without one): only that one is dropped on a 401."""


async def _no_silent_replay(
    request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
) -> aiohttp.ClientResponse:
    # aiohttp resends PUT and DELETE once when exactly these two escape the handler chain.
    # Connector errors (a subclass of ClientOSError) mean nothing was sent; aiohttp does not
    # resend them, and they keep their type so that they can be retried safely.
    try:
        return await handler(request)
    except aiohttp.ClientConnectorError:
        raise
    except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError) as exc:
        raise _NotReplayed(type(exc).__name__) from exc


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date; None when absent."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _failure(exc: Exception) -> tuple[Failure, str] | None:
    """What kind of failure ``exc`` is, and its description; None for anything else."""
    if isinstance(exc, _NotReplayed):
        return Failure.LOST, f"connection lost after the request was sent ({exc})"
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return Failure.CONNECT_TIMEOUT, "timed out while connecting"
    if isinstance(exc, (aiohttp.ClientSSLError, aiohttp.ServerFingerprintMismatch)):
        return Failure.TLS, f"TLS failure ({type(exc).__name__})"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return Failure.REFUSED, f"could not connect ({type(exc).__name__})"
    if isinstance(exc, TimeoutError):  # ServerTimeoutError, and the total timeout
        return Failure.TIMEOUT, "no answer in time"
    if isinstance(exc, (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, OSError)):
        return Failure.LOST, f"connection lost ({type(exc).__name__})"
    if isinstance(exc, aiohttp.ClientError):
        return Failure.BROKEN, f"request failed ({type(exc).__name__})"
    return None


def _scrub(exc: Exception) -> None:
    """Drop the request headers (the API key, the token) that aiohttp's response errors carry.

    These exceptions are chained to the ones this module raises, and their ``repr`` shows the
    request's headers: an error tracker or a rich traceback would print the secrets.
    """
    if isinstance(exc, aiohttp.ClientResponseError):
        info = exc.request_info
        headers = info.headers.copy()
        for name in _SECRET_HEADERS:
            headers.popall(name, None)
        exc.request_info = aiohttp.RequestInfo(
            info.url, info.method, type(info.headers)(headers), info.real_url
        )
        exc.history = ()  # earlier responses of a redirect chain carry the same headers
        exc.args = (exc.request_info, ())


class Transport:
    """Owns the session, the token and the request path of one :class:`FlinkeyClient`."""

    __slots__ = (
        "_api_key",
        "_base",
        "_base_path",
        "_closed",
        "_customer",
        "_guarded",
        "_header_sets",
        "_owns_session",
        "_pacer",
        "_routes",
        "_session",
        "_token_url",
        "_tokens",
        "_waiting",
        "_woken",
        "config",
        "connector_limit",
        "stats",
    )

    def __init__(
        self, config: ClientConfig, *, session: aiohttp.ClientSession | None = None
    ) -> None:
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise ValidationError("session", "must be an aiohttp.ClientSession")
        self.config = config
        self._pacer = RateLimiter(config.rate_limit) if config.rate_limit is not None else None
        self._api_key = config.api_key
        self._base = config.base_url
        self._base_path = self._base.raw_path.rstrip("/")
        self._customer = None if config.customer_id is None else str(config.customer_id)
        connector_limit = config.connector_limit
        if session is not None:
            # A borrowed session's pool binds too (aiohttp's 0 means "no limit").
            connector = session.connector
            pool = getattr(connector, "limit", 0) if connector is not None else 0
            if isinstance(pool, int) and pool > 0:
                connector_limit = min(connector_limit, pool)
        self.connector_limit = connector_limit
        self.stats = ClientStats()
        self._session = session
        self._owns_session = session is None
        self._guarded: tuple[aiohttp.ClientMiddlewareType, ...] = ()
        self._header_sets: dict[tuple[str | None, str | None, str | None], _Headers] = {}
        self._routes: dict[str, Route] = {}
        self._closed = False
        self._waiting: set[asyncio.Task[Any]] = set()  # calls waiting to retry
        self._woken: set[asyncio.Task[Any]] = set()  # ... that close() cancelled
        self._token_url = self._base / "oauth2" / "token"
        self._tokens: TokenSource
        if config.token is not None:
            self._tokens = StaticToken(config.token)
        else:
            self._tokens = TokenManager(
                self._fetch_token,
                token_url=str(self._token_url),
                refresh_margin=config.token_refresh_margin,
            )
        if session is not None:
            self._guarded = _guard_chain(session)

    def __repr__(self) -> str:
        return f"Transport(base_url={str(self._base)!r}, customer_id={self.customer_id!r})"

    # -- configuration -------------------------------------------------------------------------

    @property
    def base_url(self) -> URL:
        return self._base

    @property
    def customer_id(self) -> int | None:
        return self.config.customer_id

    @property
    def rate_limit(self) -> float | None:
        return self.config.rate_limit

    @property
    def tokens(self) -> TokenSource:
        return self._tokens

    @property
    def owns_session(self) -> bool:
        return self._owns_session

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def session(self) -> aiohttp.ClientSession | None:
        return self._session

    def url(self, *segments: str | int) -> URL:
        """``base/segment/...``: each segment is one path segment, encoded exactly once.

        Ids and the API's own segment names need no encoding, so the common case joins a path and
        sets it with ``encoded=True`` (about twice as fast as yarl's ``/``, which matters at
        thousands of calls). Anything else goes through yarl's quoting.
        """
        path = self._base_path
        for segment in segments:
            if segment.__class__ is int:
                path += "/" + str(segment)
            elif isinstance(segment, str) and (
                (segment.isascii() and segment.isalnum()) or _PLAIN_SEGMENT.fullmatch(segment)
            ):
                path += "/" + segment
            else:
                url = self._base
                for part in segments:
                    url = url / str(part)
                return url
        return self._base.with_path(path, encoded=True)

    def route(self, endpoint: Endpoint[Any]) -> Route:
        """The URLs of ``endpoint`` under the base URL (made once per template, then reused)."""
        route = self._routes.get(endpoint.template)
        if route is None:
            route = self._routes[endpoint.template] = Route(self, endpoint)
        return route

    @staticmethod
    def with_query(url: URL, query: QueryLike | None) -> URL:
        """Append an already percent-encoded OData query string verbatim."""
        if query is None:
            return url
        encoded = query.encoded()
        if not encoded:
            return url
        if not isinstance(encoded, str):
            raise ValidationError("query", "encoded() must return a str")
        return URL(f"{url}?{encoded.removeprefix('?')}", encoded=True)

    def customer(self, override: int | None) -> str:
        """The ``Customer-ID`` header value: the call's override, else the client's."""
        if override is None:
            if self._customer is None:
                raise ValidationError(
                    "customer_id", "required: pass customer_id= to FlinkeyClient or to the call"
                )
            return self._customer
        return str(check_id("customer_id", override))

    # -- session ---------------------------------------------------------------------------------

    async def open(self) -> aiohttp.ClientSession:
        """The session to send on; creates the client's own on first use."""
        if self._closed:
            raise ClientClosedError("the FlinkeyClient is closed")
        session = self._session
        if session is None:
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.connector_limit),
                timeout=self.config.timeout,
            )
            self._session = session
            self._guarded = _guard_chain(session)
        return session

    async def close(self) -> None:
        """End the token renewal, then close the session if it is the client's own (a lent one
        is left open). Calls in flight end with :class:`ClientClosedError`."""
        self._closed = True
        for task in self._waiting:  # they wake up now, and end with ClientClosedError
            self._woken.add(task)
            task.cancel()
        await self._tokens.close()
        session, self._session = self._session, None
        if session is not None and self._owns_session and not session.closed:
            await session.close()

    # -- the request path ------------------------------------------------------------------------

    async def send(
        self,
        method: str,
        url: URL,
        *,
        customer: str | None,
        json: Any = None,
        create: bool = False,
        settle: frozenset[str] = _NOTHING_TO_SETTLE,
    ) -> bytes:
        """Send one API request (with retries) and return the body of its 2xx answer.

        ``create`` marks a request that makes a new entity each time: it is never repeated once it
        may have reached the service. ``settle`` holds the messages a repeat gets when the first
        attempt did take effect although its answer was lost ("... is not assigned to the group"
        for a removal, "... is already assigned" for an addition); only after such a loss does
        that answer count as success.
        """
        body = None if json is None else _json.dumps(json)
        return await self.fetch(
            url,
            customer,
            method,
            body,
            None if body is None else _JSON,
            nature=Nature.CREATE if create else Nature.READ if method == "GET" else Nature.WRITE,
            settle=settle,
        )

    async def _fetch_token(self) -> Token:
        """One password-grant token request (repeatable: it creates nothing)."""
        config = self.config
        assert config.username is not None
        assert config.password is not None
        form = urlencode(
            {"grant_type": "password", "username": config.username, "password": config.password}
        ).encode()
        url = self._token_url
        try:
            payload = await self.fetch(url, None, "POST", form, _FORM, authenticated=False)
        except (InvalidTokenError, BadRequestError) as exc:
            # At the token endpoint a 401 that is not about the API key, or an OAuth2 400
            # (invalid_grant), is about the username or password, not about a token.
            raise InvalidCredentialsError(
                exc.status, exc.message, method=exc.method, path=exc.path, trace_id=exc.trace_id
            ) from None
        return self.decode(payload, Token, "POST", url)

    async def fetch(
        self,
        url: URL,
        customer: str | None,
        method: str = "GET",
        body: bytes | None = None,
        content_type: str | None = None,
        *,
        authenticated: bool = True,
        nature: Nature = Nature.READ,
        settle: frozenset[str] = _NOTHING_TO_SETTLE,
    ) -> bytes:
        """Send until the answer is final and return the body of its 2xx answer (a ``GET`` by
        default: the read methods call this directly, and decode what it returns).

        Each turn of the loop is one counted, paced HTTP request; what follows a failed one is
        :meth:`_after_failure`'s. The attempt is written out here rather than in a method of its
        own: every call level on the way to aiohttp is paid again each time the request resumes.
        """
        session = self._session
        if session is None or self._closed:
            session = await self.open()
        stats = self.stats
        attempt = _FIRST
        while True:
            if authenticated:
                token = self._tokens.current() or await self._tokens.get()
                headers = self._header_sets.get((token, customer, content_type))
                if headers is None:
                    headers = self._headers(token, customer, content_type)
                stats.requests += 1
            else:
                token = ""
                headers = self._headers(None, customer, content_type)
                stats.token_requests += 1
            if self._pacer is not None:
                await self._pacer.acquire()
            if self._closed:
                raise self._closed_error(method, url, nature)
            debug = _log.isEnabledFor(logging.DEBUG)
            started = time.perf_counter() if debug else 0.0
            try:
                response = await session.request(
                    method,
                    url,
                    data=body,
                    headers=headers,
                    timeout=self.config.timeout,
                    allow_redirects=False,
                    raise_for_status=False,
                    middlewares=self._guarded,
                )
                try:
                    status = response.status
                    payload = await response.read()
                    retry_after = (
                        _retry_after(response.headers.get("Retry-After")) if status >= 400 else None
                    )
                finally:
                    response.release()
            except Exception as exc:  # CancelledError is a BaseException: it passes untouched
                _scrub(exc)
                if self._closed:
                    raise self._closed_error(method, url, nature) from exc
                failure = _failure(exc)
                if failure is None:
                    raise
                sent = _Failed(failure[0], failure[1], exc, token)
            else:
                if status < 300:
                    if debug:
                        elapsed = (time.perf_counter() - started) * 1000
                        _log.debug("%s %s -> %d (%.1f ms)", method, url.path, status, elapsed)
                    return payload
                error = error_from_response(
                    status, payload, method=method, path=url.path, retry_after=retry_after
                )
                answer = Answer(
                    status, error.message, retry_after, isinstance(error, InvalidTokenError)
                )
                sent = _Failed(answer, f"{status} {error.message}", error, token)
            following = await self._after_failure(
                attempt, sent, method, url, nature, settle, authenticated
            )
            if following is None:
                return b""
            attempt = following

    async def _after_failure(
        self,
        attempt: Attempt,
        sent: _Failed,
        method: str,
        url: URL,
        nature: Nature,
        settle: frozenset[str],
        authenticated: bool,
    ) -> Attempt | None:
        """Act on :func:`decide`'s answer to a failed attempt: the next attempt to make (after the
        wait a retry takes), None when the request is settled, or the final error raised."""
        policy = self.config.retry
        outcome = sent.outcome
        renewable = authenticated and self._tokens.renewable
        decision = decide(attempt, outcome, nature, policy, renewable=renewable, settle=settle)
        action = decision.action
        if action is Action.RETRY:
            delay = decision.wait
            if delay is None:
                delay = policy.backoff(attempt.number)
            _log.warning(
                "%s %s: %s; retry %d of %d in %.2f s",
                method,
                url.path,
                sent.reason,
                attempt.number,
                policy.max_attempts - 1,
                delay,
            )
            self.stats.retries += 1
            await self._retry_wait(delay, method, url, nature)
            return attempt.retried(outcome)
        if action is Action.REPLAY:
            self._tokens.invalidate(sent.token)
            self.stats.token_replays += 1
            _log.info("%s %s: token rejected; renewing it and sending once more", method, url.path)
            return attempt.replaying()
        if action is Action.SETTLE:
            assert isinstance(outcome, Answer)  # only an answer can say "already done"
            _log.warning(
                "%s %s: %s after a lost answer; the earlier attempt took effect",
                method,
                url.path,
                sent.reason,
            )
            return None
        raise self._final_error(decision, sent, method, url) from sent.cause

    async def _retry_wait(self, delay: float, method: str, url: URL, nature: Nature) -> None:
        """Sleep before a retry; :meth:`close` cuts the wait short with ClientClosedError.

        close() wakes the call by cancelling it; only that cancellation, and only if nobody else
        cancelled the call too, is taken back and turned into the error.
        """
        task = asyncio.current_task()
        assert task is not None
        self._waiting.add(task)
        try:
            await asyncio.sleep(delay)
        except asyncio.CancelledError:
            if task in self._woken:
                self._woken.discard(task)
                if task.uncancel() == 0:
                    raise self._closed_error(method, url, nature) from None
            raise
        finally:
            self._waiting.discard(task)

    def _headers(
        self, token: str | None, customer: str | None, content_type: str | None
    ) -> _Headers:
        """The headers of a request, made once per token, customer and content type: aiohttp
        takes a multidict as it is, where a dict would be converted on every request."""
        key = (token, customer, content_type)
        headers = self._header_sets.get(key)
        if headers is None:
            made = CIMultiDict({API_KEY_HEADER: self._api_key})
            if token is not None:
                made["Authorization"] = "Bearer " + token
            if customer is not None:
                made[CUSTOMER_HEADER] = customer
            if content_type is not None:
                made["Content-Type"] = content_type
            if len(self._header_sets) >= _HEADER_SETS:
                self._header_sets.clear()  # an old token's, most of them
            headers = self._header_sets[key] = CIMultiDictProxy(made)
        return headers

    def _final_error(
        self, decision: Decision, sent: _Failed, method: str, url: URL
    ) -> FlinkeyError:
        """The error a request ends with (logged, and counted when the outcome is unknown)."""
        outcome = sent.outcome
        if decision.action is Action.UNKNOWN:
            if isinstance(outcome, Failure):
                why = f"{sent.reason}; the entity may or may not have been created"
            else:
                why = f"the answer was {sent.reason}, which does not say whether it was created"
            return self._outcome_unknown(method, url, why)
        if isinstance(outcome, Failure):
            return _ERRORS[outcome](sent.reason, method=method, path=url.path)
        assert isinstance(sent.cause, FlinkeyError)
        if decision.beyond_cap:
            _log.warning(
                "%s %s -> %d; Retry-After %.0f s exceeds the cap of %.0f s",
                method,
                url.path,
                outcome.status,
                outcome.retry_after,
                self.config.retry.retry_after_cap,
            )
        else:
            _log.debug("%s %s -> %s (%s)", method, url.path, sent.reason, type(sent.cause).__name__)
        return sent.cause

    @staticmethod
    def _closed_error(method: str, url: URL, nature: Nature) -> ClientClosedError:
        note = "; the entity may or may not have been created" if nature is Nature.CREATE else ""
        return ClientClosedError(
            f"the FlinkeyClient was closed during the call ({method} {url.path}){note}"
        )

    def _outcome_unknown(self, method: str, url: URL, reason: str) -> OutcomeUnknownError:
        """The error for a create that may have taken effect (counted, logged, never resent)."""
        self.stats.outcome_unknown += 1
        _log.warning("%s %s: %s; the create is not repeated", method, url.path, reason)
        return OutcomeUnknownError(
            f"{reason}, and the request was not repeated", method=method, path=url.path
        )

    # -- decoding --------------------------------------------------------------------------------

    @staticmethod
    def _loads(payload: bytes, method: str, url: URL) -> Any:
        try:
            return _json.loads(payload)
        except ValueError as exc:
            raise DecodeError("the body is not JSON", method=method, url_path=url.path) from exc

    def decode(self, payload: bytes, cls: type[T], method: str, url: URL) -> T:
        try:
            return decode(payload, cls)
        except DecodeError as exc:
            raise DecodeError(exc.message, path=exc.path, method=method, url_path=url.path) from exc

    def decode_list(self, payload: bytes, cls: type[T], method: str, url: URL) -> list[T]:
        try:
            return decode_list(payload, cls)
        except DecodeError as exc:
            raise DecodeError(exc.message, path=exc.path, method=method, url_path=url.path) from exc

    def decode_json(self, payload: bytes, method: str, url: URL) -> Any:
        return self._loads(payload, method, url)


class Route:
    """The URLs of one endpoint under a client's base URL.

    The endpoint's literal path text is joined to the base path once, so that a URL is one
    concatenation and one ``with_path(encoded=True)``, a third of what :meth:`Transport.url`
    costs; an endpoint without parameters has one URL, made once and reused (:attr:`fixed`).
    """

    __slots__ = ("_base", "_endpoint", "_head", "_origin", "_rest", "_tail", "_transport", "fixed")

    def __init__(self, transport: Transport, endpoint: Endpoint[Any]) -> None:
        pieces = endpoint.pieces()
        base = transport.base_url
        self._transport = transport
        self._endpoint = endpoint
        self._base = base
        self._origin = str(base.with_path("/", encoded=True))[:-1]
        self._head = transport._base_path + pieces[0]
        self._rest = pieces[1:]
        plain = all(
            _PLAIN_SEGMENT.fullmatch(segment)
            for piece in pieces
            for segment in piece.split("/")
            if segment
        )
        self._tail = pieces[1] if plain and len(pieces) == 2 else None
        """What follows the one parameter (None: :meth:`at` takes the general path)."""
        self.fixed = base.with_path(self._head, encoded=True) if len(pieces) == 1 else None
        """The one URL of an endpoint without parameters."""
        if not plain:
            self._head = ""  # every URL through Transport.url, which encodes the literal text

    def __repr__(self) -> str:
        return f"Route({self._endpoint.template!r})"

    def at(self, value: int, query: QueryLike | None = None) -> URL:
        """The URL with ``value`` (a checked id) in place of the endpoint's one parameter."""
        tail = self._tail
        if tail is None or value.__class__ is not int:
            return self.of(value, query=query)
        path = self._head + str(value) + tail
        if query is None:
            return self._base.with_path(path, encoded=True)
        return self._with_query(path, query)

    def of(self, *values: int | str, query: QueryLike | None = None) -> URL:
        """The URL with ``values`` in place of the parameters, in order."""
        rest = self._rest
        path = self._head
        if len(values) != len(rest) or not path:
            return self._slow(values, query)
        for value, piece in zip(values, rest, strict=True):
            if value.__class__ is int:
                path += str(value) + piece
            elif isinstance(value, str) and _PLAIN_SEGMENT.fullmatch(value):
                path += value + piece
            else:
                return self._slow(values, query)
        if query is None:
            return self._base.with_path(path, encoded=True)
        return self._with_query(path, query)

    def _slow(self, values: tuple[int | str, ...], query: QueryLike | None) -> URL:
        """Segment by segment, quoting what needs it (and the arity checked)."""
        t = self._transport
        return t.with_query(t.url(*self._endpoint.path(*values)), query)

    def _with_query(self, path: str, query: QueryLike) -> URL:
        """The path with an already percent-encoded OData query, as :meth:`Transport.with_query`."""
        encoded = query.encoded()
        if not encoded:
            return self._base.with_path(path, encoded=True)
        if not isinstance(encoded, str):
            raise ValidationError("query", "encoded() must return a str")
        return URL(f"{self._origin}{path}?{encoded.removeprefix('?')}", encoded=True)


def _guard_chain(session: aiohttp.ClientSession) -> tuple[aiohttp.ClientMiddlewareType, ...]:
    """The per-request middlewares of every request.

    A per-request ``middlewares=`` replaces the session's, so the session's own are kept, between
    two guards: the inner one converts the failure before any of the caller's middlewares sees
    it, the outer one whatever the chain raises itself.
    """
    own: Sequence[aiohttp.ClientMiddlewareType] = getattr(session, "_middlewares", None) or ()
    if not own:
        return (_no_silent_replay,)
    return (_no_silent_replay, *own, _no_silent_replay)

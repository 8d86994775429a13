"""The one request path: URLs, headers, bodies, timeouts, retries, error mapping and decoding.

Every call of every resource ends in :meth:`Transport.send`. It

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

aiohttp itself resends a GET, PUT or DELETE once, silently, when the connection drops
(``ClientSession`` treats them as idempotent and offers no public switch). Against ``PUT /cars``
that creates a second car; for any method it is a request that the retry policy, the rate limit
and the statistics never see. Every request therefore runs with a per-request client middleware
that turns the two exceptions aiohttp would replay into a private exception it passes through; the
decision to repeat is made here, and only here. The caller's own session is never modified: its
middlewares are kept in the per-request chain.

``asyncio.CancelledError`` is never caught. The API key, the password and the token are never
logged and never part of an error message.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final, Protocol, TypeVar
from urllib.parse import urlencode

import aiohttp
import attrs
from yarl import URL

from . import _json
from ._auth import DEFAULT_REFRESH_MARGIN, StaticToken, TokenManager, TokenSource
from ._converter import structure, structure_list
from ._exceptions import (
    BadRequestError,
    ClientClosedError,
    ConnectError,
    DecodeError,
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
from ._validation import check_id, check_no_controls

__all__ = [
    "DEFAULT_TIMEOUT",
    "PRODUCTION_URL",
    "TEST_URL",
    "ClientStats",
    "QueryLike",
    "RetryPolicy",
    "Transport",
]

_log = logging.getLogger(__name__)

T = TypeVar("T")

PRODUCTION_URL: Final = "https://api.flinkey.de/v3"
"""The live service."""
TEST_URL: Final = "https://api-uat.flinkey.de/v3"
"""The test (UAT) environment."""

DEFAULT_TIMEOUT: Final = aiohttp.ClientTimeout(total=30, connect=10)
"""30 s for a whole request (all of its bytes), 10 s to get a connection."""

API_KEY_HEADER: Final = "flinkey-API-Key"
CUSTOMER_HEADER: Final = "Customer-ID"
_JSON: Final = "application/json"
_PLAIN_SEGMENT: Final = re.compile(r"(?![.]{1,2}\Z)[A-Za-z0-9._~:-]+")
"""A path segment that percent-encoding leaves unchanged (and that is not ``.`` or ``..``)."""
_FORM: Final = "application/x-www-form-urlencoded"
_NOTHING_TO_SETTLE: Final[frozenset[str]] = frozenset()
_SECRET_HEADERS: Final = (API_KEY_HEADER, "Authorization")
_MAYBE_PROCESSED: Final = frozenset({408, 502, 504})
"""Answers of a gateway or a proxy that say nothing about whether the service acted."""


_sleep = asyncio.sleep
"""The wait before a retry; a module attribute so that tests can see every wait without timing."""


class QueryLike(Protocol):
    """What a list or get method accepts as ``query=``: anything that prints an OData query.

    :class:`flinkey_async.odata.Query` is the builder that implements it. ``encoded()`` returns
    the final, percent-encoded query string without the leading ``?`` ("" when empty); it is
    appended to the URL as is.
    """

    def encoded(self) -> str: ...


def _positive(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if value < 0:
        raise ValidationError(attribute.name, f"must not be negative, got {value}")


def _at_least_one(_: Any, attribute: attrs.Attribute[Any], value: int) -> None:
    if value < 1:
        raise ValidationError(attribute.name, f"must be at least 1, got {value}")


@attrs.frozen(slots=True)
class RetryPolicy:
    """When and how long to wait before a request is repeated.

    ``attempts`` counts the first try: 4 means up to 3 retries. The wait before retry *n* (1, 2,
    ...) is drawn uniformly from ``[0, min(backoff_max, backoff_base * 2 ** (n - 1))]`` ("full
    jitter"), unless the service sent ``Retry-After``, which is honoured as is. A ``Retry-After``
    longer than ``retry_after_cap`` is not waited for: the error surfaces, carrying the hint.
    ``enabled=False`` (or :meth:`disabled`) turns every retry off; the one replay after a rejected
    token stays, because it is not a retry of a failure but a renewal.
    """

    attempts: int = attrs.field(default=4, validator=_at_least_one)
    backoff_base: float = attrs.field(default=0.25, validator=_positive)
    backoff_max: float = attrs.field(default=8.0, validator=_positive)
    retry_after_cap: float = attrs.field(default=60.0, validator=_positive)
    enabled: bool = True
    statuses: frozenset[int] = frozenset({408, 429, 502, 503, 504})

    @classmethod
    def disabled(cls) -> RetryPolicy:
        """A policy that never retries."""
        return cls(enabled=False)

    def backoff(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1-based), with full jitter."""
        ceiling = min(self.backoff_max, self.backoff_base * 2 ** (retry - 1))
        return random.uniform(0.0, ceiling)


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


def _failure(exc: Exception) -> tuple[type[TransportError], str, bool, bool] | None:
    """(error class, description, may have been sent, worth retrying) for a failed attempt."""
    if isinstance(exc, _NotReplayed):
        return ConnectError, f"connection lost after the request was sent ({exc})", True, True
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return RequestTimeoutError, "timed out while connecting", False, True
    if isinstance(exc, (aiohttp.ClientSSLError, aiohttp.ServerFingerprintMismatch)):
        return ConnectError, f"TLS failure ({type(exc).__name__})", False, False
    if isinstance(exc, aiohttp.ClientConnectorError):
        return ConnectError, f"could not connect ({type(exc).__name__})", False, True
    if isinstance(exc, TimeoutError):  # ServerTimeoutError, and the total timeout
        return RequestTimeoutError, "no answer in time", True, True
    if isinstance(exc, (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, OSError)):
        return ConnectError, f"connection lost ({type(exc).__name__})", True, True
    if isinstance(exc, aiohttp.ClientError):
        return TransportError, f"request failed ({type(exc).__name__})", True, False
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
        "_customer_id",
        "_guarded",
        "_owns_session",
        "_pacer",
        "_password",
        "_retry",
        "_session",
        "_timeout",
        "_token_url",
        "_tokens",
        "_username",
        "connector_limit",
        "stats",
    )

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | URL,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        customer_id: int | None = None,
        session: aiohttp.ClientSession | None = None,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        connector_limit: int = 100,
        refresh_margin: float = DEFAULT_REFRESH_MARGIN,
        rate_limit: float | None = None,
    ) -> None:
        if not isinstance(api_key, str) or not api_key.strip():
            raise ValidationError("api_key", "must be a non-empty str")
        check_no_controls("api_key", api_key)
        if not isinstance(timeout, aiohttp.ClientTimeout):
            raise ValidationError("timeout", "must be an aiohttp.ClientTimeout")
        if connector_limit.__class__ is not int or connector_limit < 1:
            raise ValidationError("connector_limit", "must be a positive int")
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise ValidationError("session", "must be an aiohttp.ClientSession")
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise ValidationError("retry", "must be a RetryPolicy")
        if not isinstance(refresh_margin, int | float) or refresh_margin < 0:
            raise ValidationError("token_refresh_margin", "must be a number of seconds >= 0")
        if rate_limit is not None and (
            isinstance(rate_limit, bool)
            or not isinstance(rate_limit, int | float)
            or not rate_limit > 0
        ):
            raise ValidationError("rate_limit", "must be a positive number of requests per second")
        self._pacer = RateLimiter(rate_limit) if rate_limit is not None else None
        self._api_key = api_key
        self._base = _base_url(base_url)
        self._base_path = self._base.raw_path.rstrip("/")
        self._customer_id = None if customer_id is None else check_id("customer_id", customer_id)
        self._customer = None if customer_id is None else str(self._customer_id)
        self._timeout = timeout
        self._retry = retry if retry is not None else RetryPolicy()
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
        self._closed = False
        self._token_url = self._base / "oauth2" / "token"
        self._username = username
        self._password = password
        self._tokens: TokenSource
        if token is not None:
            if username is not None or password is not None:
                raise ValidationError("token", "pass either token= or username= and password=")
            self._tokens = StaticToken(token)
        else:
            for field, value in (("username", username), ("password", password)):
                if not isinstance(value, str) or not value:
                    raise ValidationError(field, "required (or pass token=)")
                check_no_controls(field, value)
            self._tokens = TokenManager(
                self._fetch_token, token_url=str(self._token_url), refresh_margin=refresh_margin
            )
        if session is not None:
            self._guarded = _guard_chain(session)

    def __repr__(self) -> str:
        return f"Transport(base_url={str(self._base)!r}, customer_id={self._customer_id!r})"

    # -- configuration -------------------------------------------------------------------------

    @property
    def base_url(self) -> URL:
        return self._base

    @property
    def customer_id(self) -> int | None:
        return self._customer_id

    @property
    def rate_limit(self) -> float | None:
        return self._pacer.rate if self._pacer is not None else None

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
                timeout=self._timeout,
            )
            self._session = session
            self._guarded = _guard_chain(session)
        return session

    async def close(self) -> None:
        """End the token renewal, then close the session if it is the client's own (a lent one
        is left open). Calls in flight end with :class:`ClientClosedError`."""
        self._closed = True
        await self._tokens.close()
        session, self._session = self._session, None
        if session is not None and self._owns_session and not session.closed:
            await session.close()

    # -- the request path ------------------------------------------------------------------------

    # The two read paths go straight to the exchange: a GET has no body to encode, and every
    # call level saved counts at thousands of requests.

    async def get_one(self, url: URL, cls: type[T], customer: str | None) -> T:
        """``GET`` one entity as ``cls``."""
        _, payload = await self._exchange(
            "GET", url, body=None, content_type=None, customer=customer,
            authenticated=True, create=False, settle=_NOTHING_TO_SETTLE,
        )  # fmt: skip
        return self.decode(payload, cls, "GET", url)

    async def get_list(self, url: URL, cls: type[T], customer: str | None) -> list[T]:
        """``GET`` a JSON array as a list of ``cls``."""
        _, payload = await self._exchange(
            "GET", url, body=None, content_type=None, customer=customer,
            authenticated=True, create=False, settle=_NOTHING_TO_SETTLE,
        )  # fmt: skip
        return self.decode_list(payload, cls, "GET", url)

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
        _, payload = await self._exchange(
            method,
            url,
            body=body,
            content_type=None if body is None else _JSON,
            customer=customer,
            authenticated=True,
            create=create,
            settle=settle,
        )
        return payload

    async def _fetch_token(self) -> Token:
        """One password-grant token request (repeatable: it creates nothing)."""
        assert self._username is not None
        assert self._password is not None
        form = urlencode(
            {"grant_type": "password", "username": self._username, "password": self._password}
        ).encode()
        url = self._token_url
        try:
            _, payload = await self._exchange(
                "POST",
                url,
                body=form,
                content_type=_FORM,
                customer=None,
                authenticated=False,
                create=False,
                settle=_NOTHING_TO_SETTLE,
            )
        except (InvalidTokenError, BadRequestError) as exc:
            # At the token endpoint a 401 that is not about the API key, or an OAuth2 400
            # (invalid_grant), is about the username or password, not about a token.
            raise InvalidCredentialsError(
                exc.status, exc.message, method=exc.method, path=exc.path, trace_id=exc.trace_id
            ) from None
        return self.decode(payload, Token, "POST", url)

    async def _exchange(
        self,
        method: str,
        url: URL,
        *,
        body: bytes | None,
        content_type: str | None,
        customer: str | None,
        authenticated: bool,
        create: bool,
        settle: frozenset[str],
    ) -> tuple[int, bytes]:
        session = self._session
        if session is None or self._closed:
            session = await self.open()
        policy = self._retry
        attempts = policy.attempts if policy.enabled else 1
        middlewares = self._guarded
        stats = self.stats
        attempt = 1
        replayed = False
        maybe_done = False  # an earlier attempt may have taken effect although it failed
        token = ""
        while True:
            headers = {API_KEY_HEADER: self._api_key}
            if authenticated:
                token = self._tokens.current() or await self._tokens.get()
                headers["Authorization"] = "Bearer " + token
                stats.requests += 1
            else:
                stats.token_requests += 1
            if customer is not None:
                headers[CUSTOMER_HEADER] = customer
            if content_type is not None:
                headers["Content-Type"] = content_type
            if self._pacer is not None:
                await self._pacer.acquire()
            if self._closed:
                raise self._closed_error(method, url)
            debug = _log.isEnabledFor(logging.DEBUG)
            started = time.perf_counter() if debug else 0.0
            try:
                response = await session.request(
                    method,
                    url,
                    data=body,
                    headers=headers,
                    timeout=self._timeout,
                    allow_redirects=False,
                    raise_for_status=False,
                    middlewares=middlewares,
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
                    raise self._closed_error(method, url) from exc
                failure = _failure(exc)
                if failure is None:
                    raise
                error_cls, reason, sent, worth_retrying = failure
                if create and sent:
                    raise self._outcome_unknown(
                        method, url, f"{reason}; the entity may or may not have been created"
                    ) from exc
                if not worth_retrying or attempt >= attempts:
                    raise error_cls(reason, method=method, path=url.path) from exc
                delay = policy.backoff(attempt)
                _log.warning(
                    "%s %s: %s; retry %d of %d in %.2f s",
                    method,
                    url.path,
                    reason,
                    attempt,
                    attempts - 1,
                    delay,
                )
                maybe_done = maybe_done or sent
                attempt += 1
                stats.retries += 1
                await _sleep(delay)
                continue

            if status < 300:
                if debug:
                    _log.debug(
                        "%s %s -> %d (%.1f ms)",
                        method,
                        url.path,
                        status,
                        (time.perf_counter() - started) * 1000,
                    )
                return status, payload

            error = error_from_response(
                status, payload, method=method, path=url.path, retry_after=retry_after
            )
            if (
                authenticated
                and not replayed
                and isinstance(error, InvalidTokenError)
                and self._tokens.renewable
            ):
                # Rejected before it was processed: safe to send again, creates included.
                self._tokens.invalidate(token)
                replayed = True
                stats.token_replays += 1
                _log.info(
                    "%s %s: token rejected; renewing it and sending once more", method, url.path
                )
                continue
            if maybe_done and error.message in settle:
                _log.warning(
                    "%s %s: %d after a lost answer; the earlier attempt took effect (%s)",
                    method,
                    url.path,
                    status,
                    error.message,
                )
                return status, b""
            if create and status in _MAYBE_PROCESSED:
                raise self._outcome_unknown(
                    method,
                    url,
                    f"the answer was {status} {error.message}, which does not say "
                    "whether the entity was created",
                ) from error
            if status in policy.statuses and not create and attempt < attempts:
                if retry_after is not None and retry_after > policy.retry_after_cap:
                    _log.warning(
                        "%s %s -> %d; Retry-After %.0f s exceeds the cap of %.0f s",
                        method,
                        url.path,
                        status,
                        retry_after,
                        policy.retry_after_cap,
                    )
                    raise error
                delay = retry_after if retry_after is not None else policy.backoff(attempt)
                _log.warning(
                    "%s %s -> %d; retry %d of %d in %.2f s",
                    method,
                    url.path,
                    status,
                    attempt,
                    attempts - 1,
                    delay,
                )
                maybe_done = maybe_done or status in _MAYBE_PROCESSED
                attempt += 1
                stats.retries += 1
                await _sleep(delay)
                continue
            _log.debug("%s %s -> %d %s", method, url.path, status, type(error).__name__)
            raise error

    @staticmethod
    def _closed_error(method: str, url: URL) -> ClientClosedError:
        return ClientClosedError(
            f"the FlinkeyClient was closed during the call ({method} {url.path})"
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
            data = _json.loads(payload)
        except ValueError as exc:
            raise DecodeError("the body is not JSON", method=method, url_path=url.path) from exc
        try:
            return structure(data, cls)
        except DecodeError as exc:
            raise DecodeError(exc.message, path=exc.path, method=method, url_path=url.path) from exc

    def decode_list(self, payload: bytes, cls: type[T], method: str, url: URL) -> list[T]:
        data = self._loads(payload, method, url)
        try:
            return structure_list(data, cls)
        except DecodeError as exc:
            raise DecodeError(exc.message, path=exc.path, method=method, url_path=url.path) from exc

    def decode_json(self, payload: bytes, method: str, url: URL) -> Any:
        return self._loads(payload, method, url)


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


def _base_url(value: str | URL) -> URL:
    try:
        url = URL(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError("base_url", "not a URL") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise ValidationError("base_url", "must be an absolute http(s) URL")
    if url.query_string or url.fragment:
        raise ValidationError("base_url", "must not have a query or fragment")
    return url.with_path(url.path.rstrip("/"))

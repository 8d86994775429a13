"""The client's settings as one frozen value, checked once, when it is made.

:class:`FlinkeyClient` builds a :class:`ClientConfig` from its keyword arguments and hands it to the
transport; nothing else passes settings around. Every check happens here, before anything is sent,
and raises :class:`~flinkey_async.ValidationError` naming the argument. The API key, the password
and the token are left out of the ``repr``.
"""

from __future__ import annotations

import random
from typing import Any, Final

import aiohttp
import attrs
from yarl import URL

from ._auth import DEFAULT_REFRESH_MARGIN
from ._exceptions import ValidationError
from ._validation import check_id, check_no_controls

__all__ = [
    "DEFAULT_TIMEOUT",
    "PRODUCTION_URL",
    "TEST_URL",
    "ClientConfig",
    "RetryPolicy",
]

PRODUCTION_URL: Final = "https://api.flinkey.de/v3"
"""The live service."""
TEST_URL: Final = "https://api-uat.flinkey.de/v3"
"""The test (UAT) environment."""

DEFAULT_TIMEOUT: Final = aiohttp.ClientTimeout(total=30, connect=10)
"""30 s for a whole request (all of its bytes), 10 s to get a connection."""


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

    @property
    def max_attempts(self) -> int:
        """Attempts a request gets at most: ``attempts``, or 1 when retries are off."""
        return self.attempts if self.enabled else 1

    def backoff(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1-based), with full jitter."""
        ceiling = min(self.backoff_max, self.backoff_base * 2 ** (retry - 1))
        return random.uniform(0.0, ceiling)


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


def _customer_id(value: Any) -> int | None:
    return None if value is None else check_id("customer_id", value)


def _retry(value: Any) -> RetryPolicy:
    if value is None:
        return RetryPolicy()
    if not isinstance(value, RetryPolicy):
        raise ValidationError("retry", "must be a RetryPolicy")
    return value


def _api_key(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("api_key", "must be a non-empty str")
    check_no_controls("api_key", value)


def _timeout(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, aiohttp.ClientTimeout):
        raise ValidationError("timeout", "must be an aiohttp.ClientTimeout")


def _connector_limit(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value.__class__ is not int or value < 1:
        raise ValidationError("connector_limit", "must be a positive int")


def _refresh_margin(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, int | float) or value < 0:
        raise ValidationError("token_refresh_margin", "must be a number of seconds >= 0")


def _rate_limit(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int | float) or not value > 0
    ):
        raise ValidationError("rate_limit", "must be a positive number of requests per second")


@attrs.frozen(slots=True)
class ClientConfig:
    """Everything a :class:`FlinkeyClient` is configured with, except a borrowed session.

    The fields are the client's keyword arguments (see its docstring); ``retry=None`` becomes
    the default :class:`RetryPolicy`. Either ``token`` or ``username`` and ``password`` is given.
    """

    api_key: str = attrs.field(validator=_api_key, repr=False)
    base_url: URL = attrs.field(default=URL(PRODUCTION_URL), converter=_base_url)
    username: str | None = attrs.field(default=None, repr=False)
    password: str | None = attrs.field(default=None, repr=False)
    token: str | None = attrs.field(default=None, repr=False)
    customer_id: int | None = attrs.field(default=None, converter=_customer_id)
    timeout: aiohttp.ClientTimeout = attrs.field(default=DEFAULT_TIMEOUT, validator=_timeout)
    retry: RetryPolicy = attrs.field(default=None, converter=_retry)
    connector_limit: int = attrs.field(default=100, validator=_connector_limit)
    token_refresh_margin: float = attrs.field(
        default=DEFAULT_REFRESH_MARGIN, validator=_refresh_margin
    )
    rate_limit: float | None = attrs.field(default=None, validator=_rate_limit)

    def __attrs_post_init__(self) -> None:
        if self.token is not None:
            if self.username is not None or self.password is not None:
                raise ValidationError("token", "pass either token= or username= and password=")
            if not isinstance(self.token, str) or not self.token.strip():
                raise ValidationError("token", "must be a non-empty str")
            check_no_controls("token", self.token)
            return
        for field, value in (("username", self.username), ("password", self.password)):
            if not isinstance(value, str) or not value:
                raise ValidationError(field, "required (or pass token=)")
            check_no_controls(field, value)

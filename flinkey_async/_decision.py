"""What to do after an attempt that did not succeed: the request path's one decision, as data.

:func:`decide` takes the attempt (its number, whether the one token replay is spent, whether an
earlier attempt may have taken effect), its outcome (an error answer, or a failure without one),
the request's nature (read, idempotent write, create) and the retry policy, and returns one of
five actions: retry, replay with a new token, settle (the earlier attempt did the work), raise,
or raise "outcome unknown". It does no I/O, reads no clock and draws no random number (the loop
draws the backoff), so the whole table is tested without HTTP. The transport's loop sends,
classifies what came back, asks, and acts.
"""

from __future__ import annotations

import enum
from typing import Final

import attrs

from ._config import RetryPolicy

__all__ = ["Action", "Answer", "Attempt", "Decision", "Failure", "Nature", "Outcome", "decide"]

MAYBE_PROCESSED: Final = frozenset({408, 502, 504})
"""Answers of a gateway or a proxy that say nothing about whether the service acted."""


class Nature(enum.Enum):
    """What sending a request again can do."""

    READ = "read"
    """A GET, or the token request: nothing changes however often it is sent."""
    WRITE = "write"
    """An idempotent change (PATCH, DELETE, adding a member): a repeat may find it done."""
    CREATE = "create"
    """``PUT /cars``, ``PUT /groups``: each one processed makes a new entity."""


class Failure(enum.Enum):
    """An attempt that ended without an answer."""

    REFUSED = "could not connect"
    CONNECT_TIMEOUT = "timed out while connecting"
    TLS = "TLS failure"
    LOST = "connection lost"
    TIMEOUT = "no answer in time"
    BROKEN = "request failed"

    @property
    def sent(self) -> bool:
        """Whether the request may have reached the service."""
        return self in _SENT

    @property
    def retryable(self) -> bool:
        """Whether another attempt can fare better."""
        return self not in _FATAL


_SENT: Final = frozenset({Failure.LOST, Failure.TIMEOUT, Failure.BROKEN})
_FATAL: Final = frozenset({Failure.TLS, Failure.BROKEN})


@attrs.frozen(slots=True)
class Answer:
    """An error answer (status 300 or more)."""

    status: int
    message: str = ""
    """The service's text, as :func:`error_from_response` reads it."""
    retry_after: float | None = None
    """``Retry-After`` in seconds, when the answer carried one."""
    token_rejected: bool = False
    """The 401 "Access token is missing or invalid"."""


Outcome = Answer | Failure


@attrs.frozen(slots=True)
class Attempt:
    """Where a request stands: what the decision needs to know about the attempts before."""

    number: int = 1
    """1-based; a replay with a new token is not a new attempt."""
    replayed: bool = False
    """The one replay after a rejected token has been used."""
    maybe_done: bool = False
    """An earlier attempt may have taken effect although it failed (its answer was lost)."""

    def retried(self, outcome: Outcome) -> Attempt:
        """The attempt after a retry of one that ended with ``outcome``."""
        maybe = outcome.sent if isinstance(outcome, Failure) else outcome.status in MAYBE_PROCESSED
        return Attempt(self.number + 1, self.replayed, self.maybe_done or maybe)

    def replaying(self) -> Attempt:
        """The same attempt, sent once more with a new token."""
        return Attempt(self.number, True, self.maybe_done)


class Action(enum.Enum):
    RETRY = "retry"
    """Wait (``Decision.wait``, else the policy's backoff), then send again."""
    REPLAY = "replay"
    """Renew the token and send again at once; not a retry, and not counted as an attempt."""
    SETTLE = "settle"
    """An earlier attempt took effect: this answer ("already done") counts as success."""
    RAISE = "raise"
    """Raise the outcome's own error."""
    UNKNOWN = "unknown"
    """A create that may have taken effect: raise ``OutcomeUnknownError``, never repeat it."""


@attrs.frozen(slots=True)
class Decision:
    action: Action
    wait: float | None = None
    """For :attr:`Action.RETRY`: the service's ``Retry-After``; None means the policy's backoff."""
    beyond_cap: bool = False
    """For :attr:`Action.RAISE`: a ``Retry-After`` longer than the policy's cap was not waited."""


_RETRY: Final = Decision(Action.RETRY)
_REPLAY: Final = Decision(Action.REPLAY)
_SETTLE: Final = Decision(Action.SETTLE)
_RAISE: Final = Decision(Action.RAISE)
_UNKNOWN: Final = Decision(Action.UNKNOWN)


def decide(
    attempt: Attempt,
    outcome: Outcome,
    nature: Nature,
    policy: RetryPolicy,
    *,
    renewable: bool = False,
    settle: frozenset[str] = frozenset(),
) -> Decision:
    """The action after ``attempt`` ended with ``outcome``.

    ``renewable``: a rejected token can be replaced (the request carried one from a renewable
    source). ``settle``: the messages that mean "already done" for this write, once an earlier
    attempt may have taken effect.
    """
    last = attempt.number >= policy.max_attempts
    if isinstance(outcome, Failure):
        if nature is Nature.CREATE and outcome.sent:
            return _UNKNOWN
        if not outcome.retryable or last:
            return _RAISE
        return _RETRY
    if renewable and outcome.token_rejected and not attempt.replayed:
        return _REPLAY  # rejected before it was processed: safe to send again, creates included
    if attempt.maybe_done and nature is Nature.WRITE and outcome.message in settle:
        return _SETTLE
    if nature is Nature.CREATE:
        return _UNKNOWN if outcome.status in MAYBE_PROCESSED else _RAISE
    if outcome.status not in policy.statuses or last:
        return _RAISE
    if outcome.retry_after is None:
        return _RETRY
    if outcome.retry_after > policy.retry_after_cap:
        return Decision(Action.RAISE, beyond_cap=True)
    return Decision(Action.RETRY, wait=outcome.retry_after)

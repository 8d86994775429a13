"""The request decision as a table: attempt, outcome and nature in, action out; no HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flinkey_async import RetryPolicy
from flinkey_async._decision import (
    Action,
    Answer,
    Attempt,
    Decision,
    Failure,
    Nature,
    Outcome,
    decide,
)

READ, WRITE, CREATE = Nature.READ, Nature.WRITE, Nature.CREATE
RETRY, REPLAY, SETTLE, RAISE, UNKNOWN = (
    Action.RETRY,
    Action.REPLAY,
    Action.SETTLE,
    Action.RAISE,
    Action.UNKNOWN,
)
POLICY = RetryPolicy()  # 4 attempts
FIRST = Attempt()
LAST = Attempt(number=4)
AFTER_LOSS = Attempt(number=2, maybe_done=True)
DONE = "No car can be found for this carId in the given customer scope."
TOKEN_401 = Answer(401, "Unauthorized. Access token is missing or invalid.", token_rejected=True)

# (attempt, outcome, nature, expected action)
FAILURES: list[tuple[Attempt, Failure, Nature, Action]] = [
    # Nothing was sent: every nature may try again, creates included.
    *[(FIRST, f, n, RETRY) for f in (Failure.REFUSED, Failure.CONNECT_TIMEOUT) for n in Nature],
    # Sent, maybe processed: reads and idempotent writes try again, a create never does.
    *[(FIRST, f, n, RETRY) for f in (Failure.LOST, Failure.TIMEOUT) for n in (READ, WRITE)],
    *[(FIRST, f, CREATE, UNKNOWN) for f in (Failure.LOST, Failure.TIMEOUT, Failure.BROKEN)],
    # What another attempt cannot repair.
    *[(FIRST, Failure.TLS, n, RAISE) for n in Nature],
    *[(FIRST, Failure.BROKEN, n, RAISE) for n in (READ, WRITE)],
    # The last attempt raises; a create that may have been processed stays unknown.
    *[(LAST, f, n, RAISE) for f in Failure for n in (READ, WRITE)],
    (LAST, Failure.REFUSED, CREATE, RAISE),
    (LAST, Failure.LOST, CREATE, UNKNOWN),
]


@pytest.mark.parametrize(("attempt", "failure", "nature", "action"), FAILURES)
def test_failures(attempt: Attempt, failure: Failure, nature: Nature, action: Action) -> None:
    decision = decide(attempt, failure, nature, POLICY, renewable=True, settle=frozenset({DONE}))
    assert decision.action is action
    assert decision.wait is None


ANSWERS: list[tuple[str, Attempt, Answer, Nature, dict[str, Any], Decision]] = [
    *[
        (f"{status} {n.value}", FIRST, Answer(status), n, {}, Decision(RETRY))
        for status in (408, 429, 502, 503, 504)
        for n in (READ, WRITE)
    ],
    *[(f"{s} create", FIRST, Answer(s), CREATE, {}, Decision(UNKNOWN)) for s in (408, 502, 504)],
    *[(f"{s} create", FIRST, Answer(s), CREATE, {}, Decision(RAISE)) for s in (429, 503)],
    *[
        (f"{status} {n.value}", FIRST, Answer(status), n, {}, Decision(RAISE))
        for status in (400, 404, 409, 415, 500, 501)
        for n in Nature
    ],
    ("503 on the last attempt", LAST, Answer(503), READ, {}, Decision(RAISE)),
    ("503 with retries off", FIRST, Answer(503), READ, {"policy": RetryPolicy.disabled()},
     Decision(RAISE)),
    ("500 when the policy lists it", FIRST, Answer(500), READ,
     {"policy": RetryPolicy(statuses=frozenset({500}))}, Decision(RETRY)),
    ("503 when the policy does not list it", FIRST, Answer(503), READ,
     {"policy": RetryPolicy(statuses=frozenset({500}))}, Decision(RAISE)),
    # Retry-After: honoured up to the cap (inclusive), beyond it the error surfaces at once.
    ("Retry-After", FIRST, Answer(429, retry_after=7.0), READ, {}, Decision(RETRY, wait=7.0)),
    ("Retry-After 0", FIRST, Answer(503, retry_after=0.0), WRITE, {}, Decision(RETRY, wait=0.0)),
    ("Retry-After at the cap", FIRST, Answer(429, retry_after=60.0), READ, {},
     Decision(RETRY, wait=60.0)),
    ("Retry-After beyond the cap", FIRST, Answer(429, retry_after=86400.0), READ, {},
     Decision(RAISE, beyond_cap=True)),
    ("Retry-After on a create", FIRST, Answer(503, retry_after=1.0), CREATE, {}, Decision(RAISE)),
    # The one replay with a new token: creates included, not bounded by the attempts.
    *[(f"401 {n.value}", FIRST, TOKEN_401, n, {}, Decision(REPLAY)) for n in Nature],
    ("401 on the last attempt", LAST, TOKEN_401, READ, {}, Decision(REPLAY)),
    ("401 with retries off", FIRST, TOKEN_401, READ, {"policy": RetryPolicy.disabled()},
     Decision(REPLAY)),
    ("401 after the replay", Attempt(replayed=True), TOKEN_401, READ, {}, Decision(RAISE)),
    ("401 with a static token", FIRST, TOKEN_401, READ, {"renewable": False}, Decision(RAISE)),
    ("401 about the key", FIRST, Answer(401, "Access denied due to invalid subscription key."),
     READ, {}, Decision(RAISE)),
    # "Already done" counts as success only after an attempt that may have taken effect.
    ("settled after a loss", AFTER_LOSS, Answer(404, DONE), WRITE, {}, Decision(SETTLE)),
    ("not settled without a loss", Attempt(number=2), Answer(404, DONE), WRITE, {},
     Decision(RAISE)),
    ("not settled on another message", AFTER_LOSS, Answer(404, "Unable to find"), WRITE, {},
     Decision(RAISE)),
    ("not settled without messages", AFTER_LOSS, Answer(404, DONE), WRITE,
     {"settle": frozenset()}, Decision(RAISE)),
    ("a read is never settled", AFTER_LOSS, Answer(404, DONE), READ, {}, Decision(RAISE)),
    ("settled on the last attempt", Attempt(number=4, maybe_done=True), Answer(409, DONE), WRITE,
     {}, Decision(SETTLE)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("attempt", "answer", "nature", "options", "expected"),
    [case[1:] for case in ANSWERS],
    ids=[case[0] for case in ANSWERS],
)
def test_answers(
    attempt: Attempt, answer: Answer, nature: Nature, options: dict[str, Any], expected: Decision
) -> None:
    settings: dict[str, Any] = {"policy": POLICY, "renewable": True, "settle": frozenset({DONE})}
    settings.update(options)
    policy = settings.pop("policy")
    assert decide(attempt, answer, nature, policy, **settings) == expected


def test_the_next_attempt() -> None:
    assert FIRST.retried(Failure.REFUSED) == Attempt(number=2)
    assert FIRST.retried(Failure.LOST) == Attempt(number=2, maybe_done=True)
    assert FIRST.retried(Failure.TIMEOUT) == Attempt(number=2, maybe_done=True)
    assert FIRST.retried(Answer(502)) == Attempt(number=2, maybe_done=True)
    assert FIRST.retried(Answer(503)) == Attempt(number=2)
    assert FIRST.retried(Answer(429)) == Attempt(number=2)
    # A loss is remembered through later attempts; a replay is not an attempt.
    assert AFTER_LOSS.retried(Answer(503)) == Attempt(number=3, maybe_done=True)
    assert AFTER_LOSS.replaying() == Attempt(number=2, replayed=True, maybe_done=True)
    assert Attempt(replayed=True).retried(Failure.REFUSED).replayed


OUTCOMES = st.one_of(
    st.sampled_from(list(Failure)),
    st.builds(
        Answer,
        status=st.sampled_from([400, 401, 404, 408, 409, 429, 500, 502, 503, 504]),
        message=st.sampled_from(["", DONE]),
        retry_after=st.none() | st.floats(0, 100),
        token_rejected=st.booleans(),
    ),
)


@given(
    outcomes=st.lists(OUTCOMES, min_size=12, max_size=12),
    nature=st.sampled_from(list(Nature)),
    attempts=st.integers(1, 6),
    enabled=st.booleans(),
    renewable=st.booleans(),
)
def test_every_request_is_bounded(
    outcomes: list[Outcome], nature: Nature, attempts: int, enabled: bool, renewable: bool
) -> None:
    """Whatever comes back: at most ``attempts`` attempts and one replay, and a create that may
    have reached the service is never sent again."""
    policy = RetryPolicy(attempts=attempts, enabled=enabled)
    attempt = FIRST
    sent = replays = 0
    for outcome in outcomes:
        sent += 1
        decision = decide(attempt, outcome, nature, policy, renewable=renewable,
                          settle=frozenset({DONE}))  # fmt: skip
        if nature is Nature.CREATE and decision.action in (RETRY, REPLAY):
            assert (isinstance(outcome, Failure) and not outcome.sent) or (
                isinstance(outcome, Answer) and outcome.token_rejected
            )
        if decision.action is RETRY:
            attempt = attempt.retried(outcome)
        elif decision.action is REPLAY:
            replays += 1
            attempt = attempt.replaying()
        else:
            break
    else:
        pytest.fail("the decision never ended the request")
    assert replays <= (1 if renewable else 0)
    assert sent - replays <= (attempts if enabled else 1)

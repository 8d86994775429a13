"""The gate every sandbox endpoint runs through, in the order a real API gateway and service
check things:

1. ``flinkey-API-Key``: missing or wrong -> 401 JSON, key message (the gateway answers first);
2. bearer token: missing, malformed, wrongly signed, expired or revoked -> 401 JSON, token
   message;
3. ``Content-Type`` of a request with a body: not ``application/json`` -> 415 problem JSON;
4. ``Customer-ID``: missing, not an integer, or not a customer of this API Manager -> 404
   "Unable to find a manager for the given OAuth ID claim data.";
5. faults (latency, 500, 503, 429, connection reset before processing, handler crash);
6. the handler, whose own 400/404/409 answers come from :mod:`flinkey_async._messages`;
7. after-processing faults (reset after processing, truncated body).

Ids in the path and ``Customer-ID`` are bound as ASP.NET binds an ``int`` (:func:`parse_int32`);
an id that does not bind matches no route. An exception a handler does not expect becomes
``500 Internal server error.`` (plain text); a client that goes away mid-request is a debug
line, since nobody can be answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import struct
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web

from .. import _messages as messages
from .._api import Scope
from ._auth import Credentials, TokenAuthority
from ._faults import PRE_KINDS, Counters, Decision, FaultKind, Faults
from ._replies import (
    SandboxMessages,
    _fail,
    _InjectedCrash,
    _internal_error,
    _json,
    _not_found,
    _Reply,
    _text,
    _unauthorized,
    _unsupported_media_type,
    logger,
    parse_int32,
)
from ._state import SandboxState

__all__ = ["Handler"]

Handler = Callable[[web.Request, int], Awaitable[web.Response]]

_PARAM: Final = re.compile(r"\{(\w+)\}")


class _Gate:
    """What the handlers share, and the gate around each of them."""

    def __init__(
        self,
        *,
        state: SandboxState,
        credentials: Credentials,
        authority: TokenAuthority,
        faults: Faults,
        counters: Counters,
    ) -> None:
        self.state = state
        self.credentials = credentials
        self.authority = authority
        self.faults = faults
        self.counters = counters

    # -- the gate --------------------------------------------------------------------------

    def _admit(self, request: web.Request, scope: Scope, has_body: bool) -> int:
        """Check key, token, content type and customer, in that order; the customer id."""
        headers = request.headers
        if not self.credentials.api_key_matches(headers.get("flinkey-API-Key")):
            raise _Reply(_unauthorized(messages.INVALID_API_KEY))
        if scope == "token":
            if self.faults.config.token_outage:
                raise _fail(503, SandboxMessages.SERVICE_UNAVAILABLE)
            return 0
        authorization = headers.get("Authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not self.authority.verify(token.strip()):
            raise _Reply(_unauthorized(messages.INVALID_TOKEN))
        if has_body and request.content_type != "application/json":
            raise _Reply(_unsupported_media_type())
        if scope == "manager":
            return 0
        customer_id = parse_int32(headers.get("Customer-ID", ""))
        if customer_id is None or self.state.customer(customer_id) is None:
            raise _fail(404, messages.MANAGER_NOT_FOUND)
        return customer_id

    def endpoint(
        self, route: str, handler: Handler, scope: Scope, has_body: bool
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        counters = self.counters
        faults = self.faults
        id_names = tuple(name for name in _PARAM.findall(route) if name.endswith("Id"))

        async def serve(request: web.Request) -> web.StreamResponse:
            match_info = request.match_info
            for name in id_names:
                if parse_int32(match_info[name]) is None:
                    return _not_found()  # as if no route matched: what a {id:int} route does
            counters.requests[route] += 1
            decision: Decision | None = None
            response: web.Response | None
            try:
                customer_id = self._admit(request, scope, has_body)
                decision = faults.before(route)
                if decision.delay:
                    counters.faults[(route, FaultKind.LATENCY.value)] += 1
                    await asyncio.sleep(decision.delay)
                if decision.kind is not None and decision.kind in PRE_KINDS:
                    counters.faults[(route, decision.kind.value)] += 1
                    response = self._pre_fault(route, decision)
                else:
                    response = await handler(request, customer_id)
            except _Reply as reply:
                response = reply.response
            except web.HTTPException as exc:  # aiohttp's own answers, e.g. 413 for a huge body
                counters.responses[(route, exc.status)] += 1
                raise
            except _InjectedCrash:
                logger.info("%s: injected handler failure, answering 500", route)
                response = _internal_error()
            except ConnectionError as exc:  # the client went away while the body was read
                logger.debug("%s: the client disconnected (%s)", route, exc)
                counters.responses[(route, 0)] += 1
                return web.Response(status=499)  # nobody to send it to: aiohttp drops it
            except Exception:
                logger.exception("%s: unexpected failure, answering 500", route)
                response = _internal_error()
            if response is None:  # reset before processing
                return self._reset(request, route)
            body = response.body
            if decision is not None:
                late = faults.after(route, decision, has_body=bool(body))
                if late is not None:
                    counters.faults[(route, late.value)] += 1
                    if late is FaultKind.RESET_AFTER:
                        return self._reset(request, route)
                    if isinstance(body, bytes):
                        counters.responses[(route, response.status)] += 1
                        return await self._truncated(request, response, body)
            counters.responses[(route, response.status)] += 1
            return response

        return serve

    def _pre_fault(self, route: str, decision: Decision) -> web.Response | None:
        """The answer of a fault that strikes before processing; None for a reset."""
        kind = decision.kind
        if kind is FaultKind.ERROR_500:
            return _internal_error()
        if kind is FaultKind.ERROR_503:
            return _text(503, SandboxMessages.SERVICE_UNAVAILABLE)
        if kind is FaultKind.RATE_LIMIT:
            seconds = decision.retry_after
            message = SandboxMessages.RATE_LIMITED.format(seconds=seconds)
            return _json(
                429, {"statusCode": 429, "message": message}, {"Retry-After": str(seconds)}
            )
        if kind is FaultKind.CRASH:
            raise _InjectedCrash(f"injected failure in {route}")
        return None

    def _reset(self, request: web.Request, route: str) -> web.StreamResponse:
        """Cut the connection without an answer (a TCP reset where the platform allows)."""
        self.counters.responses[(route, 0)] += 1
        transport = request.transport
        if transport is not None:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):  # platform dependent
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        # aiohttp cannot write this on the closed transport; it drops it quietly.
        return web.Response(status=500)

    async def _truncated(
        self, request: web.Request, response: web.Response, body: bytes
    ) -> web.StreamResponse:
        """Announce the full length, send half of the body, close the connection."""
        stream = web.StreamResponse(status=response.status)
        content_type = response.headers.get("Content-Type")
        if content_type is not None:
            stream.headers["Content-Type"] = content_type
        stream.content_length = len(body)
        await stream.prepare(request)
        await stream.write(body[: len(body) // 2])
        transport = request.transport
        if transport is not None:
            transport.close()  # flushes what was written, then closes
        return stream

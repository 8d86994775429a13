"""A raw HTTP/1.1 server on loopback that answers or resets each request, by a plan.

aiohttp's own server cannot be told to reset a kept-alive connection at a chosen request and count
exactly what reached it; a few lines over ``asyncio.start_server`` can. Every request that arrives
is recorded (method, path, monotonic time) before the plan decides: ``"answer"`` sends a 2xx with
a small JSON body and keeps the connection alive, ``"reset"`` aborts the connection with a TCP RST
(``SO_LINGER`` 0) without answering, ``"close"`` closes it without answering.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

from .fake_secrets import TOKEN_PREFIX

Plan = Callable[[int, str, str], str]
"""(0-based number of the request, method, path) -> "answer" | "reset" | "close"."""


def always(action: str) -> Plan:
    return lambda number, method, path: action


def every_other(action: str) -> Plan:
    """The 1st, 3rd, 5th ... request gets ``action``; the others are answered."""
    return lambda number, method, path: action if number % 2 == 0 else "answer"


def first_of_each_path(action: str) -> Plan:
    """The first request to each path gets ``action``; the later ones are answered."""
    seen: set[str] = set()

    def plan(number: int, method: str, path: str) -> str:
        if path in seen:
            return "answer"
        seen.add(path)
        return action

    return plan


class ResettingServer:
    """``async with ResettingServer(plan) as server:`` then ``base_url=server.base_url``."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.received: list[tuple[str, str, float]] = []
        self.created = 0
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> ResettingServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v3"

    def count(self, method: str, path: str) -> int:
        return sum(1 for m, p, _ in self.received if m == method and p == "/v3" + path)

    def times(self) -> list[float]:
        return [when for _, _, when in self.received]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                if length:
                    await reader.readexactly(length)
                number = len(self.received)
                self.received.append((method, path, time.monotonic()))
                action = self.plan(number, method, path)
                if action == "reset":
                    sock = writer.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    writer.transport.abort()
                    return
                if action == "close":
                    writer.close()
                    return
                status, body = self._answer(method, path)
                payload = json.dumps(body).encode() if body is not None else b""
                writer.write(
                    f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(payload)}\r\n\r\n".encode()
                    + payload
                )
                await writer.drain()
        finally:
            writer.close()
            self._connections.discard(task)

    def _answer(self, method: str, path: str) -> tuple[int, Any]:
        if path.endswith("/oauth2/token"):
            return 200, {
                "token_type": "Bearer",
                "expires_in": "3600",
                "access_token": f"{TOKEN_PREFIX}reset",
            }
        if method == "PUT" and path in ("/v3/cars", "/v3/groups"):
            self.created += 1
            return 201, {"id": 100 + self.created}
        if method == "GET" and path.startswith("/v3/cars/"):
            return 200, {"id": int(path.rsplit("/", 1)[1]), "name": "Golf"}
        if method == "GET":
            return 200, []
        return 204, None

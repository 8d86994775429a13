"""Raw HTTP access to a sandbox: the documented headers, a token, and the answer as bytes."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from typing import Any

import aiohttp
import attrs

from flinkey_async.sandbox import Sandbox

_MISSING: Any = object()


@attrs.frozen
class Reply:
    """One answer: status, content type and body bytes."""

    status: int
    content_type: str
    body: bytes
    headers: dict[str, str]

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.body)


class Api:
    """Sends requests the way the pages describe them, with everything overridable."""

    def __init__(self, sandbox: Sandbox, session: aiohttp.ClientSession) -> None:
        self.sandbox = sandbox
        self.session = session
        self._token: str | None = None

    async def token(self, *, fresh: bool = False) -> str:
        if self._token is None or fresh:
            reply = await self.request_token()
            assert reply.status == 200, reply.text
            self._token = reply.json()["access_token"]
        return self._token

    async def request_token(
        self,
        *,
        username: str | None = None,
        password: str | None = None,
        grant_type: str = "password",
        api_key: str | None = None,
    ) -> Reply:
        form = {
            "grant_type": grant_type,
            "username": self.sandbox.username if username is None else username,
            "password": self.sandbox.password if password is None else password,
        }
        headers = {"flinkey-API-Key": self.sandbox.api_key if api_key is None else api_key}
        async with self.session.post(
            self.sandbox.url("/oauth2/token"), data=form, headers=headers
        ) as response:
            return await _reply(response)

    async def call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = _MISSING,
        raw_body: bytes | None = None,
        content_type: str | None = None,
        customer_id: int | str | None = None,
        api_key: str | None = None,
        token: str | None = None,
        authorization: str | None = None,
        omit: tuple[str, ...] = (),
        params: dict[str, str] | None = None,
    ) -> Reply:
        """One request with the documented headers; ``omit`` drops headers by name."""
        headers = {
            "flinkey-API-Key": self.sandbox.api_key if api_key is None else api_key,
            "Authorization": authorization
            if authorization is not None
            else f"Bearer {token if token is not None else await self.token()}",
            "Customer-ID": str(self.sandbox.customer_id if customer_id is None else customer_id),
        }
        body: bytes | None = raw_body
        if json_body is not _MISSING:
            body = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        if content_type is not None:
            headers["Content-Type"] = content_type
        for name in omit:
            headers.pop(name, None)
        url = self.sandbox.url(path)
        async with self.session.request(
            method, url, data=body, headers=headers, params=params
        ) as response:
            return await _reply(response)

    async def get(self, path: str, **kwargs: Any) -> Reply:
        return await self.call("GET", path, **kwargs)


async def _reply(response: aiohttp.ClientResponse) -> Reply:
    body = await response.read()
    return Reply(
        status=response.status,
        content_type=response.headers.get("Content-Type", ""),
        body=body,
        headers=dict(response.headers),
    )


async def raw_exchange(sandbox: Sandbox, request: bytes) -> tuple[bytes, BaseException | None]:
    """Send bytes on a fresh TCP connection; everything that came back, and how it ended."""
    reader, writer = await asyncio.open_connection("127.0.0.1", sandbox.port)
    received = b""
    ending: BaseException | None = None
    try:
        writer.write(request)
        await writer.drain()
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                break
            received += chunk
    except ConnectionError as exc:
        ending = exc
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return received, ending


def http_request(
    sandbox: Sandbox,
    method: str,
    path: str,
    headers: Mapping[str, str | bytes],
    body: bytes = b"",
) -> bytes:
    """An HTTP/1.1 request as bytes, closing the connection after the answer.

    A header value given as bytes is sent as it is (bytes that are not UTF-8, for example).
    """
    lines = [f"{method} /v3{path} HTTP/1.1".encode(), f"Host: 127.0.0.1:{sandbox.port}".encode()]
    for name, value in headers.items():
        lines.append(
            name.encode() + b": " + (value if isinstance(value, bytes) else value.encode())
        )
    lines += [f"Content-Length: {len(body)}".encode(), b"Connection: close", b"", b""]
    return b"\r\n".join(lines) + body


def parse_reply(received: bytes) -> Reply:
    """The answer in what ``raw_exchange`` received (one answer, the connection then closed)."""
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in header_lines)
    return Reply(
        status=int(status_line.split(" ")[1]),
        content_type=headers.get("Content-Type", ""),
        body=body,
        headers=headers,
    )

"""A small flinkey-like server on loopback for the client's timing, concurrency and failure tests.

It is deliberately not the project's sandbox: these tests need knobs the real service does not
have (drop the connection after a create, answer a scripted status, hold a request open) and
counters of exactly what arrived.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
from aiohttp import web
from aiohttp.test_utils import TestServer

from flinkey_async import _messages as messages

from .fake_secrets import API_KEY, PASSWORD, TOKEN_PREFIX, USERNAME


@attrs.define
class Scripted:
    """One canned answer, used once, before the normal handling."""

    status: int
    body: Any = ""
    headers: dict[str, str] = attrs.Factory(dict)

    def response(self) -> web.Response:
        if isinstance(self.body, (dict, list)):
            return web.json_response(self.body, status=self.status, headers=self.headers)
        return web.Response(status=self.status, text=self.body, headers=self.headers)


def token_401() -> Scripted:
    return Scripted(401, {"statusCode": 401, "message": messages.INVALID_TOKEN})


class FakeAPI:
    """``async with FakeAPI() as api:`` then ``FlinkeyClient(base_url=api.base_url, ...)``."""

    def __init__(
        self,
        *,
        token_ttl: float | str = "3600",
        token_delay: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token_ttl = token_ttl
        self.clock = clock
        """What token lifetimes are measured on (a test shares a fake one with the client)."""
        self.token_delay = token_delay
        self.tokens: dict[str, float] = {}  # token -> expiry (monotonic)
        self.token_requests = 0
        self.token_forms: list[dict[str, str]] = []
        self.hits: Counter[tuple[str, str]] = Counter()  # (method, path) -> requests
        self.arrivals: list[tuple[str, str, float]] = []  # (method, path_qs, monotonic time)
        self.rejected = 0  # 401s answered for an unknown or expired token
        self.cars: dict[int, dict[str, Any]] = {
            1: {
                "id": 1,
                "name": "Golf",
                "description": None,
                "vin": "WVWZZZ1JZXW000001",
                "licensePlate": "B-FL 1",
                "brand": "VW",
                "model": "Golf",
            },
        }
        self.groups: dict[int, dict[str, Any]] = {}
        self.members: set[tuple[int, str, int]] = set()
        self.script: dict[tuple[str, str], deque[Scripted]] = {}
        # (method, path) -> "close" | "abort": the next such request is processed, then its
        # connection is dropped before the answer is sent (once).
        self.drop_after: dict[tuple[str, str], str] = {}
        # (method, path) -> status: the next such request is processed, then a gateway answers
        # with this status instead (once).
        self.gateway_after: dict[tuple[str, str], int] = {}
        self.hold: dict[tuple[str, str], asyncio.Event] = {}
        self.delay: dict[tuple[str, str], float] = {}
        self.seen_headers: list[dict[str, str]] = []
        self._ids = itertools.count(100)
        self._token_ids = itertools.count(1)
        self._server: TestServer | None = None

    async def __aenter__(self) -> FakeAPI:
        app = web.Application(middlewares=[self._gate])
        r = app.router
        r.add_post("/v3/oauth2/token", self._token)
        r.add_get("/v3/cars", self._list_cars)
        r.add_put("/v3/cars", self._create_car)
        r.add_get("/v3/cars/{id}", self._get_car)
        r.add_delete("/v3/cars/{id}", self._delete_car)
        r.add_get("/v3/groups", self._list_groups)
        r.add_put("/v3/groups", self._create_group)
        r.add_put("/v3/groups/{id}/cars", self._add_car)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for event in self.hold.values():
            event.set()
        assert self._server is not None
        await self._server.close()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return str(self._server.make_url("/v3"))

    @property
    def origin(self) -> str:
        assert self._server is not None
        return str(self._server.make_url(""))

    def then(self, method: str, path: str, *answers: Scripted) -> None:
        """Answer the next requests to ``method path`` with these, in order."""
        self.script.setdefault((method, "/v3" + path), deque()).extend(answers)

    def count(self, method: str, path: str) -> int:
        return self.hits[(method, "/v3" + path)]

    # -- middleware: counting, scripting, authentication, faults --------------------------------

    @web.middleware
    async def _gate(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        key = (request.method, request.path)
        self.hits[key] += 1
        self.arrivals.append((request.method, request.path_qs, time.monotonic()))
        self.seen_headers.append(dict(request.headers))
        if key in self.hold:
            await self.hold[key].wait()
        queue = self.script.get(key)
        if queue:
            return queue.popleft().response()
        if request.headers.get("flinkey-API-Key") != API_KEY:
            return web.json_response(
                {"statusCode": 401, "message": messages.INVALID_API_KEY}, status=401
            )
        if request.path != "/v3/oauth2/token":
            auth = request.headers.get("Authorization", "")
            token = auth.removeprefix("Bearer ")
            expiry = self.tokens.get(token)
            if not auth.startswith("Bearer ") or expiry is None or self.clock() >= expiry:
                self.rejected += 1
                return web.json_response(
                    {"statusCode": 401, "message": messages.INVALID_TOKEN}, status=401
                )
        response = await handler(request)
        if key in self.delay:
            # The work is done; the answer is late.
            await asyncio.sleep(self.delay[key])
        gateway_status = self.gateway_after.pop(key, None)
        if gateway_status is not None:
            return web.Response(status=gateway_status, text="Gateway answer")
        mode = self.drop_after.pop(key, None)
        if mode is not None and request.transport is not None:
            # The work is done; the answer never arrives.
            if mode == "abort":
                request.transport.abort()
            else:
                request.transport.close()
        return response

    # -- handlers --------------------------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.Response:
        self.token_requests += 1
        form = dict(await request.post())
        self.token_forms.append({k: str(v) for k, v in form.items()})
        if self.token_delay:
            await asyncio.sleep(self.token_delay)
        if (
            form.get("grant_type") != "password"
            or form.get("username") != USERNAME
            or form.get("password") != PASSWORD
        ):
            return web.json_response(
                {
                    "error": "invalid_grant",
                    "error_description": "The user name or password is incorrect.",
                },
                status=400,
            )
        token = f"{TOKEN_PREFIX}{next(self._token_ids)}"
        self.tokens[token] = self.clock() + float(self.token_ttl)
        return web.json_response(
            {"token_type": "Bearer", "expires_in": self.token_ttl, "access_token": token}
        )

    async def _list_cars(self, request: web.Request) -> web.Response:
        return web.json_response(list(self.cars.values()))

    async def _get_car(self, request: web.Request) -> web.Response:
        car = self.cars.get(int(request.match_info["id"]))
        if car is None:
            return web.Response(status=404, text=messages.CAR_NOT_FOUND)
        return web.json_response(car)

    async def _create_car(self, request: web.Request) -> web.Response:
        body = await request.json()
        if not body.get("name"):
            return web.Response(status=400, text=messages.CAR_NAME_MISSING)
        new_id = next(self._ids)
        self.cars[new_id] = {
            "id": new_id,
            "name": body["name"],
            "description": body.get("description"),
            "vin": body.get("vin"),
            "licensePlate": body.get("licensePlate"),
            "brand": body.get("brand"),
            "model": body.get("model"),
        }
        return web.json_response({"id": new_id}, status=201)

    async def _delete_car(self, request: web.Request) -> web.Response:
        if self.cars.pop(int(request.match_info["id"]), None) is None:
            return web.Response(status=404, text=messages.CAR_NOT_ASSIGNED)
        return web.Response(status=204)

    async def _list_groups(self, request: web.Request) -> web.Response:
        return web.json_response(list(self.groups.values()))

    async def _create_group(self, request: web.Request) -> web.Response:
        body = await request.json()
        name = body.get("name")
        if not name:
            return web.Response(status=400, text=messages.GROUP_NAME_MISSING)
        if any(group["name"] == name for group in self.groups.values()):
            return web.Response(status=409, text=messages.GROUP_NAME_TAKEN)
        new_id = next(self._ids)
        self.groups[new_id] = {"id": new_id, "name": name}
        return web.json_response({"id": new_id}, status=201)

    async def _add_car(self, request: web.Request) -> web.Response:
        group_id = int(request.match_info["id"])
        car_id = (await request.json())["carId"]
        if group_id not in self.groups:
            return web.Response(status=404, text=messages.GROUP_NOT_FOUND)
        member = (group_id, "car", car_id)
        if member in self.members:
            return web.Response(status=409, text=messages.CAR_ALREADY_IN_GROUP)
        self.members.add(member)
        return web.Response(status=204)

"""Fixtures of the end-to-end suite: a small sandbox per test, clients logged in to it, and the ids
a test needs, read from the sandbox's ground truth.

Every test here goes over real loopback HTTP through ``FlinkeyClient``. What a test expects comes
from ``sb.state`` (what the sandbox serves) and ``sb.counters`` (what it saw), never from the
client's own view of things.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import aiohttp
import attrs
import pytest
from client.fake_secrets import API_KEY, PASSWORD, USERNAME

from flinkey_async import FlinkeyClient, ProductType, RetryPolicy
from flinkey_async.sandbox import MemberKind, Sandbox

FAST_RETRY = RetryPolicy(attempts=4, backoff_base=0.01, backoff_max=0.05)
"""Real retries with short waits, so that fault tests stay fast."""

MISSING_ID = 999_999
"""An id no entity of any kind has in a small sandbox (cars start at 10001, products at 50001,
services at 80001, users at 2001, groups at 301)."""

FLEET: dict[str, Any] = {
    "cars": 12,
    "seed": 7,
    "api_key": API_KEY,
    "username": USERNAME,
    "password": PASSWORD,
}
"""Small: two customers with 12 cars, 20 products, 3 groups and 6 users each. The credentials are
the suite's distinctive fake secrets, so that ``tests/conftest.py`` also watches every log line
and error text of this suite for them."""


@attrs.frozen
class World:
    """Ids of entities with the properties the tests need, for customer ``cid`` (and ``other``).

    Found in the generated fleet; what a small fleet happens to lack is added through
    ``sb.state`` (as an edit made in the flinkey Portal would be), before any request is sent.
    """

    cid: int
    other: int
    car: int
    """A car with a flinkey Box and a flinkey IQ, and a recorded history."""
    bare_car: int
    """A car without products."""
    product: int
    """A product that has a service and sits in a car."""
    product_no_service: int
    product_no_car: int
    dated_product: int
    """A product with a ``dongleTerminationTimeStamp``."""
    group: int
    """A group with members of all four kinds."""
    group_name: str
    empty_group: int
    group_car: int
    group_user: int
    group_service: int
    group_product: int
    user: int
    service: int
    other_car: int
    other_product: int
    other_group: int
    other_user: int
    other_service: int

    @classmethod
    def of(cls, sb: Sandbox) -> World:
        state = sb.state
        cid, other = sb.customer_ids[0], sb.customer_ids[1]

        def kinds(car_id: int) -> set[ProductType]:
            return {p.type for p in state.products_of_car(cid, car_id)}

        car = next(
            c.id
            for c in state.cars(cid)
            if kinds(c.id) == {ProductType.BOX, ProductType.IQ} and state.positions(cid, c.id)
        )
        bare = [c.id for c in state.cars(cid) if not state.products_of_car(cid, c.id)]
        bare_car = bare[0] if bare else state.add_car(cid, "Spare without products").id

        products = state.products(cid)
        product = next(
            p.id
            for p in products
            if state.service_of_product(cid, p.id) is not None
            and state.car_of_product(cid, p.id) is not None
        )
        no_service = [p.id for p in products if state.service_of_product(cid, p.id) is None]
        no_car = [p.id for p in products if state.car_of_product(cid, p.id) is None]
        dated = [p.id for p in products if p.dongle_termination_time_stamp is not None]
        serial = len(products)

        def new_product(**extra: Any) -> int:
            return state.add_product(
                cid,
                ProductType.BOX,
                unique_id=f"E2E-{serial}-{len(extra)}",
                serial_number=f"E2E-SN-{serial}-{len(extra)}",
                sap_number="E2E-SAP",
                **extra,
            ).id

        product_no_service = no_service[0] if no_service else new_product()
        product_no_car = no_car[0] if no_car else new_product()

        groups = state.groups(cid)
        full = [g.id for g in groups if all(state.member_ids(cid, g.id, kind) for kind in _KINDS)]
        empty = [g.id for g in groups if not state.group_has_members(cid, g.id)]
        assert full, "the fleet has no group with members of every kind"
        assert empty, "the fleet has no empty group"
        group = full[0]
        group_name = next(g.name for g in groups if g.id == group)

        others = {
            "other_car": state.cars(other)[0].id,
            "other_product": state.products(other)[0].id,
            "other_group": state.groups(other)[0].id,
            "other_user": state.users(other)[0].id,
            "other_service": state.services(other)[0].id,
        }
        return cls(
            cid=cid,
            other=other,
            car=car,
            bare_car=bare_car,
            product=product,
            product_no_service=product_no_service,
            product_no_car=product_no_car,
            dated_product=dated[0] if dated else product,
            group=group,
            group_name=group_name,
            empty_group=empty[0],
            group_car=state.member_ids(cid, group, "cars")[0],
            group_user=state.member_ids(cid, group, "users")[0],
            group_service=state.member_ids(cid, group, "services")[0],
            group_product=state.member_ids(cid, group, "products")[0],
            user=state.users(cid)[0].id,
            service=state.services(cid)[0].id,
            **others,
        )


_KINDS: tuple[MemberKind, ...] = ("cars", "users", "services", "products")


class Stack:
    """Extra clients and caller-owned sessions of one test, closed at its end (clients first)."""

    def __init__(self, sb: Sandbox, stack: contextlib.AsyncExitStack) -> None:
        self.sb = sb
        self._stack = stack

    async def client(self, **overrides: Any) -> FlinkeyClient:
        """A client for the sandbox's first customer; ``overrides`` replace its arguments.

        ``token=`` drops the user name and password (a caller-held token).
        """
        settings: dict[str, Any] = {**self.sb.client_kwargs(), "retry": FAST_RETRY}
        if "token" in overrides:
            settings.pop("username")
            settings.pop("password")
        settings.update(overrides)
        return await self._stack.enter_async_context(FlinkeyClient(**settings))

    async def session(
        self, *, middlewares: Sequence[aiohttp.ClientMiddlewareType] = (), **options: Any
    ) -> aiohttp.ClientSession:
        """A session the test owns (to lend to a client); closed after the clients."""
        session = aiohttp.ClientSession(middlewares=tuple(middlewares), **options)
        return await self._stack.enter_async_context(session)


@pytest.fixture
async def sb() -> AsyncIterator[Sandbox]:
    async with Sandbox(**FLEET) as sandbox:
        yield sandbox


@pytest.fixture
def world(sb: Sandbox) -> World:
    return World.of(sb)


@pytest.fixture
async def client(sb: Sandbox, world: World) -> AsyncIterator[FlinkeyClient]:
    """The first customer's client (after ``world``, so that its edits precede every request)."""
    async with FlinkeyClient(**sb.client_kwargs(), retry=FAST_RETRY) as flinkey:
        yield flinkey


@pytest.fixture
async def stack(sb: Sandbox) -> AsyncIterator[Stack]:
    async with contextlib.AsyncExitStack() as exits:
        yield Stack(sb, exits)

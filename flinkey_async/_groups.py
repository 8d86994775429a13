"""``client.groups``: named sets of cars, users, services and products."""

from __future__ import annotations

import builtins
import logging
from typing import TypeVar

from . import _messages as messages
from ._exceptions import FlinkeyError, OutcomeUnknownError
from ._models import Car, CreatedId, Group, Product, Service, User
from ._transport import Transport
from ._validation import check_group_name, check_id

__all__ = ["GroupsResource"]

_log = logging.getLogger(__name__)

T = TypeVar("T")

# (URL segment, body key) of each member kind, and the answers that mean "already done" when an
# earlier attempt's answer was lost (see Transport.send).
_MEMBERS: dict[str, tuple[str, str, frozenset[str], frozenset[str]]] = {
    "car": (
        "cars",
        "carId",
        frozenset({messages.CAR_ALREADY_IN_GROUP}),
        frozenset({messages.CAR_NOT_IN_GROUP}),
    ),
    "user": (
        "users",
        "userId",
        frozenset({messages.USER_ALREADY_IN_GROUP}),
        frozenset({messages.USER_NOT_IN_GROUP}),
    ),
    "service": (
        "services",
        "serviceId",
        frozenset({messages.SERVICE_ALREADY_IN_GROUP}),
        frozenset({messages.SERVICE_NOT_IN_GROUP}),
    ),
    "product": (
        "products",
        "productId",
        frozenset({messages.PRODUCT_ALREADY_IN_GROUP}),
        frozenset({messages.PRODUCT_NOT_IN_GROUP}),
    ),
}
_DELETED = frozenset({messages.GROUP_NOT_FOUND})


class GroupsResource:
    """The sixteen group endpoints (none of them takes OData)."""

    __slots__ = ("_t", "_url")

    def __init__(self, transport: Transport) -> None:
        self._t = transport
        self._url = transport.url("groups")

    def __repr__(self) -> str:
        return f"GroupsResource({self._t!r})"

    # -- reading ---------------------------------------------------------------------------------

    async def list(self, *, customer_id: int | None = None) -> builtins.list[Group]:
        """``GET /groups``."""
        t = self._t
        return await t.get_list(self._url, Group, t.customer(customer_id))

    async def cars(self, group_id: int, *, customer_id: int | None = None) -> builtins.list[Car]:
        """``GET /groups/{groupId}/cars``."""
        return await self._members(group_id, "cars", Car, customer_id)

    async def users(self, group_id: int, *, customer_id: int | None = None) -> builtins.list[User]:
        """``GET /groups/{groupId}/users``."""
        return await self._members(group_id, "users", User, customer_id)

    async def services(
        self, group_id: int, *, customer_id: int | None = None
    ) -> builtins.list[Service]:
        """``GET /groups/{groupId}/services``."""
        return await self._members(group_id, "services", Service, customer_id)

    async def products(
        self, group_id: int, *, customer_id: int | None = None
    ) -> builtins.list[Product]:
        """``GET /groups/{groupId}/products``."""
        return await self._members(group_id, "products", Product, customer_id)

    async def _members(
        self, group_id: int, segment: str, cls: type[T], customer_id: int | None
    ) -> builtins.list[T]:
        t = self._t
        url = t.url("groups", check_id("group_id", group_id), segment)
        return await t.get_list(url, cls, t.customer(customer_id))

    # -- the group itself ------------------------------------------------------------------------

    async def create(
        self, name: str, *, customer_id: int | None = None, settle: bool = False
    ) -> int:
        """``PUT /groups``: create a group and return its id.

        A create is never repeated once it may have reached the service. If the connection breaks
        after sending, or a gateway answers 408/502/504, the outcome is unknown and
        :class:`~flinkey_async.OutcomeUnknownError` is raised.

        ``settle=True`` settles such an outcome by the group's name, which is unique: the groups
        are listed before the request and again after the failure, and a group with this name
        that was not there before is the one created (its id is returned, with a warning in the
        log).
        """
        name = check_group_name(name)
        t = self._t
        customer = t.customer(customer_id)
        before = await self._named(name, customer) if settle else None
        try:
            payload = await t.send(
                "PUT", self._url, customer=customer, json={"name": name}, create=True
            )
        except OutcomeUnknownError as exc:
            if before is None:
                raise
            return await self._settle(exc, name, before, customer)
        return t.decode(payload, CreatedId, "PUT", self._url).id

    async def _named(self, name: str, customer: str) -> set[int]:
        return {group.id for group in await self._t.get_list(self._url, Group, customer)
                if group.name == name}  # fmt: skip

    async def _settle(
        self, unknown: OutcomeUnknownError, name: str, before: set[int], customer: str
    ) -> int:
        try:
            new = await self._named(name, customer) - before
        except FlinkeyError as lookup:
            unknown.add_note(f"looking the group up by its name failed too: {lookup}")
            raise unknown from unknown.__cause__
        if len(new) == 1:
            group_id = new.pop()
            _log.warning(
                "PUT %s: outcome was unknown; settled by name: the group was created with id %d",
                self._url.path,
                group_id,
            )
            return group_id
        if before:
            unknown.add_note(
                "a group with this name existed before the call, and the service refuses a "
                "second one: most likely nothing was created"
            )
        else:
            unknown.add_note(
                "no group with this name exists yet; a create still in flight may land later, "
                "so look again before creating it anew"
            )
        raise unknown from unknown.__cause__

    async def rename(self, group_id: int, name: str, *, customer_id: int | None = None) -> None:
        """``PATCH /groups/{groupId}``: give a group a new name (not blank, at most 250 chars)."""
        check_id("group_id", group_id)
        name = check_group_name(name)
        t = self._t
        await t.send(
            "PATCH",
            t.url("groups", group_id),
            customer=t.customer(customer_id),
            json=[{"op": "replace", "path": "/name", "value": name}],
        )

    async def delete(self, group_id: int, *, customer_id: int | None = None) -> None:
        """``DELETE /groups/{groupId}`` (the group must have no members left)."""
        t = self._t
        url = t.url("groups", check_id("group_id", group_id))
        await t.send("DELETE", url, customer=t.customer(customer_id), settle=_DELETED)

    # -- members ---------------------------------------------------------------------------------

    async def _add(self, kind: str, group_id: int, member_id: int, customer_id: int | None) -> None:
        segment, key, already, _ = _MEMBERS[kind]
        t = self._t
        url = t.url("groups", check_id("group_id", group_id), segment)
        member = check_id(f"{kind}_id", member_id)
        await t.send(
            "PUT", url, customer=t.customer(customer_id), json={key: member}, settle=already
        )

    async def _remove(
        self, kind: str, group_id: int, member_id: int, customer_id: int | None
    ) -> None:
        segment, _, _, gone = _MEMBERS[kind]
        t = self._t
        url = t.url(
            "groups", check_id("group_id", group_id), segment, check_id(f"{kind}_id", member_id)
        )
        await t.send("DELETE", url, customer=t.customer(customer_id), settle=gone)

    async def add_car(self, group_id: int, car_id: int, *, customer_id: int | None = None) -> None:
        """``PUT /groups/{groupId}/cars``: assign a car to a group."""
        await self._add("car", group_id, car_id, customer_id)

    async def add_user(
        self, group_id: int, user_id: int, *, customer_id: int | None = None
    ) -> None:
        """``PUT /groups/{groupId}/users``: assign a user to a group."""
        await self._add("user", group_id, user_id, customer_id)

    async def add_service(
        self, group_id: int, service_id: int, *, customer_id: int | None = None
    ) -> None:
        """``PUT /groups/{groupId}/services``: assign a service to a group."""
        await self._add("service", group_id, service_id, customer_id)

    async def add_product(
        self, group_id: int, product_id: int, *, customer_id: int | None = None
    ) -> None:
        """``PUT /groups/{groupId}/products``: assign a product to a group."""
        await self._add("product", group_id, product_id, customer_id)

    async def remove_car(
        self, group_id: int, car_id: int, *, customer_id: int | None = None
    ) -> None:
        """``DELETE /groups/{groupId}/cars/{carId}``."""
        await self._remove("car", group_id, car_id, customer_id)

    async def remove_user(
        self, group_id: int, user_id: int, *, customer_id: int | None = None
    ) -> None:
        """``DELETE /groups/{groupId}/users/{userId}``."""
        await self._remove("user", group_id, user_id, customer_id)

    async def remove_service(
        self, group_id: int, service_id: int, *, customer_id: int | None = None
    ) -> None:
        """``DELETE /groups/{groupId}/services/{serviceId}``."""
        await self._remove("service", group_id, service_id, customer_id)

    async def remove_product(
        self, group_id: int, product_id: int, *, customer_id: int | None = None
    ) -> None:
        """``DELETE /groups/{groupId}/products/{productId}``."""
        await self._remove("product", group_id, product_id, customer_id)

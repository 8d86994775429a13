"""``client.groups``: named sets of cars, users, services and products."""

from __future__ import annotations

import builtins
import logging
from typing import Any, TypeVar

from . import _api
from . import _messages as messages
from ._exceptions import FlinkeyError, OutcomeUnknownError, ValidationError
from ._models import Car, Group, Product, Service, User
from ._transport import Transport
from ._validation import check_group_name, check_id

__all__ = ["GroupsResource"]

_log = logging.getLogger(__name__)

T = TypeVar("T")

_DELETED = frozenset({messages.GROUP_NOT_FOUND})


def _kind(segment: str) -> _api.GroupMember[Any]:
    kind = _api.group_member(segment) if isinstance(segment, str) else None
    if kind is None:
        kinds = ", ".join(repr(name) for name in _api.GROUP_MEMBERS)
        raise ValidationError("kind", f"no member kind {segment!r} (kinds: {kinds})")
    return kind


class GroupsResource:
    """The group endpoints (none of them takes OData): four of the group itself and three per
    member kind of :data:`flinkey_async._api.GROUP_MEMBERS`.

    :meth:`members`, :meth:`add_member` and :meth:`remove_member` serve every member kind by
    its name in the URL (``"cars"``); ``cars()``, ``add_car()`` and the like are their typed
    forms for the documented kinds.
    """

    __slots__ = ("_t", "_url")

    def __init__(self, transport: Transport) -> None:
        self._t = transport
        self._url = transport.url(*_api.GROUPS.path())

    def __repr__(self) -> str:
        return f"GroupsResource({self._t!r})"

    # -- reading ---------------------------------------------------------------------------------

    async def list(self, *, customer_id: int | None = None) -> builtins.list[Group]:
        """``GET /groups``."""
        t = self._t
        payload = await t.fetch(self._url, t.customer(customer_id))
        return t.decode_list(payload, _api.GROUPS.model, "GET", self._url)

    async def members(
        self, kind: str, group_id: int, *, customer_id: int | None = None
    ) -> builtins.list[Any]:
        """``GET /groups/{groupId}/{kind}``: the group's members of one kind (``"cars"``...)."""
        return await self._members(_kind(kind), group_id, customer_id)

    async def cars(self, group_id: int, *, customer_id: int | None = None) -> builtins.list[Car]:
        """``GET /groups/{groupId}/cars``."""
        return await self._members(_api.CAR_MEMBERS, group_id, customer_id)

    async def users(self, group_id: int, *, customer_id: int | None = None) -> builtins.list[User]:
        """``GET /groups/{groupId}/users``."""
        return await self._members(_api.USER_MEMBERS, group_id, customer_id)

    async def services(
        self, group_id: int, *, customer_id: int | None = None
    ) -> builtins.list[Service]:
        """``GET /groups/{groupId}/services``."""
        return await self._members(_api.SERVICE_MEMBERS, group_id, customer_id)

    async def products(
        self, group_id: int, *, customer_id: int | None = None
    ) -> builtins.list[Product]:
        """``GET /groups/{groupId}/products``."""
        return await self._members(_api.PRODUCT_MEMBERS, group_id, customer_id)

    async def _members(
        self, kind: _api.GroupMember[T], group_id: int, customer_id: int | None
    ) -> builtins.list[T]:
        t = self._t
        endpoint = kind.endpoints[0]
        url = t.route(endpoint).at(check_id("group_id", group_id))
        payload = await t.fetch(url, t.customer(customer_id))
        return t.decode_list(payload, endpoint.model, "GET", url)

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
                _api.CREATE_GROUP.method,
                self._url,
                customer=customer,
                json={"name": name},
                create=True,
            )
        except OutcomeUnknownError as exc:
            if before is None:
                raise
            return await self._settle(exc, name, before, customer)
        return t.decode(payload, _api.CREATE_GROUP.model, _api.CREATE_GROUP.method, self._url).id

    async def _named(self, name: str, customer: str) -> set[int]:
        payload = await self._t.fetch(self._url, customer)
        groups = self._t.decode_list(payload, _api.GROUPS.model, "GET", self._url)
        return {group.id for group in groups if group.name == name}

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
            _api.RENAME_GROUP.method,
            t.route(_api.RENAME_GROUP).at(group_id),
            customer=t.customer(customer_id),
            json=[{"op": "replace", "path": "/name", "value": name}],
        )

    async def delete(self, group_id: int, *, customer_id: int | None = None) -> None:
        """``DELETE /groups/{groupId}`` (the group must have no members left)."""
        t = self._t
        url = t.route(_api.DELETE_GROUP).at(check_id("group_id", group_id))
        await t.send(
            _api.DELETE_GROUP.method, url, customer=t.customer(customer_id), settle=_DELETED
        )

    # -- members ---------------------------------------------------------------------------------

    async def add_member(
        self, kind: str, group_id: int, member_id: int, *, customer_id: int | None = None
    ) -> None:
        """``PUT /groups/{groupId}/{kind}``: assign a member of one kind (``"cars"``...)."""
        await self._add(_kind(kind), group_id, member_id, customer_id)

    async def remove_member(
        self, kind: str, group_id: int, member_id: int, *, customer_id: int | None = None
    ) -> None:
        """``DELETE /groups/{groupId}/{kind}/{memberId}``: take a member out of a group."""
        await self._remove(_kind(kind), group_id, member_id, customer_id)

    async def _add(
        self, kind: _api.GroupMember[Any], group_id: int, member_id: int, customer_id: int | None
    ) -> None:
        endpoint = kind.endpoints[1]
        t = self._t
        url = t.route(endpoint).at(check_id("group_id", group_id))
        body = {kind.id_parameter: check_id(kind.argument, member_id)}
        # An earlier attempt whose answer was lost may have done it already (see Transport.send).
        already = frozenset({kind.already})
        await t.send(
            endpoint.method, url, customer=t.customer(customer_id), json=body, settle=already
        )

    async def _remove(
        self, kind: _api.GroupMember[Any], group_id: int, member_id: int, customer_id: int | None
    ) -> None:
        endpoint = kind.endpoints[2]
        t = self._t
        group = check_id("group_id", group_id)
        url = t.route(endpoint).of(group, check_id(kind.argument, member_id))
        gone = frozenset({kind.not_member})
        await t.send(endpoint.method, url, customer=t.customer(customer_id), settle=gone)

    async def add_car(self, group_id: int, car_id: int, *, customer_id: int | None = None) -> None:
        """``PUT /groups/{groupId}/cars``: assign a car to a group."""
        await self._add(_api.CAR_MEMBERS, group_id, car_id, customer_id)

    async def add_user(
        self, group_id: int, user_id: int, *, customer_id: int | None = None
    ) -> None:
        """``PUT /groups/{groupId}/users``: assign a user to a group."""
        await self._add(_api.USER_MEMBERS, group_id, user_id, customer_id)

    async def add_service(
        self, group_id: int, service_id: int, *, customer_id: int | None = None
    ) -> None:
        """``PUT /groups/{groupId}/services``: assign a service to a group."""
        await self._add(_api.SERVICE_MEMBERS, group_id, service_id, customer_id)

    async def add_product(
        self, group_id: int, product_id: int, *, customer_id: int | None = None
    ) -> None:
        """``PUT /groups/{groupId}/products``: assign a product to a group."""
        await self._add(_api.PRODUCT_MEMBERS, group_id, product_id, customer_id)

    async def remove_car(
        self, group_id: int, car_id: int, *, customer_id: int | None = None
    ) -> None:
        """``DELETE /groups/{groupId}/cars/{carId}``."""
        await self._remove(_api.CAR_MEMBERS, group_id, car_id, customer_id)

    async def remove_user(
        self, group_id: int, user_id: int, *, customer_id: int | None = None
    ) -> None:
        """``DELETE /groups/{groupId}/users/{userId}``."""
        await self._remove(_api.USER_MEMBERS, group_id, user_id, customer_id)

    async def remove_service(
        self, group_id: int, service_id: int, *, customer_id: int | None = None
    ) -> None:
        """``DELETE /groups/{groupId}/services/{serviceId}``."""
        await self._remove(_api.SERVICE_MEMBERS, group_id, service_id, customer_id)

    async def remove_product(
        self, group_id: int, product_id: int, *, customer_id: int | None = None
    ) -> None:
        """``DELETE /groups/{groupId}/products/{productId}``."""
        await self._remove(_api.PRODUCT_MEMBERS, group_id, product_id, customer_id)

"""A known set of entities put into a fresh sandbox, and one valid request per endpoint.

The generated fleet is realistic but random; these entities make every documented condition
reachable on purpose: a car with a flinkey Box and a flinkey IQ and a recorded history, a car
without products, a product with a service and a car, a product with neither, a group with one
member of each kind, an empty group.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from flinkey_async import ProductType
from flinkey_async.sandbox import Sandbox

UNKNOWN_ID = 999_999
"""An id that no entity of any kind has."""

HISTORY_START = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


@attrs.frozen
class World:
    customer_id: int
    car: int
    bare_car: int
    box: int
    iq: int
    stock_product: int
    service: int
    free_service: int
    user: int
    other_user: int
    group: int
    group_name: str
    empty_group: int


def build_world(sb: Sandbox, customer_id: int | None = None) -> World:
    state = sb.state
    cid = sb.customer_id if customer_id is None else customer_id
    car = state.add_car(
        cid, "Conformance car", vin="WVWZZZ1JZXW000001", license_plate="M-CF 100",
        brand="Volkswagen", model="Golf", description="known entity",
    ).id  # fmt: skip
    bare_car = state.add_car(cid, "Bare car").id
    box = state.add_product(
        cid, ProductType.BOX, unique_id="C0FFEE000001", serial_number="FB2025-000001",
        sap_number="2080101", car_id=car,
    ).id  # fmt: skip
    iq = state.add_product(
        cid, ProductType.IQ, unique_id="C0FFEE000002", serial_number="FIQ2025-000002",
        sap_number="2090311", car_id=car,
    ).id  # fmt: skip
    stock = state.add_product(
        cid, ProductType.BOX, unique_id="C0FFEE000003", serial_number="FB2025-000003",
        sap_number="2080102",
    ).id  # fmt: skip
    service = state.add_service(cid, "flinkey Go", product_id=box).id
    free_service = state.add_service(
        cid, "flinkey Go Fleet", is_terminated=True,
        termination_date=HISTORY_START, termination_cause="Vehicle sold",
    ).id  # fmt: skip
    user = state.add_user(cid, "known.user@example.com", first_name="Known", last_name="User").id
    other_user = state.add_user(cid, "other.user@example.com", first_name="Other").id
    for hour in range(0, 48, 6):
        moment = HISTORY_START + timedelta(hours=hour)
        state.record_position(cid, car, moment, 48.1 + hour / 1000, 11.5 + hour / 1000)
        state.record_odometer(cid, car, moment + timedelta(minutes=20), 10_000.0 + hour * 10)
    group = state.add_group(cid, "Conformance group")
    for kind, member in (("cars", car), ("users", user), ("services", free_service),
                         ("products", stock)):  # fmt: skip
        state.add_member(cid, group.id, kind, member)
    empty = state.add_group(cid, "Conformance empty group").id
    return World(
        customer_id=cid, car=car, bare_car=bare_car, box=box, iq=iq, stock_product=stock,
        service=service, free_service=free_service, user=user, other_user=other_user,
        group=group.id, group_name=group.name, empty_group=empty,
    )  # fmt: skip


MEMBER_OF = {
    "cars": "car",
    "users": "user",
    "services": "free_service",
    "products": "stock_product",
}
BODY_FIELD = {"cars": "carId", "users": "userId", "services": "serviceId", "products": "productId"}


@attrs.frozen
class Call:
    """A request to make: method, path (below the base URL) and JSON body (None: no body)."""

    method: str
    path: str
    body: Any = None
    ids: dict[str, Any] = attrs.field(factory=dict, eq=False)
    """The path parameters used (``{"carId": 10017}``)."""

    def with_id(self, route: str, parameter: str, value: Any) -> Call:
        """The same request with one path parameter changed."""
        ids = {**self.ids, parameter: value}
        return Call(self.method, route.split(" ", 1)[1].format(**ids), self.body, ids)

    @property
    def has_body(self) -> bool:
        return self.body is not None


def valid_call(route: str, w: World) -> Call:
    """A request to ``route`` that succeeds on a fresh world."""
    method, template = route.split(" ", 1)
    body: Any = None
    if route == "PUT /cars":
        body = {"name": "New car", "licensePlate": "B-NW 1", "vin": None, "brand": "Audi",
                "model": "A4", "description": None}  # fmt: skip
    elif route == "PATCH /cars/{carId}":
        body = [{"op": "replace", "path": "/name", "value": "Renamed car"}]
    elif route == "PUT /groups":
        body = {"name": "Brand new group"}
    elif route == "PATCH /groups/{groupId}":
        body = [{"op": "replace", "path": "/name", "value": "Renamed group"}]
    elif method == "PUT" and template.startswith("/groups/{groupId}/"):
        kind = template.rsplit("/", 1)[1]
        body = {BODY_FIELD[kind]: getattr(w, MEMBER_OF[kind])}
    ids = {
        "productId": w.box,
        "carId": w.car,
        "groupId": w.group,
        "userId": w.user,
        "serviceId": w.free_service,
        "searchDate": "2025-01-01T13:30:00Z",
    }
    if route == "DELETE /cars/{carId}":
        ids["carId"] = w.bare_car
    if route == "DELETE /groups/{groupId}" or (
        method == "PUT" and template.startswith("/groups/{groupId}/")
    ):
        ids["groupId"] = w.empty_group
    if route.startswith("DELETE /groups/{groupId}/"):
        ids["productId"] = w.stock_product
    used = {name: value for name, value in ids.items() if f"{{{name}}}" in template}
    return Call(method, template.format(**ids), body, used)

"""Ground truth: what a complete, correct copy of a sandbox customer holds, as comparable sets.

Rows are tuples of the store's key and data columns (``customer_id`` and the history columns
left out), so the sandbox's state, a :class:`FleetSnapshot`, a SQLite store and a JSON Lines
store can all be compared with ``==``. Users and services are the ones the API can reach: the
users of groups; the services of products and of groups.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flinkey_async._fleet import FleetSnapshot
from flinkey_async.sandbox import SandboxState
from flinkey_async.sync import _schema as schema

Rows = dict[str, set[tuple[Any, ...]]]

TABLES = tuple(name for name in schema.TABLES if name != "customers")


def from_state(state: SandboxState, cid: int) -> Rows:
    """The sandbox's truth for customer ``cid``."""
    rows: Rows = {name: set() for name in TABLES}
    rows["cars"] = {schema.car_row(car) for car in state.cars(cid)}
    rows["products"] = {schema.product_row(p) for p in state.products(cid)}
    rows["groups"] = {schema.group_row(g) for g in state.groups(cid)}
    services: dict[int, Any] = {}
    users: dict[int, Any] = {}
    for car in state.cars(cid):
        products = state.products_of_car(cid, car.id)
        rows["car_products"] |= {(car.id, p.id) for p in products}
        if products:
            rows["locations"].add(schema.location_row(car.id, state.location(cid, car.id)))
    for product in state.products(cid):
        service = state.service_of_product(cid, product.id)
        if service is not None:
            services[service.id] = service
            rows["product_services"].add((product.id, service.id))
    for group in state.groups(cid):
        for kind in ("cars", "users", "services", "products"):
            members = state.members(cid, group.id, kind)
            rows[f"group_{kind}"] |= {(group.id, m.id) for m in members}
            if kind == "users":
                users.update((m.id, m) for m in members)
            elif kind == "services":
                services.update((m.id, m) for m in members)
    rows["services"] = {schema.service_row(s) for s in services.values()}
    rows["users"] = {schema.user_row(u) for u in users.values()}
    return rows


def from_snapshot(snapshot: FleetSnapshot) -> Rows:
    rows: Rows = {name: set() for name in TABLES}
    rows["cars"] = {schema.car_row(c) for c in snapshot.cars}
    rows["products"] = {schema.product_row(p) for p in snapshot.products}
    rows["groups"] = {schema.group_row(g) for g in snapshot.groups}
    rows["services"] = {schema.service_row(s) for s in snapshot.services}
    rows["users"] = {schema.user_row(u) for u in snapshot.users}
    for car_id, products in snapshot.car_products.items():
        rows["car_products"] |= {(car_id, p.id) for p in products}
    for car_id, location in snapshot.car_locations.items():
        if location is not None:
            rows["locations"].add(schema.location_row(car_id, location))
    for product_id, service in snapshot.product_services.items():
        if service is not None:
            rows["product_services"].add((product_id, service.id))
    for kind, mapping in (
        ("cars", snapshot.group_cars),
        ("users", snapshot.group_users),
        ("services", snapshot.group_services),
        ("products", snapshot.group_products),
    ):
        for group_id, members in mapping.items():
            rows[f"group_{kind}"] |= {(group_id, m.id) for m in members}
    return rows


def from_store(tables: Mapping[str, Iterable[Mapping[str, Any]]], cid: int) -> Rows:
    """The alive rows of a store (rows as dicts, from ``store.rows(table)``)."""
    rows: Rows = {}
    for name in TABLES:
        spec = schema.TABLES[name]
        columns = (*spec.key, *spec.data)
        rows[name] = {
            tuple(row[c] for c in columns)
            for row in tables[name]
            if row["customer_id"] == cid and row["deleted_in_run"] is None
        }
    return rows


async def store_rows(store: Any) -> dict[str, list[dict[str, Any]]]:
    return {name: await store.rows(name) for name in (*schema.TABLES, "sync_runs")}


def differences(expected: Rows, actual: Rows) -> dict[str, tuple[set[Any], set[Any]]]:
    """Per table: (missing, unexpected) rows; empty when the two agree."""
    out = {}
    for name in TABLES:
        missing = expected[name] - actual[name]
        extra = actual[name] - expected[name]
        if missing or extra:
            out[name] = (set(list(missing)[:3]), set(list(extra)[:3]))
    return out

"""Auto-paging's order: ``$skip`` pages are taken over a total order, ending in ``id``."""

from __future__ import annotations

from typing import Any

import pytest

from flinkey_async import Car
from flinkey_async._paging import iterate, page_queries
from flinkey_async.odata import ODataError, Property, Query, apply_query, fields, func, raw

C = fields(Car)
ROWS = [{"id": i, "brand": ["VW", "Audi", None][i % 3]} for i in range(1, 41)]


def _order(query: Query | None, **kwargs: Any) -> str | None:
    base, _, _ = page_queries(query, **kwargs)
    return base.params().get("$orderby")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (None, "id"),
        (Query(), "id"),
        (Query().order_by(C.brand), "brand,id"),
        (Query().order_by(C.brand.desc(), C.name), "brand desc,name,id"),
        (Query().order_by(C.name.lower()), "tolower(name),id"),
        (Query().order_by(C.id.desc()), "id desc"),
        (Query().order_by(C.brand, C.id.desc()), "brand,id desc"),
        (Query().order_by(C.id, C.brand), "id,brand"),
        (Query().order_by(raw("id")), "id"),
        (Query().order_by(func.length(C.vin)), "length(vin),id"),
    ],
)
def test_id_ends_the_order_unless_the_keys_hold_it(query: Query | None, expected: str) -> None:
    assert _order(query) == expected


def test_the_tie_breaker_is_a_property_node() -> None:
    base, _, _ = page_queries(Query().order_by(C.brand))
    last = base.order_keys[-1]
    assert isinstance(last.expr, Property)
    assert last.expr.name == "id"
    assert not last.descending


def test_another_unique_key_or_none() -> None:
    assert _order(Query().order_by(C.brand), order_by="vin") == "brand,vin"
    assert _order(Query().order_by(C.brand), order_by=None) == "brand"
    assert _order(None, order_by=None) is None
    with pytest.raises(ODataError, match="not an OData identifier"):
        page_queries(None, order_by="id desc")


async def test_each_page_asks_for_the_full_order() -> None:
    sent: list[dict[str, str]] = []

    async def fetch(query: Query) -> list[dict[str, Any]]:
        sent.append(query.params())
        return apply_query(query, ROWS)

    query = Query().filter(C.id > 2).order_by(C.brand).skip(3).top(8)
    got = [row["id"] async for row in iterate(fetch, page_size=5, query=query)]
    assert got == [row["id"] for row in apply_query(query.order_by(C.id), ROWS)]
    assert [(p["$orderby"], p["$skip"], p["$top"]) for p in sent] == [
        ("brand,id", "3", "5"),
        ("brand,id", "8", "3"),
    ]


async def test_paging_over_ties_sees_every_row_once() -> None:
    """Rows that tie on the caller's keys come in any order from one request to the next."""
    requests = 0

    async def fetch(query: Query) -> list[dict[str, Any]]:
        nonlocal requests
        requests += 1
        shift = requests * 7 % len(ROWS)
        stored = ROWS[shift:] + ROWS[:shift]  # the service's own order, unpromised
        return apply_query(query, stored)

    query = Query().order_by(C.brand)
    got = [row["id"] async for row in iterate(fetch, page_size=4, query=query)]
    assert sorted(got) == [row["id"] for row in ROWS]
    assert got == [row["id"] for row in apply_query(query.order_by(C.id), ROWS)]

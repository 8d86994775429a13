"""``$select`` results that say what they hold.

A field that ``$select`` leaves out is absent from the JSON and decodes to ``None``, like a real
null. A query made with :meth:`Query.select <flinkey_async.odata.Query.select>` (a
:class:`~flinkey_async.odata.SelectQuery`) is therefore answered with :class:`Selected` values:
the model as decoded plus the names that were selected, and reading any other name raises
:class:`~flinkey_async.NotSelectedError` instead of giving ``None``.
"""

from __future__ import annotations

import builtins
from functools import cache
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import attrs

from ._exceptions import NotSelectedError, ValidationError
from ._models import wire_name

if TYPE_CHECKING:
    from .odata import Query

__all__ = ["Selected", "selected_list", "selected_one"]

M = TypeVar("M")


@attrs.frozen
class Selected(Generic[M]):
    """One result of a ``$select`` query: ``model`` as decoded and the ``fields`` selected.

    ``row["brand"]`` / ``row.get("brand")`` read a selected field (``None`` is then a real
    null) and raise :class:`~flinkey_async.NotSelectedError` for one the query left out.
    ``row.model`` is the plain model, whose unselected fields are ``None``.
    """

    model: M
    """The decoded model; fields outside :attr:`fields` hold ``None``."""
    fields: frozenset[str]
    """The attribute (snake_case) names the query selected."""

    def is_selected(self, name: str) -> bool:
        """Whether ``name`` (an attribute name of the model) was selected."""
        _check_name(type(self.model), name)
        return name in self.fields

    def get(self, name: str) -> Any:
        """The value of a selected field; :class:`~flinkey_async.NotSelectedError` otherwise."""
        if not self.is_selected(name):
            raise NotSelectedError(name, self.fields, type(self.model).__name__)
        return getattr(self.model, name)

    def __getitem__(self, name: str) -> Any:
        return self.get(name)


def _check_name(model: type, name: str) -> None:
    names = _attribute_names(model)
    if name not in names:
        valid = ", ".join(names)
        raise ValidationError("name", f"{model.__name__} has no field {name!r} (fields: {valid})")


@cache
def _attribute_names(model: type) -> tuple[str, ...]:
    return tuple(field.name for field in attrs.fields(model))


@cache
def _selected_names(model: type, select: tuple[str, ...]) -> frozenset[str]:
    """The attributes of ``model`` that ``$select=<select>`` (wire names) asks for."""
    heads = {name.split("/", 1)[0] for name in select}
    names = _attribute_names(model)
    if not heads or "*" in heads:  # no $select sends every field
        return frozenset(names)
    return frozenset(name for name in names if wire_name(name) in heads)


def _fields_of(value: object, select: tuple[str, ...]) -> frozenset[str]:
    model: Any = type(value)  # a class is hashable; mypy's type[object] does not say so
    return _selected_names(model, select)


def _selects(query: Query | None) -> bool:
    if query is None:
        return False
    from .odata import SelectQuery  # loaded already: the caller built a query

    return isinstance(query, SelectQuery)


def selected_one(value: M, query: Query | None) -> M | Selected[M]:
    """``value`` wrapped in :class:`Selected` when ``query`` is a ``SelectQuery``."""
    if query is None or not _selects(query):
        return value
    return Selected(value, _fields_of(value, query.select_fields))


def selected_list(
    values: builtins.list[M], query: Query | None
) -> builtins.list[M] | builtins.list[Selected[M]]:
    """Every value wrapped in :class:`Selected` when ``query`` is a ``SelectQuery``."""
    if query is None or not _selects(query):
        return values
    select = query.select_fields
    return [Selected(value, _fields_of(value, select)) for value in values]

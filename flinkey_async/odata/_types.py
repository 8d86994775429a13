"""The declared kind of each property, from the attrs models: what a comparison means.

A JSON record carries a date-time as text, so by their look alone ``name eq
'2024-05-01T10:00:00Z'`` and ``date eq '2024-05-01T10:00:00Z'`` are the same comparison. The
service knows better: ``name`` is an Edm.String and compares as text, ``date`` an
Edm.DateTimeOffset and compares as an instant. This module reads those types off the models'
field annotations, once, so the evaluator compares the way the service does.
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import cache
from typing import Any, Final, TypeAlias

import attrs

from flinkey_async._exceptions import ODataError
from flinkey_async._models import Car, Location, Product, Service, wire_name

__all__ = ["ODATA_MODELS", "PropertyKinds", "api_kinds", "merged_kinds", "property_kinds"]

PropertyKinds: TypeAlias = Mapping[str, str]
"""Wire name -> kind: ``string``, ``number``, ``bool`` or ``datetime``."""

ODATA_MODELS: Final = (Car, Product, Service, Location)
"""The entities whose endpoints take OData options (see docs/odata.md)."""


def _kind_of_type(annotation: Any) -> str | None:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        present = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return _kind_of_type(present[0]) if len(present) == 1 else None
    if annotation is bool:
        return "bool"
    if annotation in (int, float):
        return "number"
    if annotation is datetime:
        return "datetime"
    if annotation is str or (isinstance(annotation, type) and issubclass(annotation, enum.Enum)):
        return "string"
    return None


def property_kinds(model: type[Any]) -> PropertyKinds:
    """The kinds of a model's scalar properties, by wire name (other properties have none)."""
    hints = typing.get_type_hints(model)
    kinds = {field.name: _kind_of_type(hints[field.name]) for field in attrs.fields(model)}
    return types.MappingProxyType(
        {wire_name(name): kind for name, kind in kinds.items() if kind is not None}
    )


def merged_kinds(models: Iterable[type[Any]]) -> PropertyKinds:
    """One map over several models; a name declared with two kinds is an error."""
    merged: dict[str, str] = {}
    for model in models:
        for name, kind in property_kinds(model).items():
            if merged.setdefault(name, kind) != kind:
                raise ODataError(f"property {name!r} is both {merged[name]} and {kind}")
    return types.MappingProxyType(merged)


@cache
def api_kinds() -> PropertyKinds:
    """The kinds of every property of :data:`ODATA_MODELS`: the evaluator's default."""
    return merged_kinds(ODATA_MODELS)

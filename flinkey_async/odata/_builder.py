"""The query builder: typed field references and the immutable :class:`Query`.

```python
F = fields(Car)
query = (
    Query()
    .filter(F.brand == "VW")
    .filter(F.name.startswith("Golf") | F.vin.is_null())
    .select(F.id, F.name)
    .top(50)
)
query.encoded()
# "$filter=brand%20eq%20'VW'%20and%20(startswith(name,'Golf')%20or%20vin%20eq%20null)&..."
```

Every method returns a new query; values always become literals, never text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import cache
from typing import Any, Final, Self, TypeVar

import attrs

from flinkey_async._models import wire_name
from flinkey_async.odata._ast import (
    FUNCTIONS,
    Call,
    Expr,
    Literal,
    OrderKey,
    Property,
    Raw,
    _logical,
    as_expr,
)
from flinkey_async.odata._encoding import encode_params
from flinkey_async.odata._errors import ODataError, UnknownFieldError
from flinkey_async.odata._literals import INT64_MAX
from flinkey_async.odata._printer import print_expr, print_orderby

__all__ = ["Fields", "Query", "SelectQuery", "encode_query", "fields", "func", "literal", "raw"]


class Fields:
    """Typed references to the fields of one attrs model: ``fields(Car).license_plate``.

    Attribute access gives a :class:`Property` carrying the wire (camelCase) name; a misspelt
    name raises :class:`UnknownFieldError` (an ``AttributeError``) listing the valid names, so
    the mistake surfaces where the query is written.

    :func:`fields` makes one subclass per model that holds its properties as class attributes,
    so ``F.name`` is a plain attribute read; ``__getattr__`` only runs for a name that is not
    there, to say what went wrong.
    """

    __slots__ = ("_by_attribute", "_model")

    def __init__(self, model: type, properties: dict[str, Property]) -> None:
        self._model = model
        self._by_attribute = properties

    def __getattr__(self, name: str) -> Property:
        try:
            return self._by_attribute[name]
        except KeyError:
            pass
        valid = ", ".join(sorted(self._by_attribute))
        raise UnknownFieldError(
            f"{self._model.__name__} has no field {name!r}; valid fields: {valid}"
        )

    def __dir__(self) -> list[str]:
        return sorted(self._by_attribute)

    def __iter__(self) -> Iterator[Property]:
        return iter(self._by_attribute.values())

    def __repr__(self) -> str:
        return f"fields({self._model.__name__})"


@cache
def fields(model: type) -> Fields:
    """Typed field references of an attrs class; wire names are the camelCase JSON names."""
    if not attrs.has(model):
        raise TypeError(f"fields() needs an attrs class, not {model!r}")
    properties = {field.name: Property(wire_name(field.name)) for field in attrs.fields(model)}
    # Names Fields itself uses (its slots, its methods) stay served by __getattr__, as before.
    shortcuts = {name: prop for name, prop in properties.items() if not hasattr(Fields, name)}
    namespace: dict[str, Any] = {"__slots__": (), "__doc__": Fields.__doc__, **shortcuts}
    per_model = type(f"{model.__name__}Fields", (Fields,), namespace)
    return per_model(model, properties)  # type: ignore[no-any-return]


def raw(text: str) -> Raw:
    """A hand-written OData fragment, sent as is. Nothing in it is checked or escaped.

    Prefer the builder: ``raw()`` is for what it cannot say. Never put untrusted input in it.
    """
    return Raw(text)


def literal(value: object) -> Literal:
    """An explicit literal, for when a value has to stand on the left: ``literal(5) < F.id``."""
    return Literal(value)


class _Functions:
    """``func.year(F.date)``, ``func.now()``: every canonical function by name."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Callable[..., Call]:
        if name not in FUNCTIONS:
            raise AttributeError(
                f"no OData function {name!r}; known: {', '.join(sorted(FUNCTIONS))}"
            )

        def build(*args: object) -> Call:
            return Call(name, tuple(as_expr(arg) for arg in args))

        build.__name__ = name
        return build

    def __dir__(self) -> list[str]:
        return sorted(FUNCTIONS)


func: Final = _Functions()


def _check_count_value(name: str, value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < 0:
        raise ODataError(f"{name} must not be negative, got {value}")
    if value > INT64_MAX:
        raise ODataError(f"{name} must be at most {INT64_MAX} (Edm.Int64)")


@cache
def _checked_name(name: str) -> str:
    return Property(name).name  # same rules as any property reference


_FIELDS: Final = (
    "filter_expr",
    "select_fields",
    "order_keys",
    "top_value",
    "skip_value",
    "count_value",
)


@attrs.frozen(eq=False, repr=False, init=False)
class Query:
    """An immutable set of OData query options; every method returns a new ``Query``.

    ``filter_expr`` (``$filter``), ``select_fields`` (``$select``, wire names), ``order_keys``
    (``$orderby``), ``top_value``, ``skip_value`` and ``count_value`` are ``None``/empty when
    unset. Two queries are equal when they send the same options.
    """

    filter_expr: Expr | None
    select_fields: tuple[str, ...]
    order_keys: tuple[OrderKey, ...]
    top_value: int | None
    skip_value: int | None
    count_value: bool | None

    def __init__(
        self,
        filter_expr: Expr | None = None,
        select_fields: Iterable[str] = (),
        order_keys: Iterable[OrderKey] = (),
        top_value: int | None = None,
        skip_value: int | None = None,
        count_value: bool | None = None,
    ) -> None:
        # Written out rather than attrs validators: ``Query()`` starts every query.
        if filter_expr is not None and not isinstance(filter_expr, Expr):
            raise TypeError(f"filter must be an OData expression, not {type(filter_expr).__name__}")
        select_fields = tuple(select_fields)
        for name in select_fields:
            if not isinstance(name, str):
                raise TypeError(f"$select names must be str, not {type(name).__name__}")
            _checked_name(name)
        order_keys = tuple(order_keys)
        for key in order_keys:
            if not isinstance(key, OrderKey):
                raise TypeError(f"order keys must be OrderKey, not {type(key).__name__}")
        if top_value is not None:
            _check_count_value("$top", top_value)
        if skip_value is not None:
            _check_count_value("$skip", skip_value)
        if count_value is not None and not isinstance(count_value, bool):
            raise TypeError(f"$count must be a bool, not {type(count_value).__name__}")
        _set_filter(self, filter_expr)
        _set_select(self, select_fields)
        _set_order(self, order_keys)
        _set_top(self, top_value)
        _set_skip(self, skip_value)
        _set_count(self, count_value)

    # -- generative methods ---------------------------------------------------------------
    # Each method checks its own arguments and copies the rest unchecked (see _copy).
    def filter(self, *conditions: Expr) -> Self:
        """Add conditions; all of them, and any earlier ones, must hold (``and``)."""
        combined = self.filter_expr
        for condition in conditions:
            if not isinstance(condition, Expr):
                raise TypeError(
                    f"filter() takes OData expressions such as F.name == 'x', "
                    f"not {type(condition).__name__}"
                )
            combined = condition if combined is None else _logical("and", combined, condition)
        copy = _copy(self)
        _set_filter(copy, combined)
        return copy

    def select(self, *properties: Property) -> SelectQuery:
        """Add properties to ``$select`` (``fields(Car).id``, ...).

        The result is a :class:`SelectQuery`: the resources answer it with
        :class:`~flinkey_async.Selected` values, so a field left out is not mistaken for a null.
        """
        names = list(self.select_fields)
        for prop in properties:
            if not isinstance(prop, Property):
                raise TypeError(
                    "select() takes field references such as fields(Car).name, "
                    f"not {type(prop).__name__}"
                )
            names.append(prop.name)
        copy: SelectQuery = _new(SelectQuery)
        _fill(copy, self)
        _set_select(copy, tuple(names))
        return copy

    def order_by(self, *keys: Expr | OrderKey) -> Self:
        """Add ``$orderby`` keys: a field (ascending) or ``field.desc()`` / ``field.asc()``."""
        order = list(self.order_keys)
        for key in keys:
            if isinstance(key, OrderKey):
                order.append(key)
            elif isinstance(key, Expr):
                order.append(OrderKey(key))
            else:
                raise TypeError(f"order_by() takes fields or OrderKey, not {type(key).__name__}")
        copy = _copy(self)
        _set_order(copy, tuple(order))
        return copy

    def top(self, n: int) -> Self:
        """``$top``: at most ``n`` results (``n >= 0``)."""
        _check_count_value("$top", n)
        copy = _copy(self)
        _set_top(copy, n)
        return copy

    def skip(self, n: int) -> Self:
        """``$skip``: leave out the first ``n`` results (``n >= 0``)."""
        _check_count_value("$skip", n)
        copy = _copy(self)
        _set_skip(copy, n)
        return copy

    def count(self, value: bool = True) -> Self:
        """``$count``."""
        if value is not None and not isinstance(value, bool):
            raise TypeError(f"$count must be a bool, not {type(value).__name__}")
        copy = _copy(self)
        _set_count(copy, value)
        return copy

    # -- output ---------------------------------------------------------------------------
    def params(self) -> dict[str, str]:
        """Option name -> unencoded text, in a fixed order."""
        params: dict[str, str] = {}
        if self.filter_expr is not None:
            params["$filter"] = print_expr(self.filter_expr)
        if self.select_fields:
            params["$select"] = ",".join(self.select_fields)
        if self.order_keys:
            params["$orderby"] = print_orderby(self.order_keys)
        if self.top_value is not None:
            params["$top"] = str(self.top_value)
        if self.skip_value is not None:
            params["$skip"] = str(self.skip_value)
        if self.count_value is not None:
            params["$count"] = "true" if self.count_value else "false"
        return params

    def encoded(self) -> str:
        """The percent-encoded query string, without ``?``; ``""`` when no option is set.

        Append it to a URL as is: ``yarl.URL(f"{base}?{query.encoded()}", encoded=True)``.
        """
        return encode_params(self.params())

    # -- value semantics ------------------------------------------------------------------
    def key(self) -> tuple[Any, ...]:
        """A hashable description of the options (structural, like :meth:`Expr.key`)."""
        return (
            None if self.filter_expr is None else self.filter_expr.key(),
            self.select_fields,
            tuple(key.key() for key in self.order_keys),
            self.top_value,
            self.skip_value,
            self.count_value,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Query):
            return NotImplemented
        return self.key() == other.key()

    def __hash__(self) -> int:
        return hash(self.key())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params()!r})"


class SelectQuery(Query):
    """A :class:`Query` made by :meth:`Query.select`; its methods keep it a ``SelectQuery``.

    Only the type differs: it tells the resources (and mypy) to answer with
    :class:`~flinkey_async.Selected` values instead of plain models. It sends the same options
    and equals a ``Query`` that sends them.
    """

    __slots__ = ()


# Slot setters that get past the frozen ``__setattr__``: for __init__ and for _copy, which fill
# a new instance before anyone else can see it.
_set_filter, _set_select, _set_order, _set_top, _set_skip, _set_count = (
    getattr(Query, name).__set__ for name in _FIELDS
)
_new: Final = object.__new__
QueryT = TypeVar("QueryT", bound=Query)


def _copy(query: QueryT) -> QueryT:
    """A new query of the same class and (already checked) options, for a method to change one."""
    copy: QueryT = _new(type(query))
    _fill(copy, query)
    return copy


def _fill(copy: Query, query: Query) -> None:
    _set_filter(copy, query.filter_expr)
    _set_select(copy, query.select_fields)
    _set_order(copy, query.order_keys)
    _set_top(copy, query.top_value)
    _set_skip(copy, query.skip_value)
    _set_count(copy, query.count_value)


def encode_query(query: Query | None) -> str:
    """``query.encoded()``, and ``""`` for no query: what a resource appends after ``?``."""
    return "" if query is None else query.encoded()

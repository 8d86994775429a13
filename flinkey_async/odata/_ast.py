"""The OData expression tree: frozen attrs nodes shared by builder, printer, parser and evaluator.

Python operators on nodes build bigger trees (SQLAlchemy Core style): ``F.name == "Golf"`` is a
:class:`Comparison`, not a ``bool``. Two consequences, both deliberate:

* structural equality of two trees is :meth:`Expr.same_as` (or comparing :meth:`Expr.key`),
  because ``==`` is taken by the tree builder;
* ``bool(node)`` raises ``TypeError``, so ``a and b`` / ``a or b`` / ``not a`` / ``x in [node]``
  fail loudly instead of silently dropping half a filter. Use ``&``, ``|`` and ``~``.

Nodes stay hashable: ``hash(node)`` is ``hash(node.key())``. Use ``node.key()`` as the dict or set
key when several structurally equal nodes may meet, because a hash tie compares with ``==``.

One module although long: the node classes, the operators :class:`Expr` builds them with and the
key, repr and precedence helpers over them are one closed set of types (``Expr``'s methods make
its subclasses), imported together by every other OData module.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable
from typing import Any, Final, TypeAlias, TypeVar, overload
from typing import Literal as TypingLiteral

import attrs

from flinkey_async._exceptions import ODataError
from flinkey_async.odata._values import LiteralValue, checked_int, kind_of

__all__ = [
    "FUNCTIONS",
    "Arithmetic",
    "Call",
    "Comparison",
    "Expr",
    "In",
    "ListExpr",
    "Literal",
    "LiteralValue",
    "Logical",
    "Negate",
    "Not",
    "OrderKey",
    "Property",
    "Raw",
    "as_expr",
    "precedence",
    "tree_key",
    "tree_repr",
]

CompareOp: TypeAlias = TypingLiteral["eq", "ne", "gt", "ge", "lt", "le"]
LogicalOp: TypeAlias = TypingLiteral["and", "or"]
ArithmeticOp: TypeAlias = TypingLiteral["add", "sub", "mul", "div", "divby", "mod"]

COMPARE_OPS: Final = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})
LOGICAL_OPS: Final = frozenset({"and", "or"})
ARITHMETIC_OPS: Final = frozenset({"add", "sub", "mul", "div", "divby", "mod"})

FUNCTIONS: Final[dict[str, tuple[int, int]]] = {
    # name: (fewest, most) arguments
    "contains": (2, 2),
    "startswith": (2, 2),
    "endswith": (2, 2),
    "tolower": (1, 1),
    "toupper": (1, 1),
    "trim": (1, 1),
    "length": (1, 1),
    "indexof": (2, 2),
    "substring": (2, 3),
    "concat": (2, 2),
    "year": (1, 1),
    "month": (1, 1),
    "day": (1, 1),
    "hour": (1, 1),
    "minute": (1, 1),
    "second": (1, 1),
    "fractionalseconds": (1, 1),
    "date": (1, 1),
    "time": (1, 1),
    "totaloffsetminutes": (1, 1),
    "totalseconds": (1, 1),
    "now": (0, 0),
    "maxdatetime": (0, 0),
    "mindatetime": (0, 0),
    "round": (1, 1),
    "floor": (1, 1),
    "ceiling": (1, 1),
}
"""The OData canonical functions this package knows, with their arities."""

# -- precedence (higher binds tighter): one table for the printer and the parser -----------------
OR_PRECEDENCE: Final = 1
AND_PRECEDENCE: Final = 2
EQUALITY_PRECEDENCE: Final = 3
RELATIONAL_PRECEDENCE: Final = 4
ADDITIVE_PRECEDENCE: Final = 5
MULTIPLICATIVE_PRECEDENCE: Final = 6
UNARY_PRECEDENCE: Final = 7
IN_PRECEDENCE: Final = 8
PRIMARY_PRECEDENCE: Final = 9

BINARY_PRECEDENCE: Final[dict[str, int]] = {
    "or": OR_PRECEDENCE,
    "and": AND_PRECEDENCE,
    "eq": EQUALITY_PRECEDENCE,
    "ne": EQUALITY_PRECEDENCE,
    "gt": RELATIONAL_PRECEDENCE,
    "ge": RELATIONAL_PRECEDENCE,
    "lt": RELATIONAL_PRECEDENCE,
    "le": RELATIONAL_PRECEDENCE,
    "add": ADDITIVE_PRECEDENCE,
    "sub": ADDITIVE_PRECEDENCE,
    "mul": MULTIPLICATIVE_PRECEDENCE,
    "div": MULTIPLICATIVE_PRECEDENCE,
    "divby": MULTIPLICATIVE_PRECEDENCE,
    "mod": MULTIPLICATIVE_PRECEDENCE,
}
"""Binary operator -> precedence; every binary operator groups to the left."""

IDENTIFIER: Final = re.compile(r"[^\W\d]\w{0,127}")
"""An OData identifier (``odataIdentifier``): a letter or ``_``, then letters, digits, ``_``."""

# Names that would read back as something else when printed bare.
_RESERVED_ANY_CASE: Final = frozenset({"true", "false", "null", "not"})
_RESERVED_EXACT: Final = frozenset({"INF", "NaN"})


def check_identifier(name: object, what: str) -> str:
    """``name`` if it is a usable OData identifier, else a clear error (never injectable text)."""
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a str, not {type(name).__name__}")
    if IDENTIFIER.fullmatch(name) is None:
        raise ODataError(f"{what} {name!r} is not an OData identifier")
    if name.lower() in _RESERVED_ANY_CASE or name in _RESERVED_EXACT:
        raise ODataError(f"{what} {name!r} is a reserved OData word")
    return name


def _binary(op: str, node: Expr, other: object, reverse: bool) -> Expr:
    """``node op other`` (``other op node`` when ``reverse``): :meth:`Expr.operate` for a binary
    operator, which the Python operators call directly, as it is most of what a query does."""
    operand = other if isinstance(other, Expr) else _literal(other)
    make = _BINARY_MAKERS[op]
    return make(op, operand, node) if reverse else make(op, node, operand)


def _function(name: str, node: Expr, others: tuple[object, ...]) -> Call:
    """``name(node, *others)`` for a canonical function given its right number of arguments:
    :meth:`Expr.operate` for a function, which the function methods call directly."""
    if not others:
        return _call(name, (node,))
    if len(others) == 1:
        other = others[0]
        return _call(name, (node, other if isinstance(other, Expr) else _literal(other)))
    return _call(name, (node, *[o if isinstance(o, Expr) else _literal(o) for o in others]))


def _unset_printer(expr: Expr) -> str:
    return object.__repr__(expr)  # only before the printer is loaded, which the package does


_printer: Callable[[Expr], str] = _unset_printer


def use_printer(printer: Callable[[Expr], str]) -> None:
    """Make ``str(node)`` the OData text: the printer module calls this when it loads.

    The printer depends on the tree, never the other way round (no import cycle); importing
    :mod:`flinkey_async.odata` loads both.
    """
    global _printer
    _printer = printer


class Expr:
    """Base of every expression node; its operators and methods build new nodes.

    ======================  ==========================
    Python                  OData
    ======================  ==========================
    ``a == b``, ``a != b``  ``a eq b``, ``a ne b``
    ``<  <=  >  >=``        ``lt le gt ge``
    ``a & b``, ``a | b``    ``a and b``, ``a or b``
    ``~a``                  ``not (a)``
    ``+ - * / %``, ``-a``   ``add sub mul div mod``, ``-a``
    ======================  ==========================
    """

    __slots__ = ()

    # -- structure -------------------------------------------------------------------------
    def key(self) -> tuple[Any, ...]:
        """A hashable tuple describing the tree; equal keys mean equal trees.

        Flat (the nodes in prefix order), so it is built, hashed and compared without
        recursion however deep the tree is.
        """
        return tree_key(self)

    def same_as(self, other: object) -> bool:
        """Structural equality (``==`` builds a comparison node instead)."""
        return isinstance(other, Expr) and self.key() == other.key()

    def __hash__(self) -> int:
        return hash(self.key())

    def __bool__(self) -> bool:
        raise TypeError(
            "an OData expression has no truth value: combine conditions with & | ~ "
            "(not with and/or/not), and compare trees with .same_as()"
        )

    def __contains__(self, item: object) -> bool:
        raise TypeError("use .contains(text) or .in_(values) to build an OData condition")

    def __str__(self) -> str:
        return _printer(self)

    def __repr__(self) -> str:
        return tree_repr(self)

    # -- operators -------------------------------------------------------------------------
    @overload
    def operate(self, op: CompareOp, other: object, /, *, reverse: bool = False) -> Comparison: ...
    @overload
    def operate(self, op: LogicalOp, other: object, /, *, reverse: bool = False) -> Logical: ...
    @overload
    def operate(
        self, op: ArithmeticOp, other: object, /, *, reverse: bool = False
    ) -> Arithmetic: ...
    @overload
    def operate(self, op: TypingLiteral["not"], /) -> Not: ...
    @overload
    def operate(self, op: TypingLiteral["neg"], /) -> Negate: ...
    @overload
    def operate(self, op: str, /, *others: object, reverse: bool = False) -> Expr: ...
    def operate(self, op: str, /, *others: object, reverse: bool = False) -> Expr:
        """The generic operation behind every operator and method below (as SQLAlchemy Core's
        ``operate()``): a binary operator (``eq`` ... ``or``, ``add`` ... ``mod``) with ``self``
        on the left (on the right when ``reverse``), ``not`` or ``neg`` of ``self``, or a
        canonical function with ``self`` as its first argument. Plain values become literals.

        Its two paths, :func:`_binary` and :func:`_function`, are where operands are coerced and
        nodes made; the Python operators and the function methods call them directly, sparing
        a query's dozens of operations the argument packing. Nodes are made through the
        unchecked constructors (``_comparison`` ...): ``self`` is a node, ``op`` comes from a
        fixed table and a value becomes a literal, so the public constructors' checks could
        never fail here and would only cost time.
        """
        if op in _BINARY_MAKERS:
            if len(others) != 1:
                raise TypeError(f"{op} takes one other operand, got {len(others)}")
            return _binary(op, self, others[0], reverse)
        if op == "not" or op == "neg":
            if others:
                raise TypeError(f"{op} takes no other operand")
            return _not(self) if op == "not" else _negate(self)
        arity = FUNCTIONS.get(op)
        if arity is None:
            raise ODataError(f"no OData operator or function {op!r}")
        if not arity[0] <= len(others) + 1 <= arity[1]:
            raise TypeError(
                f"{op}() takes {arity[0]} to {arity[1]} arguments, got {len(others) + 1}"
            )
        return _function(op, self, others)

    def __eq__(self, other: object) -> Comparison:  # type: ignore[override]
        return _binary("eq", self, other, False)  # type: ignore[return-value]

    def __ne__(self, other: object) -> Comparison:  # type: ignore[override]
        return _binary("ne", self, other, False)  # type: ignore[return-value]

    def __lt__(self, other: object) -> Comparison:
        return _binary("lt", self, other, False)  # type: ignore[return-value]

    def __le__(self, other: object) -> Comparison:
        return _binary("le", self, other, False)  # type: ignore[return-value]

    def __gt__(self, other: object) -> Comparison:
        return _binary("gt", self, other, False)  # type: ignore[return-value]

    def __ge__(self, other: object) -> Comparison:
        return _binary("ge", self, other, False)  # type: ignore[return-value]

    def __and__(self, other: object) -> Logical:
        return _binary("and", self, other, False)  # type: ignore[return-value]

    def __rand__(self, other: object) -> Logical:
        return _binary("and", self, other, True)  # type: ignore[return-value]

    def __or__(self, other: object) -> Logical:
        return _binary("or", self, other, False)  # type: ignore[return-value]

    def __ror__(self, other: object) -> Logical:
        return _binary("or", self, other, True)  # type: ignore[return-value]

    def __add__(self, other: object) -> Arithmetic:
        return _binary("add", self, other, False)  # type: ignore[return-value]

    def __radd__(self, other: object) -> Arithmetic:
        return _binary("add", self, other, True)  # type: ignore[return-value]

    def __sub__(self, other: object) -> Arithmetic:
        return _binary("sub", self, other, False)  # type: ignore[return-value]

    def __rsub__(self, other: object) -> Arithmetic:
        return _binary("sub", self, other, True)  # type: ignore[return-value]

    def __mul__(self, other: object) -> Arithmetic:
        return _binary("mul", self, other, False)  # type: ignore[return-value]

    def __rmul__(self, other: object) -> Arithmetic:
        return _binary("mul", self, other, True)  # type: ignore[return-value]

    def __truediv__(self, other: object) -> Arithmetic:
        return _binary("div", self, other, False)  # type: ignore[return-value]

    def __rtruediv__(self, other: object) -> Arithmetic:
        return _binary("div", self, other, True)  # type: ignore[return-value]

    def __mod__(self, other: object) -> Arithmetic:
        return _binary("mod", self, other, False)  # type: ignore[return-value]

    def __rmod__(self, other: object) -> Arithmetic:
        return _binary("mod", self, other, True)  # type: ignore[return-value]

    def __invert__(self) -> Not:
        return self.operate("not")

    def __neg__(self) -> Negate:
        return self.operate("neg")

    def is_null(self) -> Comparison:
        """``x eq null``."""
        return self.operate("eq", None)

    def is_not_null(self) -> Comparison:
        """``x ne null``."""
        return self.operate("ne", None)

    def in_(self, values: Iterable[object]) -> Expr:
        """``x in (v1,v2,...)``; an empty list is the literal ``false`` (servers reject ``()``)."""
        if isinstance(values, str | bytes) or not isinstance(values, Iterable):
            raise TypeError("in_() takes a list of values, e.g. .in_(['a', 'b'])")
        items: list[Literal] = []
        for value in values:
            if isinstance(value, Expr):
                raise TypeError("in_() takes plain values; OData lists hold only literals")
            items.append(_literal(value))
        if not items:
            return _literal(False)
        return _in(self, _list_expr(tuple(items)))

    # -- functions -------------------------------------------------------------------------
    def __round__(self, ndigits: None = None) -> Call:
        if ndigits is not None:
            raise TypeError("OData round() has no digits argument; use round(expr)")
        return _function("round", self, ())

    def __floor__(self) -> Call:
        return _function("floor", self, ())

    def __ceil__(self) -> Call:
        return _function("ceiling", self, ())

    def contains(self, text: object) -> Call:
        """``contains(x,text)``."""
        return _function("contains", self, (text,))

    def startswith(self, prefix: object) -> Call:
        """``startswith(x,prefix)``."""
        return _function("startswith", self, (prefix,))

    def endswith(self, suffix: object) -> Call:
        """``endswith(x,suffix)``."""
        return _function("endswith", self, (suffix,))

    def indexof(self, text: object) -> Call:
        """``indexof(x,text)``: 0-based, -1 when absent."""
        return _function("indexof", self, (text,))

    def concat(self, other: object) -> Call:
        """``concat(x,other)``."""
        return _function("concat", self, (other,))

    def lower(self) -> Call:
        """``tolower(x)``."""
        return _function("tolower", self, ())

    def upper(self) -> Call:
        """``toupper(x)``."""
        return _function("toupper", self, ())

    def trim(self) -> Call:
        """``trim(x)``."""
        return _function("trim", self, ())

    def length(self) -> Call:
        """``length(x)``."""
        return _function("length", self, ())

    def substring(self, start: object, length: object = None) -> Call:
        """``substring(x,start[,length])``."""
        if length is None:
            return _function("substring", self, (start,))
        return _function("substring", self, (start, length))

    # -- ordering --------------------------------------------------------------------------
    def asc(self) -> OrderKey:
        """Ascending ``$orderby`` key (nulls first)."""
        return OrderKey(self, descending=False)

    def desc(self) -> OrderKey:
        """Descending ``$orderby`` key (nulls last)."""
        return OrderKey(self, descending=True)


def as_expr(value: object) -> Expr:
    """A node for ``value``: nodes pass through, anything else becomes a :class:`Literal`.

    Text is never parsed here: ``"a' or 'b"`` is one string literal, not OData.
    """
    if isinstance(value, Expr):
        return value
    return _literal(value)


def _check_expr(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, Expr):
        raise TypeError(
            f"{type(instance).__name__}.{attribute.name} must be an OData expression, "
            f"not {type(value).__name__}"
        )


def _check_op(allowed: frozenset[str]) -> Any:
    def check(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value not in allowed:
            raise ODataError(
                f"{type(instance).__name__} operator must be one of {sorted(allowed)}, "
                f"not {value!r}"
            )

    return check


def _property_name(value: object) -> str:
    return check_identifier(value, "property name")


@attrs.frozen(eq=False, repr=False)
class Property(Expr):
    """A property of the entity, by its wire (JSON) name: ``licensePlate``."""

    name: str = attrs.field(converter=_property_name)


def _literal_value(value: object) -> LiteralValue:
    """Normalise and check a Python value for a literal, by its kind (``_values.KINDS``)."""
    if isinstance(value, enum.Enum):
        value = value.value
    found = kind_of(value)
    if found is None:
        raise TypeError(f"cannot use a {type(value).__name__} as an OData literal: {value!r}")
    return found.check(value)


@attrs.frozen(eq=False, repr=False)
class Literal(Expr):
    """A constant: null, bool, int, float/Decimal, str, date, aware datetime, time, duration
    (``timedelta``), GUID (``UUID``) or binary (``bytes``). ``Enum`` members become their value.

    A naive ``datetime`` is rejected: the service would have to guess its offset.
    """

    value: LiteralValue = attrs.field(converter=_literal_value)


@attrs.frozen(eq=False, repr=False)
class Comparison(Expr):
    """``left op right`` with op one of ``eq ne gt ge lt le``."""

    op: CompareOp = attrs.field(validator=_check_op(COMPARE_OPS))
    left: Expr = attrs.field(validator=_check_expr)
    right: Expr = attrs.field(validator=_check_expr)


@attrs.frozen(eq=False, repr=False)
class Logical(Expr):
    """``left and right`` / ``left or right``."""

    op: LogicalOp = attrs.field(validator=_check_op(LOGICAL_OPS))
    left: Expr = attrs.field(validator=_check_expr)
    right: Expr = attrs.field(validator=_check_expr)


@attrs.frozen(eq=False, repr=False)
class Not(Expr):
    """``not (operand)``."""

    operand: Expr = attrs.field(validator=_check_expr)


@attrs.frozen(eq=False, repr=False)
class Arithmetic(Expr):
    """``left op right`` with op one of ``add sub mul div divby mod``."""

    op: ArithmeticOp = attrs.field(validator=_check_op(ARITHMETIC_OPS))
    left: Expr = attrs.field(validator=_check_expr)
    right: Expr = attrs.field(validator=_check_expr)


@attrs.frozen(eq=False, repr=False)
class Negate(Expr):
    """``-operand``."""

    operand: Expr = attrs.field(validator=_check_expr)


def _literal_items(items: Iterable[object]) -> tuple[Literal, ...]:
    result = tuple(items)
    for item in result:
        if not isinstance(item, Literal):
            raise ODataError("an OData list holds only literals")
    return result  # type: ignore[return-value]


@attrs.frozen(eq=False, repr=False)
class ListExpr(Expr):
    """``(v1,v2,...)``, the right operand of ``in``. Holds literals only."""

    items: tuple[Literal, ...] = attrs.field(converter=_literal_items)


def _check_collection(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    _check_expr(instance, attribute, value)
    if isinstance(value, Literal):
        raise ODataError("the right operand of 'in' must be a list, e.g. ListExpr((Literal(1),))")


@attrs.frozen(eq=False, repr=False)
class In(Expr):
    """``operand in collection``; ``collection`` is a :class:`ListExpr` or a collection-valued
    expression. ``in`` binds like a primary operator (tighter than ``not`` and ``-``)."""

    operand: Expr = attrs.field(validator=_check_expr)
    collection: Expr = attrs.field(validator=_check_collection)


def _call_name(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"function name must be a str, not {type(value).__name__}")
    lowered = value.lower()
    if lowered in FUNCTIONS:
        return lowered
    if lowered == "not":
        raise ODataError("'not' is an operator, not a function name")
    if IDENTIFIER.fullmatch(value) is None:
        raise ODataError(f"function name {value!r} is not an OData identifier")
    return value


def _call_args(value: Iterable[object]) -> tuple[Expr, ...]:
    args = tuple(value)
    for arg in args:
        if not isinstance(arg, Expr):
            raise TypeError(f"function arguments must be OData expressions, not {arg!r}")
    return args  # type: ignore[return-value]


@attrs.frozen(eq=False, repr=False)
class Call(Expr):
    """``name(arg,...)``: a canonical function (see :data:`FUNCTIONS`, arity checked), or any
    other identifier with arguments, such as a key lookup ``Items(1)``, which only the parser
    produces and the evaluator refuses."""

    name: str = attrs.field(converter=_call_name)
    args: tuple[Expr, ...] = attrs.field(converter=_call_args, default=())

    def __attrs_post_init__(self) -> None:
        arity = FUNCTIONS.get(self.name)
        if arity is not None and not arity[0] <= len(self.args) <= arity[1]:
            expected = str(arity[0]) if arity[0] == arity[1] else f"{arity[0]} or {arity[1]}"
            raise ODataError(f"{self.name}() takes {expected} argument(s), got {len(self.args)}")


def _raw_text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"raw() takes a str, not {type(value).__name__}")
    if not value.strip():
        raise ODataError("raw() needs a non-empty OData fragment")
    return value


@attrs.frozen(eq=False, repr=False)
class Raw(Expr):
    """A hand-written OData fragment, printed verbatim (parenthesised when nested).

    The escape hatch for what the builder cannot say. Nothing about it is checked or escaped.
    """

    text: str = attrs.field(converter=_raw_text)


def tree_key(expr: Expr) -> tuple[Any, ...]:
    """The nodes of ``expr`` in prefix order, as one flat tuple of tokens (see :meth:`Expr.key`).

    Each node gives a tag (an operator, ``"prop"``, ``"call"``, ...) and the fields that fix
    how many children follow, so no two trees give the same tokens. A stack, not recursion:
    trees may nest thousands of levels deep.
    """
    tokens: list[Any] = []
    pending: list[Any] = [expr]
    while pending:
        node = pending.pop()
        kind = _node_kind(type(node))
        if kind is Literal:
            value = node.value
            tokens.append(kind_of(value).key(value))  # type: ignore[union-attr]
        elif kind is Property:
            tokens += ("prop", node.name)
        elif kind is Comparison or kind is Logical or kind is Arithmetic:
            tokens.append(node.op)  # an operator names its node's class
            pending += (node.right, node.left)
        elif kind is Not or kind is Negate:
            tokens.append("not" if kind is Not else "neg")
            pending.append(node.operand)
        elif kind is In:
            tokens.append("in")
            pending += (node.collection, node.operand)
        elif kind is Call:
            tokens += ("call", node.name, len(node.args))
            pending.extend(reversed(node.args))
        elif kind is ListExpr:
            tokens += ("list", len(node.items))
            pending.extend(reversed(node.items))
        elif kind is Raw:
            tokens += ("raw", node.text)
        else:
            raise TypeError(f"not an OData expression node: {node!r}")
    return tuple(tokens)


def tree_repr(expr: Expr) -> str:
    """``Comparison(op='eq', left=Property(name='id'), right=Literal(value=7))``, as attrs
    writes it, built on a stack: a tree nested thousands of levels deep has a repr too."""
    texts: list[str] = []
    work: list[tuple[Any, bool]] = [(expr, False)]
    while work:
        node, ready = work.pop()
        names = [field.name for field in attrs.fields(type(node))]
        values = [getattr(node, name) for name in names]
        if not ready:
            work.append((node, True))
            for value in reversed(values):
                if isinstance(value, Expr):
                    work.append((value, False))
                elif type(value) is tuple:
                    work.extend((item, False) for item in reversed(value))
            continue
        count = sum(
            1 if isinstance(value, Expr) else len(value) if type(value) is tuple else 0
            for value in values
        )
        children = iter(texts[len(texts) - count :])
        del texts[len(texts) - count :]
        parts = []
        for name, value in zip(names, values, strict=True):
            if isinstance(value, Expr):
                shown = next(children)
            elif type(value) is tuple:
                items = [next(children) for _ in value]
                shown = "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
            else:
                shown = repr(value)
            parts.append(f"{name}={shown}")
        texts.append(f"{type(node).__name__}({', '.join(parts)})")
    return texts[0]


_NODE_TYPES: Final = frozenset(
    {Property, Literal, Comparison, Logical, Arithmetic, Not, Negate, In, Call, ListExpr, Raw}
)


def _node_kind(kind: type) -> type | None:
    """The node class ``kind`` is, or derives from (``None`` for anything else)."""
    if kind in _NODE_TYPES:
        return kind
    for base in kind.__mro__:
        if base in _NODE_TYPES:
            return base
    return None


def precedence(expr: Expr) -> int:
    """How tightly ``expr`` binds when printed (0 for raw text: always wrapped)."""
    kind = _node_kind(type(expr))
    if kind is Comparison or kind is Logical or kind is Arithmetic:
        return BINARY_PRECEDENCE[expr.op]  # type: ignore[attr-defined]
    if kind is Not or kind is Negate:
        return UNARY_PRECEDENCE
    if kind is In:
        return PRIMARY_PRECEDENCE if is_empty_in(expr) else IN_PRECEDENCE  # type: ignore[arg-type]
    if kind is Raw:
        return 0
    return PRIMARY_PRECEDENCE


def is_empty_in(expr: In) -> bool:
    """``x in ()``: printed as ``false``, since services reject an empty list."""
    collection = expr.collection
    return type(collection) is ListExpr and not collection.items


@attrs.frozen(eq=False)
class OrderKey:
    """One ``$orderby`` item: an expression and a direction."""

    expr: Expr = attrs.field(validator=_check_expr)
    descending: bool = False

    def key(self) -> tuple[Any, ...]:
        return (self.expr.key(), bool(self.descending))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OrderKey):
            return NotImplemented
        return self.key() == other.key()

    def __hash__(self) -> int:
        return hash(self.key())


# -- unchecked constructors -----------------------------------------------------------------
#
# The public constructors check every argument (attrs validators and converters), which is what
# a caller assembling nodes by hand needs. The builder's operators and the parser already know
# their arguments are right, and a 10-clause filter makes some 40 nodes, so they go through
# these instead: a new instance with its slots filled, with no checks and no ``__init__``.

_Node = TypeVar("_Node")
_new: Final = object.__new__


def _unchecked1(cls: type[_Node], name: str) -> Callable[[Any], _Node]:
    set_value = getattr(cls, name).__set__

    def make(value: Any) -> _Node:
        node = _new(cls)
        set_value(node, value)
        return node

    return make


def _unchecked2(cls: type[_Node], first: str, second: str) -> Callable[[Any, Any], _Node]:
    set_first = getattr(cls, first).__set__
    set_second = getattr(cls, second).__set__

    def make(a: Any, b: Any) -> _Node:
        node = _new(cls)
        set_first(node, a)
        set_second(node, b)
        return node

    return make


def _unchecked3(
    cls: type[_Node], first: str, second: str, third: str
) -> Callable[[Any, Any, Any], _Node]:
    set_first = getattr(cls, first).__set__
    set_second = getattr(cls, second).__set__
    set_third = getattr(cls, third).__set__

    def make(a: Any, b: Any, c: Any) -> _Node:
        node = _new(cls)
        set_first(node, a)
        set_second(node, b)
        set_third(node, c)
        return node

    return make


_comparison: Final = _unchecked3(Comparison, "op", "left", "right")
_logical: Final = _unchecked3(Logical, "op", "left", "right")
_arithmetic: Final = _unchecked3(Arithmetic, "op", "left", "right")
_not: Final = _unchecked1(Not, "operand")
_negate: Final = _unchecked1(Negate, "operand")
_in: Final = _unchecked2(In, "operand", "collection")
_list_expr: Final = _unchecked1(ListExpr, "items")
_call: Final = _unchecked2(Call, "name", "args")  # a canonical name with the right arity
_property: Final = _unchecked1(Property, "name")  # a checked identifier
_BINARY_MAKERS: Final[dict[str, Callable[[str, Any, Any], Expr]]] = {
    **dict.fromkeys(COMPARE_OPS, _comparison),
    **dict.fromkeys(LOGICAL_OPS, _logical),
    **dict.fromkeys(ARITHMETIC_OPS, _arithmetic),
}
"""Binary operator -> the unchecked constructor of its node."""
_set_literal_value: Final[Callable[[Literal, object], None]] = vars(Literal)["value"].__set__


def _literal(value: object) -> Literal:
    """``Literal(value)`` with the common values (ASCII text, small ints, bools, floats, null)
    taken as they are; everything else goes through the one normalising check."""
    kind = type(value)
    if kind is str:
        if not value.isascii():  # type: ignore[attr-defined]
            value = _literal_value(value)  # only non-ASCII text can hold a lone surrogate
    elif kind is int:
        value = checked_int(value)  # type: ignore[arg-type]
    elif value is not None and kind is not bool and kind is not float:
        value = _literal_value(value)
    node: Literal = _new(Literal)
    _set_literal_value(node, value)
    return node

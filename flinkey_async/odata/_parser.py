"""OData text -> the same tree the builder makes (operator-precedence parsing, by hand).

Entry points take *decoded* text, as a web framework hands over query values; with
``encoded=True`` they first percent-decode (``now%28%20%29`` is ``now( )``) and report error
positions in the encoded text. Errors are :class:`ODataSyntaxError` with a 0-based
``position``: the first character at which the text stops being valid OData.

OData 4.01 rules followed here: keywords, function names and option names are case-insensitive
(``EQ``, ``AND``, ``$OrderBy``), ``$`` before an option name is optional, operators need
whitespace around them, and the whole expression may not start or end with whitespace.
``in`` binds like a primary operator; ``not`` and ``-`` bind tighter than ``mul``. Text may nest
at most :data:`MAX_NESTING` levels deep.

One module although long: :class:`_Parser` is one grammar, and the entry points and query-option
readers around it share its error positions; the literal scanners live in :mod:`._literals`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Iterable, Mapping
from typing import Any, Final, TypeAlias, TypeVar

from flinkey_async.odata._ast import (
    BINARY_PRECEDENCE,
    FUNCTIONS,
    IDENTIFIER,
    IN_PRECEDENCE,
    UNARY_PRECEDENCE,
    Call,
    Expr,
    Literal,
    OrderKey,
    Property,
    _arithmetic,
    _call,
    _comparison,
    _in,
    _list_expr,
    _literal,
    _logical,
    _negate,
    _not,
    _property,
)
from flinkey_async.odata._builder import Query
from flinkey_async.odata._encoding import decode_with_positions
from flinkey_async.odata._errors import ODataError, ODataSyntaxError, UnsupportedODataError
from flinkey_async.odata._literals import (
    DIGITS,
    GUID_PATTERN,
    INT64_MAX,
    fail,
    found,
    scan_binary,
    scan_boolean,
    scan_date,
    scan_date_or_datetime,
    scan_datetime,
    scan_duration,
    scan_guid,
    scan_number,
    scan_string,
    scan_time,
)

__all__ = [
    "MAX_NESTING",
    "parse_filter",
    "parse_literal",
    "parse_orderby",
    "parse_query",
    "parse_query_string",
    "parse_select",
]

T = TypeVar("T")

MAX_NESTING: Final = 100
"""How deeply an expression may nest by default: each parenthesis, ``not``, unary ``-``, function
call and ``in`` list opens a level, and ``not (`` or ``-(`` opens one. Deeper text is an
:class:`ODataSyntaxError` ("nested too deeply") where the level past the limit opens. A chain
such as ``a and b and c ...`` does not nest. The parser keeps its nesting on the heap (see
:func:`_run`), so the limit is what a service accepts, not what the stack allows:
``parse_filter(text, max_nesting=...)`` reads deeper text from a trusted source."""

_Step: TypeAlias = Generator[Any, Any, Expr]
"""A piece of parsing that nests: it yields the pieces it needs (to :func:`_run`), and is sent
their trees back, instead of calling them."""


def _run(step: _Step) -> Expr:
    """Drive ``step`` and the steps it asks for with a list as the stack, not Python's: text
    nested a thousand levels deep parses in a few frames."""
    pending = [step]
    value: Any = None
    while True:
        try:
            wanted = pending[-1].send(value)
        except StopIteration as done:
            pending.pop()
            if not pending:
                return done.value  # type: ignore[no-any-return]
            value = done.value
        else:
            pending.append(wanted)
            value = None


def _done(result: Expr | _Step) -> Expr:
    """The tree of a parse result that may still be a step."""
    return result if isinstance(result, Expr) else _run(result)


_WHITESPACE: Final = frozenset(" \t")
_ITEM_ENDS: Final = frozenset(",)")
_SUPPORTED_OPTIONS: Final = ("filter", "select", "orderby", "top", "skip", "count")
_UNSUPPORTED_OPTIONS: Final = (
    "expand",
    "search",
    "format",
    "apply",
    "compute",
    "levels",
    "index",
    "skiptoken",
    "deltatoken",
    "schemaversion",
    "id",
)
_COMPARE: Final = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})
_LOGICAL: Final = frozenset({"and", "or"})


_SPACES: Final = re.compile(r"[ \t]+")
# Whitespace, a word, and the whitespace after it: one look decides whether an operator follows.
_SPACED_WORD: Final = re.compile(r"[ \t]+([^\W\d]\w*)([ \t]*)")
_OPERATOR_PRECEDENCE: Final = {**BINARY_PRECEDENCE, "in": IN_PRECEDENCE}
# Operator -> the node maker. The parser builds nodes through the unchecked constructors: the
# operator comes from this table and both operands are nodes, so no check could fail.
_MAKERS: Final[dict[str, Callable[[str, Expr, Expr], Expr]]] = {
    **{op: _comparison for op in _COMPARE},
    **{op: _logical for op in _LOGICAL},
    **{op: _arithmetic for op in ("add", "sub", "mul", "div", "divby", "mod")},
}
# Words that may not name a property in any case, or only in this exact case (INF, NaN): a
# word among these, lowered, goes through Property()'s checks and error messages.
_CHECKED_WORDS: Final = frozenset({"true", "false", "null", "not", "inf", "nan"})
_HEX: Final = frozenset("0123456789abcdefABCDEF")


def _looks_like_guid(text: str, i: int) -> bool:
    return (
        text[i + 8 : i + 9] == "-" and text[i] in _HEX and GUID_PATTERN.match(text, i) is not None
    )


class _Parser:
    """One pass over one decoded text; ``pos`` only moves forward except to undo a peek."""

    __slots__ = ("ahead", "ahead_at", "depth", "max_nesting", "n", "operand_at", "pos", "text")

    def __init__(self, text: str, max_nesting: int = MAX_NESTING) -> None:
        self.text = text
        self.max_nesting = max_nesting
        self.n = len(text)
        self.pos = 0
        # The last look for an operator: (lowered word, its precedence or -1, end, whether
        # whitespace follows), and where it was taken. When the operand of 'not' or '-' ends,
        # the enclosing expression looks at the same place again; the text is only read once.
        self.ahead: tuple[str, int, int, bool] | None = None
        self.ahead_at = -1
        self.depth = 0  # levels of nesting open at pos (see expression())
        self.operand_at = -1  # where the operand of the last 'not' or '-' starts

    # -- small tools -----------------------------------------------------------------------
    def error(self, position: int, message: str) -> ODataSyntaxError:
        return ODataSyntaxError(message, self.text, position)

    def skip_ws(self) -> bool:
        match = _SPACES.match(self.text, self.pos)
        if match is None:
            return False
        self.pos = match.end()
        return True

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < self.n else ""

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise fail(self.text, self.pos, repr(char))
        self.pos += 1

    def word_end(self, start: int) -> int:
        match = IDENTIFIER.match(self.text, start)
        return match.end() if match else start

    def no_leading_space(self) -> None:
        if self.skip_ws():
            if self.pos >= self.n:
                raise fail(self.text, self.pos, "an expression")
            raise self.error(self.pos, "whitespace is not allowed before the expression")

    def expect_end(self, expected: str = "an operator or the end") -> None:
        if self.pos >= self.n:
            return
        if self.skip_ws() and self.pos >= self.n:
            raise self.error(self.pos, "whitespace is not allowed after the expression")
        raise fail(self.text, self.pos, expected)

    # -- expressions -----------------------------------------------------------------------
    def expression(self, min_precedence: int = 0, opened_at: int = -1) -> _Step:
        """Operands joined by binary operators of at least ``min_precedence``.

        Operator-precedence parsing with a stack of pending operators, not a call per
        precedence level: only what really nests (parentheses, ``not``, ``-``, calls, lists)
        asks :func:`_run` for a nested step. Each of those passes ``opened_at``, where it
        starts, and opens a level; more than ``max_nesting`` levels is an error there.
        """
        if opened_at >= 0:
            if self.depth >= self.max_nesting:
                raise self.error(
                    opened_at, f"nested too deeply (more than {self.max_nesting} levels)"
                )
            self.depth += 1
        left = self.unary()
        if not isinstance(left, Expr):
            left = yield left
        text = self.text
        pending: list[tuple[str, Expr, int]] = []  # operator, its left operand, its precedence
        while True:
            # One look for "<whitespace><word><whitespace>": an operator continues the
            # expression; anything else ends it and is left to the caller.
            pos = self.pos
            if pos >= self.n or text[pos] not in _WHITESPACE:
                break
            if pos == self.ahead_at:
                ahead = self.ahead
            else:
                match = _SPACED_WORD.match(text, pos)
                if match is None:
                    ahead = None
                else:
                    lowered = match.group(1).lower()
                    ahead = (
                        lowered,
                        _OPERATOR_PRECEDENCE.get(lowered, -1),
                        match.end(),
                        bool(match.group(2)),
                    )
                self.ahead, self.ahead_at = ahead, pos
            if ahead is None:
                break
            word, precedence, end, spaced = ahead
            if precedence < min_precedence:
                break
            if not spaced:
                raise fail(text, end, f"whitespace after {word!r}")
            self.pos = end
            if word == "in":  # binds tightest: it takes the operand just read
                left = _in(left, (yield self.collection()))
                continue
            # Operators group to the left: finish the pending ones that bind at least as tightly.
            while pending and pending[-1][2] >= precedence:
                op, first, _ = pending.pop()
                left = _MAKERS[op](op, first, left)
            pending.append((word, left, precedence))
            left = self.unary()
            if not isinstance(left, Expr):
                left = yield left
        while pending:
            op, first, _ = pending.pop()
            left = _MAKERS[op](op, first, left)
        if opened_at >= 0:
            self.depth -= 1
        return left

    def lone_operand(self, opened_at: int) -> Expr | None:
        """An argument or list item that is a single name or literal right before ``,`` or
        ``)``, read without a nested step (most are); ``None``, with nothing read, otherwise.

        It opens a level as :meth:`expression` would, so the nesting limit holds the same.
        """
        if self.depth >= self.max_nesting:
            raise self.error(opened_at, f"nested too deeply (more than {self.max_nesting} levels)")
        start = self.pos
        operand = self.unary()
        if isinstance(operand, Expr) and self.peek() in _ITEM_ENDS:
            return operand
        self.pos = start  # a step is never started here: it reads nothing until driven
        return None

    def unary(self) -> Expr | _Step:
        """An operand: a tree, or for what nests (parentheses, ``-``, ``not``, calls) a step."""
        text, i = self.text, self.pos
        c = text[i] if i < self.n else ""
        if c == "'":
            value, self.pos = scan_string(text, i)
            return _literal(value)
        if c in DIGITS and c:
            return self.number_like()
        if c == "(":
            return self.parenthesised(i)
        if c == "-":
            following = text[i + 1 : i + 2]
            if (following and following in DIGITS) or (
                text.startswith("-INF", i) and self.word_end(i + 1) == i + 4
            ):
                return self.number_like()
            return self.negated(i)
        if c == "+":
            return self.number_like()
        if c and self.word_end(i) > i:
            return self.word()
        if c in ("$", "@"):
            raise self.error(i, f"{c}-names ($it, $root, aliases) are not supported")
        if c in ("[", "{"):
            raise self.error(i, "JSON arrays and objects are not supported")
        raise fail(text, i, "an expression")

    def parenthesised(self, i: int) -> _Step:
        self.pos += 1
        self.skip_ws()
        # 'not (' and '-(' are one level: the printer writes them so around any operand.
        inner = yield self.expression(0, -1 if i == self.operand_at else i)
        self.skip_ws()
        if self.peek() != ")":
            hint = "; a list (a,b) may only follow 'in'" if self.peek() == "," else ""
            raise self.error(self.pos, f"expected ')', found {found(self.text, self.pos)}{hint}")
        self.pos += 1
        return inner  # type: ignore[no-any-return]

    def negated(self, i: int) -> _Step:
        self.pos += 1
        self.skip_ws()
        self.operand_at = self.pos
        return _negate((yield self.expression(UNARY_PRECEDENCE, i)))

    def negation(self, start: int, end: int) -> _Step:
        self.pos = end
        self.skip_ws()
        self.operand_at = self.pos
        return _not((yield self.expression(UNARY_PRECEDENCE, start)))

    def number_like(self) -> Expr:
        """Numbers, dates, date-times, times of day and GUIDs, which all start with digits."""
        text, i = self.text, self.pos
        if text[i + 8 : i + 9] == "-" and _looks_like_guid(text, i):
            value, self.pos = scan_guid(text, i)
            return _literal(value)
        j = i + 1 if text[i] in "+-" else i
        end = j
        while end < self.n and text[end] in DIGITS:
            end += 1
        after = text[end : end + 1]
        if after == "-" and end - j >= 4 and text[i] != "+":
            date_value, self.pos = scan_date_or_datetime(text, i)
            return _literal(date_value)
        if after == ":" and end - j == 2 and j == i:
            time_value, self.pos = scan_time(text, i)
            return _literal(time_value)
        number, self.pos = scan_number(text, i)
        return _literal(number)

    def word(self) -> Expr | _Step:
        text, start = self.text, self.pos
        if text[start + 8 : start + 9] == "-" and _looks_like_guid(text, start):
            guid, self.pos = scan_guid(text, start)
            return _literal(guid)
        end = self.word_end(start)
        word = text[start:end]
        lowered = word.lower()
        after = text[end : end + 1]
        if lowered in _CHECKED_WORDS:
            return self.keyword(word, lowered, start, end, after)
        if after == "(":
            return self.call(word, start, end)
        if after == "'":
            return self.prefixed_literal(lowered, start, end)
        self.pos = end
        if after == "/":
            raise self.error(end, "member paths ('/') are not supported")
        if after == ".":
            raise self.error(end, "qualified names ('.') are not supported")
        return _property(word)  # an identifier by its match, and not a reserved word

    def keyword(self, word: str, lowered: str, start: int, end: int, after: str) -> Expr | _Step:
        """``not``, ``true``, ``false``, ``null``, ``INF``, ``NaN``, or a name spelt like one."""
        if lowered == "not" and after and (after in _WHITESPACE or after == "("):
            return self.negation(start, end)
        if after == "(":
            return self.call(word, start, end)
        if after == "'":
            return self.prefixed_literal(lowered, start, end)
        self.pos = end
        if lowered in ("true", "false"):
            return _literal(lowered == "true")
        if lowered == "null":
            return _literal(None)
        if word == "INF":
            return _literal(float("inf"))
        if word == "NaN":
            return _literal(float("nan"))
        if after == "/":
            raise self.error(end, "member paths ('/') are not supported")
        if after == ".":
            raise self.error(end, "qualified names ('.') are not supported")
        try:
            return Property(word)
        except ODataError as error:
            raise self.error(start, str(error)) from None

    def call(self, name: str, start: int, end: int) -> _Step:
        self.pos = end + 1
        self.skip_ws()
        args: list[Expr] = []
        if self.peek() != ")":
            while True:
                arg = self.lone_operand(start)
                args.append(arg if arg is not None else (yield self.expression(0, start)))
                self.skip_ws()
                if self.peek() == ",":
                    self.pos += 1
                    self.skip_ws()
                    continue
                if self.peek() == ")":
                    break
                raise fail(self.text, self.pos, "',' or ')'")
        self.pos += 1
        lowered = name.lower()
        arity = FUNCTIONS.get(lowered)
        if arity is not None and arity[0] <= len(args) <= arity[1]:
            return _call(lowered, tuple(args))  # a canonical function, as Call() would name it
        try:
            return Call(name, tuple(args))
        except ODataError as error:
            raise self.error(start, str(error)) from None

    def prefixed_literal(self, prefix: str, start: int, end: int) -> Expr:
        text = self.text
        if prefix == "duration":
            value, i = scan_duration(text, end + 1)
        elif prefix == "binary":
            value, i = scan_binary(text, end + 1)  # type: ignore[assignment]
        elif prefix.startswith(("geography", "geometry")):
            raise UnsupportedODataError("geography and geometry literals are not supported")
        else:
            raise self.error(start, f"unknown literal prefix {text[start:end]!r}")
        if i >= self.n or text[i] != "'":
            raise fail(text, i, "a closing quote")
        self.pos = i + 1
        return _literal(value)

    def collection(self) -> _Step:
        """The right side of ``in``: a list of literals, or a parenthesised expression."""
        if self.peek() != "(":
            start = self.pos
            collection = self.unary()
            if not isinstance(collection, Expr):
                collection = yield collection
            if isinstance(collection, Literal):
                raise fail(self.text, start, "a list such as (1,2) after 'in'")
            return collection
        opened_at = self.pos
        self.pos += 1
        self.skip_ws()
        if self.peek() == ")":
            self.pos += 1
            return _list_expr(())
        first = self.lone_operand(opened_at)
        if first is None:
            first = yield self.expression(0, opened_at)
        self.skip_ws()
        if self.peek() == ")":
            self.pos += 1
            return _list_expr((first,)) if isinstance(first, Literal) else first
        if self.peek() != ",":
            raise fail(self.text, self.pos, "',' or ')'")
        if not isinstance(first, Literal):
            raise self.error(self.pos, "a list after 'in' may only hold literals")
        items = [first]
        while self.peek() == ",":
            self.pos += 1
            self.skip_ws()
            item_at = self.pos
            item = self.lone_operand(opened_at)
            if item is None:
                item = yield self.expression(0, opened_at)
            if not isinstance(item, Literal):
                raise self.error(item_at, "a list after 'in' may only hold literals")
            items.append(item)
            self.skip_ws()
        self.expect(")")
        return _list_expr(tuple(items))

    # -- whole options ---------------------------------------------------------------------
    def filter(self) -> Expr:
        self.no_leading_space()
        expr = _run(self.expression())
        self.expect_end()
        return expr

    def orderby(self) -> tuple[OrderKey, ...]:
        self.no_leading_space()
        keys: list[OrderKey] = []
        while True:
            expr = _run(self.expression())
            descending = False
            before = self.pos
            if self.skip_ws():
                end = self.word_end(self.pos)
                direction = self.text[self.pos : end].lower()
                if direction in ("asc", "desc"):
                    descending = direction == "desc"
                    self.pos = end
                else:
                    self.pos = before
            keys.append(OrderKey(expr, descending))
            before = self.pos
            self.skip_ws()
            if self.peek() == ",":
                self.pos += 1
                self.skip_ws()
                continue
            self.pos = before
            self.expect_end("an operator, 'asc', 'desc', ',' or the end")
            return tuple(keys)

    def select(self) -> tuple[str, ...]:
        names: list[str] = []
        star = False
        while True:
            self.skip_ws()
            start = self.pos
            if self.peek() == "*":
                self.pos += 1
                star = True
            else:
                end = self.word_end(start)
                if end == start:
                    raise fail(self.text, start, "a property name or '*'")
                try:
                    names.append(Property(self.text[start:end]).name)
                except ODataError as error:
                    raise self.error(start, str(error)) from None
                self.pos = end
            self.skip_ws()
            if self.peek() == ",":
                self.pos += 1
                continue
            if self.pos < self.n:
                raise fail(self.text, self.pos, "',' or the end")
            return () if star else tuple(names)


def _decoded(text: str, encoded: bool, parse: Callable[[str], T]) -> T:
    """Run ``parse`` on ``text``, first percent-decoding it when ``encoded``."""
    if not isinstance(text, str):
        raise TypeError(f"OData text must be a str, not {type(text).__name__}")
    if not encoded:
        return parse(text)
    decoded, starts = decode_with_positions(text)
    try:
        return parse(decoded)
    except ODataSyntaxError as error:
        raise ODataSyntaxError(error.message, text, starts[error.position]) from None


def _check_max_nesting(max_nesting: object) -> int:
    if isinstance(max_nesting, bool) or not isinstance(max_nesting, int):
        raise TypeError(f"max_nesting must be an int, not {type(max_nesting).__name__}")
    if max_nesting < 0:
        raise ODataError(f"max_nesting must not be negative, got {max_nesting}")
    return max_nesting


def parse_filter(text: str, *, encoded: bool = False, max_nesting: int = MAX_NESTING) -> Expr:
    """A ``$filter`` value (or any common expression) -> tree.

    ``max_nesting`` raises the nesting limit for trusted text, such as a deep tree the builder
    printed; any depth parses without running out of stack.
    """
    limit = _check_max_nesting(max_nesting)
    return _decoded(text, encoded, lambda decoded: _Parser(decoded, limit).filter())


def parse_orderby(
    text: str, *, encoded: bool = False, max_nesting: int = MAX_NESTING
) -> tuple[OrderKey, ...]:
    """A ``$orderby`` value -> order keys: ``"name,id desc"``."""
    limit = _check_max_nesting(max_nesting)
    return _decoded(text, encoded, lambda decoded: _Parser(decoded, limit).orderby())


def parse_select(text: str, *, encoded: bool = False) -> tuple[str, ...]:
    """A ``$select`` value -> property names (``*`` selects everything: empty tuple)."""
    return _decoded(text, encoded, lambda decoded: _Parser(decoded).select())


def _full(scan: Callable[[str, int], tuple[object, int]]) -> Callable[[str], Literal]:
    def parse(text: str) -> Literal:
        value, end = scan(text, 0)
        if end != len(text):
            raise fail(text, end, "the end of the value")
        return Literal(value)

    return parse


def _primitive_literal(text: str) -> Literal:
    """A literal as written in a URL expression (``'O''Neil'``, ``duration'P1D'``, ``-5``)."""
    parser = _Parser(text)
    if not text:
        raise fail(text, 0, "a literal")
    expr = _done(parser.unary())
    if not isinstance(expr, Literal):
        raise ODataSyntaxError("expected a literal", text, 0)
    parser.expect_end()
    return expr


def _enum_member(text: str, i: int) -> tuple[str, int]:
    """``Member`` or ``Member1,Member2`` (flags): enum values in a payload read as their text."""
    parser = _Parser(text)
    end = parser.word_end(i)
    if end == i:
        raise fail(text, i, "an enumeration member")
    while end < len(text) and text[end] == ",":
        nxt = parser.word_end(end + 1)
        if nxt == end + 1:
            raise fail(text, end + 1, "an enumeration member")
        end = nxt
    return text[i:end], end


def _primitive_value(text: str) -> Literal:
    """A primitive value as a payload carries it: the first alternative that reads all of it.

    An enumeration member reads as its name, a string, as this package treats enum values.
    """
    lowered = text.lower()
    if lowered.startswith(("srid=", "point(", "linestring(", "polygon(", "multi", "collection(")):
        raise UnsupportedODataError("geography and geometry values are not supported")
    scanners: tuple[Callable[[str, int], tuple[object, int]], ...] = (
        scan_boolean,
        scan_guid,
        scan_duration,
        scan_date,
        scan_datetime,
        scan_time,
        scan_number,
        _enum_member,
        scan_binary,
    )
    farthest: ODataSyntaxError | None = None
    for scan in scanners:
        try:
            value, end = scan(text, 0)
        except ODataSyntaxError as error:
            if farthest is None or error.position > farthest.position:
                farthest = error
            continue
        if end == len(text):
            return Literal(value)
        trailing = fail(text, end, "the end of the value")
        if farthest is None or trailing.position > farthest.position:
            farthest = trailing
    assert farthest is not None
    raise farthest


_LITERAL_RULES: Final[dict[str, tuple[Callable[[str], Literal], bool]]] = {
    # rule (lower case): (parser, whether a URL may percent-encode it)
    "boolean": (_full(scan_boolean), False),
    "booleanvalue": (_full(scan_boolean), False),
    "date": (_full(scan_date), False),
    "datevalue": (_full(scan_date), False),
    "datetimeoffsetvalue": (_full(scan_datetime), False),
    "decimalvalue": (_full(scan_number), False),
    "doublevalue": (_full(scan_number), False),
    "durationvalue": (_full(scan_duration), False),
    "timeofdayvalue": (_full(scan_time), False),
    "guidvalue": (_full(scan_guid), False),
    "binaryvalue": (_full(scan_binary), False),
    "primitivevalue": (_primitive_value, False),
    "stringliteral": (_full(scan_string), True),
    "string": (_full(scan_string), True),
    "primitiveliteral": (_primitive_literal, True),
}


def parse_literal(text: str, rule: str = "primitiveLiteral", *, encoded: bool = False) -> Literal:
    """One literal by its OData ABNF rule name.

    URL rules (``primitiveLiteral``, ``stringLiteral``) read the literal as written in a query:
    with ``encoded=True`` percent-encoding is decoded first (``%2B42`` is ``+42``). Payload rules
    (``dateTimeOffsetValue``, ``decimalValue``, ``primitiveValue``, ...) read a bare value and
    never decode: ``11%3A22`` is not a time of day.
    """
    try:
        parse, url_rule = _LITERAL_RULES[rule.lower()]
    except KeyError:
        known = ", ".join(sorted(_LITERAL_RULES))
        raise ODataError(f"unknown literal rule {rule!r}; known (any case): {known}") from None
    return _decoded(text, encoded and url_rule, parse)


# -- query options ------------------------------------------------------------------------


def _option(name: str) -> str | None:
    """The option a parameter name stands for (``filter``...), ``None`` for custom parameters."""
    lowered = name.lower()
    bare = lowered[1:] if lowered.startswith("$") else lowered
    if bare in _SUPPORTED_OPTIONS:
        return bare
    if not lowered.startswith("$"):
        return None  # a custom parameter (bare names only stand for supported options)
    if bare in _UNSUPPORTED_OPTIONS:
        raise UnsupportedODataError(f"the query option {name} is not supported")
    # Name where it goes wrong: '$filter ' breaks right after '$filter'.
    longest = 0
    for option in _SUPPORTED_OPTIONS + _UNSUPPORTED_OPTIONS:
        if lowered.startswith("$" + option):
            longest = max(longest, len(option) + 1)
    if longest:
        raise ODataSyntaxError(f"expected '=' after {name[:longest]!r}", name, longest)
    raise ODataSyntaxError(f"unknown system query option {name!r}", name, 0)


def _whole_number(text: str) -> int:
    """``$top`` / ``$skip``: ASCII digits, at most Edm.Int64's largest value."""
    for i, char in enumerate(text):
        if char not in DIGITS:
            raise fail(text, i, "a digit")
    if not text:
        raise fail(text, 0, "a number")
    digits = text.lstrip("0")
    if len(digits) > len(str(INT64_MAX)) or int(digits or "0") > INT64_MAX:
        raise ODataSyntaxError(f"expected a number up to {INT64_MAX} (Edm.Int64)", text, 0)
    return int(digits or "0")


def _count(text: str) -> bool:
    lowered = text.lower()
    if lowered not in ("true", "false"):
        raise fail(text, 0, "true or false")
    return lowered == "true"


_VALUE_PARSERS: Final[dict[str, Callable[[str], object]]] = {
    "filter": lambda text: _Parser(text).filter(),
    "select": lambda text: _Parser(text).select(),
    "orderby": lambda text: _Parser(text).orderby(),
    "top": _whole_number,
    "skip": _whole_number,
    "count": _count,
}


def _build(values: Mapping[str, object]) -> Query:
    return Query(
        filter_expr=values.get("filter"),  # type: ignore[arg-type]
        select_fields=values.get("select", ()),  # type: ignore[arg-type]
        order_keys=values.get("orderby", ()),  # type: ignore[arg-type]
        top_value=values.get("top"),  # type: ignore[arg-type]
        skip_value=values.get("skip"),  # type: ignore[arg-type]
        count_value=values.get("count"),  # type: ignore[arg-type]
    )


def parse_query(params: Mapping[str, str] | Iterable[tuple[str, str]]) -> Query:
    """Decoded query parameters -> :class:`Query`.

    Names are case-insensitive, with or without ``$``; parameters that are not OData options are
    ignored; a repeated option is an error. Errors name the option, and their position is in its
    value. Takes a mapping (a multidict's repeated keys are seen) or ``(name, value)`` pairs.
    """
    pairs = params.items() if isinstance(params, Mapping) else params
    values: dict[str, object] = {}
    for name, value in pairs:
        option = _option(name)
        if option is None:
            continue
        if option in values:
            raise ODataSyntaxError(f"the option {name} is given twice", name, 0)
        try:
            values[option] = _VALUE_PARSERS[option](value)
        except ODataSyntaxError as error:
            raise ODataSyntaxError(f"{name}: {error.message}", value, error.position) from None
    return _build(values)


def parse_query_string(text: str) -> Query:
    """A raw, percent-encoded query string (without ``?``) -> :class:`Query`.

    ``+`` is a plus sign here, as OData reads it, not a space. Error positions are in ``text``.
    """
    values: dict[str, object] = {}
    start = 0
    for part in text.split("&"):
        part_start, start = start, start + len(part) + 1
        if not part:
            continue
        equals = part.find("=")
        raw_name = part if equals < 0 else part[:equals]
        try:
            name, name_starts = decode_with_positions(raw_name)
        except ODataSyntaxError as error:
            raise ODataSyntaxError(error.message, text, part_start + error.position) from None
        try:
            option = _option(name)
        except ODataSyntaxError as error:
            position = part_start + name_starts[error.position]
            raise ODataSyntaxError(error.message, text, position) from None
        if option is None:
            continue
        if equals < 0:
            raise ODataSyntaxError(f"expected '=' after {raw_name!r}", text, start - 1)
        if option in values:
            raise ODataSyntaxError(f"the option {name} is given twice", text, part_start)
        value_start = part_start + equals + 1
        try:
            value, starts = decode_with_positions(part[equals + 1 :])
        except ODataSyntaxError as error:
            raise ODataSyntaxError(error.message, text, value_start + error.position) from None
        try:
            values[option] = _VALUE_PARSERS[option](value)
        except ODataSyntaxError as error:
            position = value_start + starts[error.position]
            raise ODataSyntaxError(f"{name}: {error.message}", text, position) from None
    return _build(values)

"""What the sandbox accepts as a JSON request body: one policy, with or without orjson.

orjson (the ``speed`` extra) and the standard library disagree at the edges: the standard
library reads UTF-16 and UTF-32 bytes, lone surrogates (``"\\ud800"``), ``NaN`` and ``1e400``
(as infinity) and integers of any size, and fails with ``RecursionError`` on deep nesting; orjson
refuses all of these but reads integers beyond 64 bits as floats. A stored lone surrogate cannot
be written back as JSON, so one request could make every later listing fail. The rules below
give the same bytes the same answer on both paths, and :func:`read_json` applies them before a
handler sees the body:

* the body is UTF-8 without a byte order mark (both readers refuse one);
* no string (key or value) holds a lone surrogate;
* containers nest at most :data:`MAX_DEPTH` deep;
* a number must fit a double (``1e400`` and ``NaN`` are refused); an integer beyond 64 bits
  reads as a float, as orjson reads it (so an id field refuses it as "not an integer").

Anything else is :class:`InvalidJSON`, which the app answers with 400 "The request body is not
valid JSON.".
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any, Final

__all__ = ["MAX_DEPTH", "InvalidJSON", "parse_orjson", "parse_std", "read_json"]

MAX_DEPTH: Final = 64
"""How deep arrays and objects may nest in a request body (``[[1]]`` is depth 2)."""

_INT64_MIN: Final = -(2**63)
_UINT64_MAX: Final = 2**64 - 1


class InvalidJSON(ValueError):
    """A request body the sandbox does not read as JSON."""


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


def _integer(text: str) -> int | float:
    """An integer literal as orjson reads it: beyond 64 bits, a float (or out of range)."""
    if len(text) <= 20:  # 20 characters at most: int() is cheap and far within its limits
        value = int(text)
        if _INT64_MIN <= value <= _UINT64_MAX:
            return value
    return _finite(text)


def parse_std(raw: bytes) -> Any:
    """The standard library's reading, held to orjson's rules (strict UTF-8, finite numbers)."""
    return json.loads(
        raw.decode("utf-8"),
        parse_int=_integer,
        parse_float=_finite,
        parse_constant=_refuse_constant,
    )


parse_orjson: Callable[[bytes], Any] | None
try:
    import orjson
except ImportError:  # pragma: no cover - depends on the installed extras
    parse_orjson = None
else:
    parse_orjson = orjson.loads

_parse: Callable[[bytes], Any] = parse_orjson if parse_orjson is not None else parse_std
"""The reader in use (tests switch it to :func:`parse_std` to check both give one answer)."""


def read_json(raw: bytes) -> Any:
    """The body as JSON under the rules above, or :class:`InvalidJSON`."""
    try:
        value = _parse(raw)
    except (ValueError, RecursionError):  # orjson's JSONDecodeError is a ValueError
        raise InvalidJSON("not JSON") from None
    _check(value)
    return value


def _check(value: Any) -> None:
    """Depth and strings, walked with a stack (a deep body must not recurse here either)."""
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, str):
            _check_text(node)
        elif isinstance(node, dict):
            if depth >= MAX_DEPTH:
                raise InvalidJSON("nested too deep")
            for key, item in node.items():
                _check_text(key)
                pending.append((item, depth + 1))
        elif isinstance(node, list):
            if depth >= MAX_DEPTH:
                raise InvalidJSON("nested too deep")
            pending.extend((item, depth + 1) for item in node)


def _check_text(text: str) -> None:
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidJSON("lone surrogate") from None

"""Percent-encoding of query option values, exactly once, and decoding that remembers positions.

Why not ``yarl``'s ``with_query`` or aiohttp's ``params=``: both follow the HTML form rules and
send a space as ``+``, which an OData service reads as a plus sign (``'Golf GTI'`` would arrive as
``'Golf+GTI'``). Here a space is ``%20``, and ``+``, ``&``, ``#``, ``%``, ``=`` and ``;`` are
always escaped, so a value can neither end its option early nor cut the URL. Characters that are
legal in a query and common in OData stay readable: ``$ ' ( ) , : / @``.

The result is meant for ``yarl.URL(base + "?" + query, encoded=True)``: yarl then keeps it byte
for byte.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final
from urllib.parse import quote

from flinkey_async._exceptions import ODataSyntaxError

__all__ = ["decode_with_positions", "encode_params", "encode_value"]

_SAFE_IN_VALUE: Final = "$'(),:/@"
_SAFE_IN_NAME: Final = "$"
_HEX: Final = frozenset("0123456789abcdefABCDEF")

# ASCII that ``quote(text, safe=_SAFE_IN_VALUE)`` escapes, apart from the space: letters, digits,
# ``_.-~`` and the safe characters stay, the space is handled by one ``str.replace``.
_ESCAPED_ASCII: Final = re.compile(r"[^A-Za-z0-9_.\-~$'(),:/@ ]")
_ESCAPES: Final = {chr(code): f"%{code:02X}" for code in range(128)}
_OPTION_NAMES: Final = {
    name: quote(name, safe=_SAFE_IN_NAME)
    for name in ("$filter", "$select", "$orderby", "$top", "$skip", "$count")
}


def _escape(match: re.Match[str]) -> str:
    return _ESCAPES[match.group()]


def encode_value(text: str) -> str:
    """Percent-encode one option value (UTF-8; space -> ``%20``, never ``+``).

    The same result as ``urllib.parse.quote(text, safe="$'(),:/@")``, which walks the text one
    byte at a time in Python; for ASCII text (nearly every query) the work here is done by the
    C string methods: the spaces by ``str.replace``, the rare other characters by one regex.
    """
    if not text.isascii():
        return quote(text, safe=_SAFE_IN_VALUE)
    if _ESCAPED_ASCII.search(text) is not None:
        text = _ESCAPED_ASCII.sub(_escape, text)
    return text.replace(" ", "%20")


def encode_params(params: Mapping[str, str]) -> str:
    """``name=value&...`` with every name and value encoded once, in the mapping's order."""
    return "&".join(
        f"{_OPTION_NAMES.get(name) or quote(name, safe=_SAFE_IN_NAME)}={encode_value(value)}"
        for name, value in params.items()
    )


def decode_with_positions(text: str) -> tuple[str, list[int]]:
    """Percent-decode ``text`` (UTF-8, ``+`` stays ``+``) and map positions back.

    Returns the decoded text and a list whose item ``i`` is the index in ``text`` where decoded
    character ``i`` starts (one extra item for the end), so a parse error found in the decoded
    text can name its position in what the user actually wrote.
    """
    if "%" not in text:
        return text, list(range(len(text) + 1))
    out: list[str] = []
    starts: list[int] = []
    i = 0
    n = len(text)
    while i < n:
        if text[i] != "%":
            out.append(text[i])
            starts.append(i)
            i += 1
            continue
        run_start = i
        raw = bytearray()
        while i < n and text[i] == "%":
            if i + 3 > n or text[i + 1] not in _HEX or text[i + 2] not in _HEX:
                raise ODataSyntaxError("'%' must be followed by two hex digits", text, i)
            raw.append(int(text[i + 1 : i + 3], 16))
            i += 3
        try:
            chunk = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ODataSyntaxError(
                "percent-encoded bytes are not UTF-8", text, run_start + 3 * error.start
            ) from None
        offset = 0
        for char in chunk:
            out.append(char)
            starts.append(run_start + 3 * offset)
            offset += len(char.encode("utf-8"))
    starts.append(n)
    return "".join(out), starts

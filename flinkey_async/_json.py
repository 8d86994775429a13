"""JSON in and out: orjson when installed (the ``speed`` extra), else the standard library."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

__all__ = ["dumps", "loads", "using_orjson"]

loads: Callable[[bytes | str], Any]
dumps: Callable[[Any], bytes]

try:
    import orjson
except ImportError:  # pragma: no cover - exercised when the extra is absent
    using_orjson = False

    def _std_dumps(value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()

    loads = json.loads
    dumps = _std_dumps
else:
    using_orjson = True
    loads = orjson.loads
    dumps = orjson.dumps

"""The public surface: what ``flinkey_async`` exports is reported as ``flinkey_async.Name``."""

from __future__ import annotations

import pickle
import re
import typing
from pathlib import Path

import attrs
import pytest

import flinkey_async
from flinkey_async import Car, FlinkeyError, ProductType, ValidationError, _exceptions

PUBLIC_CLASSES = [
    name for name in flinkey_async.__all__ if isinstance(getattr(flinkey_async, name), type)
]
DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.mark.parametrize("name", PUBLIC_CLASSES)
def test_public_classes_report_the_package(name: str) -> None:
    cls = getattr(flinkey_async, name)
    assert cls.__module__ == "flinkey_async"
    assert getattr(flinkey_async, cls.__qualname__) is cls  # so that pickle finds it there
    # Annotations still resolve (the sandbox and attrs read them through __module__).
    typing.get_type_hints(cls)
    if attrs.has(cls):
        attrs.resolve_types(cls)


def test_the_client_shows_the_public_path() -> None:
    assert repr(flinkey_async.FlinkeyClient) == "<class 'flinkey_async.FlinkeyClient'>"
    error = flinkey_async.NotFoundError(404, "gone", method="GET", path="/v3/cars/1")
    assert f"{type(error).__module__}.{type(error).__qualname__}" == "flinkey_async.NotFoundError"


def test_models_pickle_through_the_public_path() -> None:
    car = Car(id=1, name="Golf")
    assert pickle.loads(pickle.dumps(car)) == car
    assert pickle.loads(pickle.dumps(ProductType.IQ)) is ProductType.IQ


def _tree(text: str) -> set[str]:
    return set(re.findall(r"(?:^|[├└]── )([A-Z]\w*Error)\b", text, flags=re.MULTILINE))


@pytest.mark.parametrize(
    "source",
    [_exceptions.__doc__ or "", (DOCS / "errors.md").read_text(encoding="utf-8")],
    ids=["docstring", "docs"],
)
def test_every_error_in_the_tree_is_exported(source: str) -> None:
    drawn = _tree(source.split("```")[1])
    assert {"FlinkeyError", "UnknownFieldError", "UnsupportedODataError"} <= drawn
    for name in drawn:
        assert name in flinkey_async.__all__, name
        assert issubclass(getattr(flinkey_async, name), FlinkeyError), name
    exported = {n for n in flinkey_async.__all__ if n.endswith("Error")}
    assert exported == drawn  # and nothing exported is missing from the drawing


def test_the_rate_limiter_refuses_with_a_validation_error() -> None:
    with pytest.raises(ValidationError) as caught:
        flinkey_async.RateLimiter(0)
    assert caught.value.field == "rate"

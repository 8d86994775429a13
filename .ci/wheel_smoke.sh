#!/usr/bin/env bash
# The package as a user gets it, not the checkout: build the sdist and the wheel, check their
# metadata and licence, install the wheel (not editable) into a fresh venv, and run the main job
# and an import from there, outside the checkout so that nothing is found in it by accident.
# Usage: .ci/wheel_smoke.sh [PYTHON]   (needs build and twine: the dev extra)
set -euo pipefail
cd "$(dirname "$0")/.."
python=${1:-python}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$python" -m build --outdir "$work/dist" . >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
"$python" -m twine check --strict "$work"/dist/*
wheel=$(ls "$work"/dist/*.whl)
sdist=$(ls "$work"/dist/*.tar.gz)
# (Listed first, then searched: grep -q would close the pipe early, which pipefail reports.)
wheel_files=$("$python" -m zipfile -l "$wheel")
sdist_files=$(tar tzf "$sdist")
grep -q 'dist-info/licenses/LICENSE' <<<"$wheel_files" || { echo "no LICENSE in $wheel"; exit 1; }
grep -q '/LICENSE$' <<<"$sdist_files" || { echo "no LICENSE in $sdist"; exit 1; }

"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet "$wheel[cli]"
cd "$work"
# The main job against its embedded sandbox (a small fleet), twice: the second run updates.
"$work/venv/bin/flinkey-async" sync --sandbox-cars 30 --progress none
"$work/venv/bin/python" -m flinkey_async sync --sandbox-cars 30 --progress none
"$work/venv/bin/python" - <<'PY'
import asyncio
import pathlib
import sqlite3

import flinkey_async
from flinkey_async import FlinkeyClient
from flinkey_async.odata import Query, fields
from flinkey_async.sandbox import Sandbox

where = pathlib.Path(flinkey_async.__file__)
assert "site-packages" in where.parts, f"imported from {where}, not from the installed wheel"
with sqlite3.connect("fleet.sqlite") as db:
    (alive,) = db.execute("select count(*) from cars where deleted_in_run is null").fetchone()
    (runs,) = db.execute("select count(*) from sync_runs where status = 'ok'").fetchone()
assert alive > 0 and runs == 2, (alive, runs)


async def main() -> None:
    async with Sandbox(cars=5) as sb, FlinkeyClient(**sb.client_kwargs()) as client:
        car = fields(flinkey_async.Car)
        cars = await client.cars.list(Query().order_by(car.id).top(3))
        assert len(cars) == 3, cars


asyncio.run(main())
print(f"wheel smoke: flinkey_async {flinkey_async.__version__} from {where.parent}, {alive} cars synced")
PY

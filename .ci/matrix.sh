#!/usr/bin/env bash
# Dependency ranges that hold: the suite against the lowest versions pyproject.toml allows (uv's
# lowest-direct resolution) and against the newest, on each declared Python, each cell in its own
# fresh venv with the package installed editable.
#
#   .ci/matrix.sh               the CI cells: 3.11 lowest, 3.12 newest, 3.13 lowest
#   .ci/matrix.sh all           every cell: lowest and newest on 3.11, 3.12 and 3.13
#   .ci/matrix.sh 3.12:lowest   one cell
#
# The CI cells, with the main run (3.11 newest), test every Python once and both ends of the
# ranges: the oldest versions on the oldest and on the newest Python, the newest versions on two
# Pythons. That is three suite runs rather than five, to keep CI short; `all` runs every cell.
# The cells run the property tests at the dev profile: they look for incompatibilities, the
# main run searches deep. Pythons are pyenv installs, else pythonX.Y on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-ci}" in
  ci) cells=(3.11:lowest 3.12:newest 3.13:lowest) ;;
  all) cells=(3.11:lowest 3.11:newest 3.12:lowest 3.12:newest 3.13:lowest 3.13:newest) ;;
  *) cells=("$@") ;;
esac

find_python() {
  local version=$1 candidate
  for candidate in "${PYENV_ROOT:-$HOME/.pyenv}/versions/$version".*/bin/python; do
    [[ -x $candidate ]] && { echo "$candidate"; return; }
  done
  command -v "python$version" || { echo "error: no Python $version (pyenv or PATH)" >&2; return 1; }
}

uv=(python -m uv)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
results=()
for cell in "${cells[@]}"; do
  version=${cell%%:*}
  resolution=${cell##*:}
  case $resolution in lowest) flag=lowest-direct ;; newest) flag=highest ;; *) exit 2 ;; esac
  if ! interpreter=$(find_python "$version"); then
    echo "matrix: $cell skipped: no Python $version on this machine"
    results+=("$cell skipped (no Python $version)")
    continue
  fi
  venv=$work/$version-$resolution
  echo "== matrix $cell ($interpreter)"
  "${uv[@]}" venv --quiet --python "$interpreter" "$venv"
  "${uv[@]}" pip install --quiet --python "$venv/bin/python" --resolution "$flag" -e ".[test]"
  "${uv[@]}" pip list --python "$venv/bin/python" 2>/dev/null \
    | awk 'tolower($1) ~ /^(aiohttp|attrs|cattrs|yarl|pytest|pytest-asyncio|hypothesis|orjson|pyjwt)$/ {printf "%s %s  ", $1, $2} END {print ""}'
  # The release checks build and install a wheel, and the bulk tests (sync, CLI, PostgreSQL)
  # spend minutes in subprocesses over the same client and sandbox code: the main run has them.
  # A cell runs what meets the dependencies directly: client, e2e, OData, sandbox, docs.
  if ! HYPOTHESIS_PROFILE=dev "$venv/bin/python" -m pytest -x -q -p no:cacheprovider \
      --ignore=tests/release_checks --ignore=tests/bulk \
      >"$venv.log" 2>&1; then
    tail -n 80 "$venv.log"
    echo "matrix: $cell failed"
    exit 1
  fi
  tail -n 1 "$venv.log"
  results+=("$cell ok")
done
printf 'matrix: %s\n' "${results[@]}"

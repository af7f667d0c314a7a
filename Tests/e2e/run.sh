#!/usr/bin/env bash
# Runs the Python end-to-end suite against the built flashgate binary.
#
#   Tests/e2e/run.sh                  # whole suite
#   Tests/e2e/run.sh -k openai -x     # extra arguments go to pytest
#   FLASHGATE_BIN=.build/release/flashgate Tests/e2e/run.sh
#
# The virtualenv lives in .venv-e2e/ and is reinstalled only when requirements.txt changes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root=$PWD

venv=${E2E_VENV:-$root/.venv-e2e}
python=${PYTHON:-python3}
requirements=Tests/e2e/requirements.txt

if [ ! -x "$venv/bin/pip" ]; then
    rm -rf "$venv"
    if ! "$python" -m venv "$venv"; then
        rm -rf "$venv"
        echo "e2e: cannot create a virtualenv with $python; on Debian run: apt-get install -y python3-venv" >&2
        exit 1
    fi
fi

stamp="$venv/.requirements.sha256"
want=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
    "$venv/bin/pip" install --disable-pip-version-check --quiet -r "$requirements"
    echo "$want" >"$stamp"
fi

export FLASHGATE_BIN=${FLASHGATE_BIN:-$root/.build/debug/flashgate}
collect_only=false
for arg in "$@"; do [ "$arg" = "--collect-only" ] && collect_only=true; done
if ! $collect_only && [ ! -x "$FLASHGATE_BIN" ]; then
    echo "e2e: $FLASHGATE_BIN is not an executable; run 'swift build' first or set FLASHGATE_BIN" >&2
    exit 1
fi

# Run the whole suite unless a test file or folder was named.
targets=(Tests/e2e)
for arg in "$@"; do [ -e "${arg%%::*}" ] && targets=(); done

set +e
"$venv/bin/python" -m pytest -ra -p no:cacheprovider "${targets[@]}" "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
    echo "e2e: pytest collected no tests; that is a failure" >&2
    exit 1
fi
exit "$rc"

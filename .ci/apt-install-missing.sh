#!/usr/bin/env bash
# Installs those of the named Debian packages that are not installed yet, and nothing else.
# Runs `apt-get update` once, only when something is missing. Uses sudo when not root.
#
#   .ci/apt-install-missing.sh libcurl4-openssl-dev liblmdb-dev
set -euo pipefail

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps: not a Debian system; install these yourself if the build needs them: $*" >&2
    exit 0
fi

missing=()
for package in "$@"; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"

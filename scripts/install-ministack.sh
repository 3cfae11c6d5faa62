#!/usr/bin/env bash
# Installs MiniStack 1.5.33 into ./.venv-ministack (once), with cbor2 beside it:
# MiniStack answers CloudWatch's RPC v2 CBOR only when cbor2 is importable.
# Prints the path of the ministack executable.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv-ministack"
if [ ! -x "$venv/bin/ministack" ] || ! "$venv/bin/python" -c 'import cbor2, sys; from importlib.metadata import version; sys.exit(version("ministack") != "1.5.33")' 2>/dev/null; then
  echo "installing ministack==1.5.33 and cbor2 into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'ministack==1.5.33' 'cbor2==6.3.0'
fi
echo "$venv/bin/ministack"

#!/usr/bin/env bash
# Installs moto server 5.2.6 into ./.venv (once). Prints the moto_server path.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv"
if [ ! -x "$venv/bin/moto_server" ] || ! "$venv/bin/python" -c 'import moto, sys; sys.exit(moto.__version__ != "5.2.6")' 2>/dev/null; then
  echo "installing moto[server]==5.2.6 into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]==5.2.6'
fi
echo "$venv/bin/moto_server"

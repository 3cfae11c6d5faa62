#!/usr/bin/env bash
# Runs the whole test suite: unit tests, then the integration tests that drive
# the real vigil binary against moto (installed into ./.venv when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-moto.sh >/dev/null
cargo fmt --all -- --check
cargo test --all-targets "$@"

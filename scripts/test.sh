#!/usr/bin/env bash
# Runs the whole test suite: unit tests, then the integration tests that drive
# the real vigil binary against moto (installed into ./.venv when missing), and
# against MiniStack for the CloudWatch alarm tests moto cannot serve (installed
# into ./.venv-ministack when missing; its path is exported for the harness).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-moto.sh >/dev/null
VIGIL_TEST_MINISTACK="$(scripts/install-ministack.sh)"
export VIGIL_TEST_MINISTACK
# The HTML report is checked in a real headless Chromium: Debian's package.
if [ ! -x /usr/bin/chromium ]; then
  echo "installing Debian's chromium for the HTML report test" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
cargo fmt --all -- --check
cargo test --all-targets --features failpoints,testkit "$@"

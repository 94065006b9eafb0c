#!/usr/bin/env bash
# The whole test suite: installs and starts the AWS emulator, runs every test against it,
# then stops it. This is the README's test command, and CI runs exactly this.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

if cargo nextest --version >/dev/null 2>&1; then
  runner=(cargo nextest run --workspace --no-fail-fast)
else
  runner=(cargo test --workspace --no-fail-fast)
fi
# The function tests start the Lambda binaries as processes: build them first.
cargo build --workspace --bins
exec "$root/infra/scripts/with-moto.sh" "${runner[@]}" "$@"

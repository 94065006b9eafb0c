#!/usr/bin/env bash
# The whole test suite: installs and starts the AWS emulator, lints the SAM template, builds
# the binaries, fuzzes the local API from its OpenAPI spec, runs every test against the
# emulator, then stops it. This is the
# README's test command, and CI runs exactly this.
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

# cfn-lint comes with moto[server], in the same virtualenv. The API fuzzing runs before the
# test runner, so the runner's summary is the last thing printed.
exec "$root/infra/scripts/with-moto.sh" bash -c 'set -e
  echo "== cfn-lint template.yaml" >&2
  "$STINT_VENV/bin/cfn-lint" template.yaml
  echo "== API fuzzing (schemathesis)" >&2
  "$0/infra/scripts/fuzz.sh"
  exec "$@"
' "$root" "${runner[@]}" "$@"

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

# The console's tests drive headless Chromium through chromedriver: Debian's packages, installed
# here when missing (a browser downloaded at run time would not run on these machines).
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  echo "== installing chromium and chromium-driver (Debian)" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# The function tests start the Lambda binaries as processes: build them first.
cargo build --workspace --bins

# The tests record their evidence (bad input, duplicate delivery, tampering) here; the suite
# ends with the one summary line made from it.
export STINT_PROOF_DIR="$(mktemp -d)"
trap 'rm -rf "$STINT_PROOF_DIR"' EXIT

# cfn-lint comes with moto[server], in the same virtualenv. The API fuzzing runs before the
# test runner, and the proof summary after it, as the last line.
status=0
"$root/infra/scripts/with-moto.sh" bash -c 'set -e
  echo "== cfn-lint template.yaml" >&2
  "$STINT_VENV/bin/cfn-lint" template.yaml
  echo "== cfn-lint infra/member-account.yaml" >&2
  "$STINT_VENV/bin/cfn-lint" infra/member-account.yaml
  echo "== API fuzzing (schemathesis)" >&2
  "$0/infra/scripts/fuzz.sh"
  exec "$@"
' "$root" "${runner[@]}" "$@" || status=$?
if [ $# -eq 0 ]; then
  # The whole suite ran: the figures must all be there and right.
  python3 "$root/infra/scripts/proof_summary.py" || status=1
fi
exit "$status"

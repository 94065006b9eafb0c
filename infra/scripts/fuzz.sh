#!/usr/bin/env bash
# API fuzzing: schemathesis (pinned) against a fresh `stint serve` on a free loopback port,
# from infra/openapi.yaml, with a bounded number of examples and a fixed seed. Fails on any
# 5xx or any response that does not match the spec. Expects the `stint` binary to be built.
set -euo pipefail

SCHEMATHESIS_VERSION="4.32.5"
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${STINT_FUZZ_VENV:-$root/.venv-fuzz}"
target="$(cargo metadata --format-version 1 --no-deps --manifest-path "$root/Cargo.toml" | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
stint="$target/debug/stint"
[ -x "$stint" ] || { echo "fuzz: $stint is not built (cargo build -p stint-cli)" >&2; exit 1; }

if [ ! -x "$venv/bin/schemathesis" ] || [ "$("$venv/bin/schemathesis" --version 2>/dev/null | awk '{print $NF}')" != "$SCHEMATHESIS_VERSION" ]; then
  echo "fuzz: installing schemathesis==$SCHEMATHESIS_VERSION into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

data="$(mktemp -d)"
out="$data/serve.out"
"$stint" serve --data "$data" --bind 127.0.0.1:0 --catalog "$root/infra/catalog.example.toml" >"$out" 2>"$data/serve.log" &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT INT TERM
for _ in $(seq 1 100); do
  api="$(grep -o 'http://[0-9.:]*' "$out" 2>/dev/null | head -n1 || true)"
  [ -n "$api" ] && break
  sleep 0.1
done
[ -n "$api" ] || { echo "fuzz: stint serve did not start" >&2; cat "$data/serve.log" >&2; exit 1; }
token="$("$stint" token --user fuzzer --groups sre,db-owners,audit --data "$data")"

# positive_data_acceptance is left out: the spec cannot say every business rule (a zero duration,
# an unknown role), so a refused schema-valid request is expected; everything else must hold.
status=0
# From the scratch folder: schemathesis keeps a run cache in its working directory.
cd "$data"
"$venv/bin/schemathesis" run "$root/infra/openapi.yaml" --url "$api" \
  -H "Authorization: Bearer $token" \
  --max-examples 40 --seed 1 --checks all --exclude-checks positive_data_acceptance \
  | tee "$data/fuzz.out" || status=$?
echo "fuzz: schemathesis exit $status" >&2
# For the test command's summary line: "N generated, N passed[, N failed]".
if [ -n "${STINT_PROOF_DIR:-}" ]; then
  python3 - "$data/fuzz.out" "$status" >>"$STINT_PROOF_DIR/proof.jsonl" <<'PY'
import json, re, sys
text = open(sys.argv[1], errors="replace").read()
line = next((l for l in text.splitlines() if re.search(r"\d+ generated", l)), "")
def n(word):
    m = re.search(r"(\d+) " + word, line)
    return int(m.group(1)) if m else 0
print(json.dumps({"part": "fuzz", "figures": {"generated": n("generated"), "passed": n("passed"),
      "failed": n("failed"), "exit": int(sys.argv[2])}}))
PY
fi
exit "$status"

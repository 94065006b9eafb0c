#!/usr/bin/env bash
# Runs a command with the AWS emulator (moto server, pinned) up on a free loopback port.
# Installs moto into a project-local virtualenv first if it is not there at the pinned version.
# The command sees STINT_TEST_AWS_ENDPOINT; the emulator stops when the command ends.
set -euo pipefail

MOTO_VERSION="5.2.5"
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${STINT_VENV:-$root/.venv}"
logdir="$root/.moto"
mkdir -p "$logdir"

if [ $# -eq 0 ]; then
  echo "usage: $0 COMMAND [ARGS...]" >&2
  exit 2
fi

python="$(command -v python3 || true)"
if [ -z "$python" ]; then
  echo "with-moto: python3 is needed to run the AWS emulator (moto); install it first" >&2
  exit 1
fi

installed="$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null || true)"
if [ "$installed" != "$MOTO_VERSION" ] || [ ! -x "$venv/bin/moto_server" ]; then
  echo "with-moto: installing moto[server]==$MOTO_VERSION into $venv" >&2
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi

free_port() {
  "$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "${tls:-}"
}
trap cleanup EXIT INT TERM

# Starts one emulator on a free port; sets $url once it answers. Extra arguments go to the
# launcher (the TLS listener).
start_moto() {
  local name="$1" port
  shift
  port="$(free_port)"
  # Our launcher runs moto's own WSGI app with requests serialised (see moto_server.py for why).
  MOTO_PORT="$port" "$venv/bin/python" "$root/infra/scripts/moto_server.py" -H 127.0.0.1 -p "$port" "$@" >"$logdir/$name.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  url="http://127.0.0.1:$port"
  for _ in $(seq 1 150); do
    if "$venv/bin/python" -c "import urllib.request,sys; urllib.request.urlopen('$url/moto-api/', timeout=1)" 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "with-moto: moto server $name exited; its log:" >&2
      cat "$logdir/$name.log" >&2
      return 1
    fi
    sleep 0.2
  done
  echo "with-moto: moto server $name did not answer" >&2
  return 1
}

# The main emulator also listens over TLS, with a certificate for `localhost` from a test CA
# made for this run: the functions' HTTPS client is tested against it (tests/it/tls.rs).
tls="$logdir/tls-$$"
"$venv/bin/python" "$root/infra/scripts/tls_cert.py" "$tls"
tls_port="$(free_port)"
start_moto server --tls-port "$tls_port" --tls-cert "$tls/localhost.pem" --tls-key "$tls/localhost.key"
endpoint="$url"
"$venv/bin/python" - "$tls_port" "$tls/ca.pem" <<'PY'
import ssl, sys, time, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[2])
for _ in range(50):
    try:
        urllib.request.urlopen(f"https://localhost:{sys.argv[1]}/moto-api/", timeout=1, context=ctx)
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("with-moto: the emulator's TLS listener did not answer")
PY
echo "with-moto: moto $MOTO_VERSION listening on $endpoint and https://localhost:$tls_port" >&2
export STINT_TEST_TLS_ENDPOINT="https://localhost:$tls_port"
export STINT_TEST_TLS_CA="$tls/ca.pem"

# A second emulator that enforces IAM, for the attack tests: they check what a principal's own
# credentials can actually do. Its setup makes the broker's user and keys, then enforces.
start_moto enforcing
enforcing="$url"
keys="$("$venv/bin/python" "$root/infra/scripts/moto_enforcing_setup.py" "$enforcing")"
export STINT_TEST_ENFORCING_ENDPOINT="$enforcing"
export STINT_TEST_ENFORCING_KEY_ID="$(echo "$keys" | sed -n 1p)"
export STINT_TEST_ENFORCING_SECRET="$(echo "$keys" | sed -n 2p)"
# account:key:secret of an administrator in each member account, comma-separated.
export STINT_TEST_ENFORCING_MEMBERS="$(echo "$keys" | sed -n '3,$p' | paste -sd, -)"
echo "with-moto: IAM-enforcing moto listening on $enforcing" >&2

export STINT_TEST_AWS_ENDPOINT="$endpoint"
export STINT_VENV="$venv"
"$@"

#!/usr/bin/env bash
# A CI job's side of Stint, with curl and python3 only:
#   stint-pipeline.sh request ROLE SCOPE PRINCIPAL DURATION JUSTIFICATION TICKET   # prints the id
#   stint-pipeline.sh wait ID [TIMEOUT_SECONDS]      # 0 once granted; 1 if refused or timed out
#   stint-pipeline.sh revoke ID                      # ends the grant (or cancels while pending)
# STINT_API is the API's base URL. The token is $STINT_TOKEN, or else the job's GitHub Actions
# OIDC token for audience ${STINT_AUDIENCE:-stint} (the job needs `permissions: id-token: write`).
set -euo pipefail

api="${STINT_API:?set STINT_API to the Stint API URL}"

token() {
  if [ -n "${STINT_TOKEN:-}" ]; then
    printf '%s' "$STINT_TOKEN"
    return
  fi
  : "${ACTIONS_ID_TOKEN_REQUEST_URL:?no STINT_TOKEN and not in GitHub Actions with id-token: write}"
  local t
  t="$(curl -sSf -H "Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN" \
    "$ACTIONS_ID_TOKEN_REQUEST_URL&audience=${STINT_AUDIENCE:-stint}" | field value)"
  # Keep the token out of the job log.
  [ -n "${GITHUB_ACTIONS:-}" ] && echo "::add-mask::$t" >&2
  printf '%s' "$t"
}

# Reads one top-level field of a JSON document on stdin.
field() {
  python3 -c 'import json,sys; v=json.load(sys.stdin).get(sys.argv[1]); print("" if v is None else v)' "$1"
}

call() { # METHOD PATH [BODY]
  local out status
  out="$(mktemp)"
  status="$(curl -sS -o "$out" -w '%{http_code}' -X "$1" "$api$2" \
    -H "Authorization: Bearer $(token)" -H 'content-type: application/json' ${3:+-d "$3"})"
  if [ "$status" -ge 400 ]; then
    echo "stint: $1 $2 answered $status: $(cat "$out")" >&2
    rm -f "$out"
    return 1
  fi
  cat "$out"
  rm -f "$out"
}

case "${1:-}" in
  request)
    [ $# -eq 7 ] || { echo "usage: $0 request ROLE SCOPE PRINCIPAL DURATION JUSTIFICATION TICKET" >&2; exit 2; }
    body="$(python3 -c 'import json,sys; r,s,p,d,j,t=sys.argv[1:]; print(json.dumps({"role":r,"scope":s,"principal":p,"duration":d,"justification":j,"ticket":t}))' "$2" "$3" "$4" "$5" "$6" "$7")"
    call POST /pipeline/requests "$body" | field id
    ;;
  wait)
    id="${2:?usage: $0 wait ID [TIMEOUT_SECONDS]}"
    deadline=$(( $(date +%s) + ${3:-600} ))
    while :; do
      status="$(call GET "/pipeline/requests/$id" | field status)"
      case "$status" in
        active) echo "stint: $id is granted" >&2; exit 0 ;;
        denied|cancelled|lapsed|grant_failed|revoked) echo "stint: $id is $status" >&2; exit 1 ;;
      esac
      [ "$(date +%s)" -lt "$deadline" ] || { echo "stint: $id still $status at the timeout" >&2; exit 1; }
      sleep "${STINT_POLL_SECONDS:-5}"
    done
    ;;
  revoke)
    call POST "/pipeline/requests/${2:?usage: $0 revoke ID}/revoke" | field status
    ;;
  *)
    echo "usage: $0 request|wait|revoke ..." >&2
    exit 2
    ;;
esac

#!/usr/bin/env bash
# Submit the demo household to intake and follow its chain in monitoring until complete.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DEMO=${DEMO_FILE:-$ROOT/deploy/demo/household.json}
INTAKE=http://127.0.0.1:8081
MONITORING=http://127.0.0.1:8083
TIMEOUT=60

command -v curl >/dev/null 2>&1 || { echo "demo: curl is required" >&2; exit 1; }
command -v python3 >/dev/null 2>&1 || { echo "demo: python3 is required" >&2; exit 1; }
[[ -f $DEMO ]] || { echo "demo: $DEMO not found" >&2; exit 1; }

echo "demo: POST $INTAKE/v1/applications ($DEMO)"
# The key makes a second `make run` show the same household rather than apply again
# (intake refuses a person who is already in an open or enrolled case).
out=$(curl -sS -w '\n%{http_code}' -X POST -H 'Content-Type: application/json' \
    -H "Idempotency-Key: ${DEMO_KEY:-demo-household-1}" \
    --data-binary "@$DEMO" "$INTAKE/v1/applications") || {
    echo "demo: could not reach intake at $INTAKE (is the mesh running? make status)" >&2
    exit 1
}
code=${out##*$'\n'}
resp=${out%$'\n'*}
echo "$resp"
if [[ $code == 409 ]]; then
    # The demo household is already in an open or enrolled case (an earlier run without the
    # key): show that household's chain instead.
    existing=$(python3 -c 'import json,re,sys; f=json.load(sys.stdin)["error"]["fields"][0]["reason"]; print(re.search(r"application ([0-9a-f-]{36})", f).group(1))' <<<"$resp") || {
        echo "demo: intake answered HTTP 409 without naming the existing application" >&2
        exit 1
    }
    echo "demo: the demo household is already in application $existing; following its chain"
    resp=$(curl -fsS "$INTAKE/v1/applications/$existing") || { echo "demo: could not read application $existing" >&2; exit 1; }
elif [[ $code != 2?? ]]; then
    echo "demo: intake answered HTTP $code" >&2
    exit 1
fi

hid=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["household_id"])' <<<"$resp") || {
    echo "demo: no household_id in the intake response" >&2
    exit 1
}
echo "demo: household_id=$hid; waiting up to ${TIMEOUT}s for the chain to complete"

url=$MONITORING/v1/households/$hid/chain
chain=""
for ((i = 0; i < TIMEOUT * 4; i++)); do
    if chain=$(curl -fsS --max-time 5 "$url" 2>/dev/null); then
        if python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin).get("complete") is True else 1)' \
            <<<"$chain" 2>/dev/null; then
            python3 "$ROOT/deploy/scripts/print-chain.py" <<<"$chain"
            echo
            echo "demo: chain complete. The whole JSON: curl -s $url | python3 -m json.tool"
            exit 0
        fi
    else
        chain=""
    fi
    sleep 0.25
done

echo "demo: chain not complete after ${TIMEOUT}s; last answer from $url:" >&2
if [[ -n $chain ]]; then
    python3 -m json.tool <<<"$chain" 2>/dev/null || echo "$chain"
else
    curl -sS --max-time 5 "$url" || true
    echo
fi
exit 1

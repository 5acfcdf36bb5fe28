#!/usr/bin/env bash
# Submit the demo household to intake and follow its chain in monitoring until complete; then
# pay it through the (simulated) bank: a township officer sets the bank account(s), the monthly
# run for the household's month, a pain.001 file sent to the bank simulator, its pain.002
# settlement in the chain, and the district's reconciliation for the month.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DEMO=${DEMO_FILE:-$ROOT/deploy/demo/household.json}
INTAKE=http://127.0.0.1:8081
MONITORING=http://127.0.0.1:8083
PAYMENT=http://127.0.0.1:8084
TIMEOUT=60

command -v curl >/dev/null 2>&1 || { echo "demo: curl is required" >&2; exit 1; }
command -v node >/dev/null 2>&1 || { echo "demo: node is required (deploy/oidc/token.js)" >&2; exit 1; }
command -v python3 >/dev/null 2>&1 || { echo "demo: python3 is required" >&2; exit 1; }
[[ -f $DEMO ]] || { echo "demo: $DEMO not found" >&2; exit 1; }

# Every call carries an access token of the dev OpenID Provider (127.0.0.1:8100), got by the
# real sign-in flow (deploy/oidc/token.js): the township officer 王芳 (wang.fang, township
# 410102001) submits and follows the household; in part 2 others act in their roles.
token() { node "$ROOT/deploy/oidc/token.js" "$1" "urn:relief-mesh:$2"; }
INTAKE_TOKEN=$(token wang.fang intake) || { echo "demo: no token from the OpenID Provider (make infra)" >&2; exit 1; }
MONITORING_TOKEN=$(token wang.fang monitoring)

echo "demo: POST $INTAKE/v1/applications ($DEMO) as 王芳 (wang.fang, township officer of 410102001)"
# The key makes a second `make run` show the same household rather than apply again
# (intake refuses a person who is already in an open or enrolled case).
out=$(curl -sS -w '\n%{http_code}' -X POST -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $INTAKE_TOKEN" -H "Idempotency-Key: ${DEMO_KEY:-demo-household-1}" \
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
    resp=$(curl -fsS -H "Authorization: Bearer $INTAKE_TOKEN" "$INTAKE/v1/applications/$existing") || { echo "demo: could not read application $existing" >&2; exit 1; }
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
complete=0
for ((i = 0; i < TIMEOUT * 4; i++)); do
    if chain=$(curl -fsS --max-time 5 -H "Authorization: Bearer $MONITORING_TOKEN" "$url" 2>/dev/null); then
        if python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin).get("complete") is True else 1)' \
            <<<"$chain" 2>/dev/null; then
            complete=1
            break
        fi
    else
        chain=""
    fi
    sleep 0.25
done

if ((!complete)); then
    echo "demo: chain not complete after ${TIMEOUT}s; last answer from $url:" >&2
    if [[ -n $chain ]]; then
        python3 -m json.tool <<<"$chain" 2>/dev/null || echo "$chain"
    else
        curl -sS --max-time 5 -H "Authorization: Bearer $MONITORING_TOKEN" "$url" || true
        echo
    fi
    exit 1
fi
python3 "$ROOT/deploy/scripts/print-chain.py" <<<"$chain"
echo
echo "demo: chain complete. The whole JSON: curl -s -H \"Authorization: Bearer \$(node deploy/oidc/token.js wang.fang urn:relief-mesh:monitoring)\" $url | python3 -m json.tool"

# --- Part 2: the payment through the bank ------------------------------------------------------
# Payment (8084) writes pain.001 files per district fund account (deploy/config/fund-accounts.toml)
# and sends them to the bank simulator (8090), whose pain.002 reports come back over NATS.
echo
echo "=== Paying the household through the bank ==="
app_id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["application_id"])' <<<"$resp")
application=$(curl -fsS -H "Authorization: Bearer $INTAKE_TOKEN" "$INTAKE/v1/applications/$app_id") || {
    echo "demo: could not read application $app_id" >&2
    exit 1
}
APPLICATION=$application HOUSEHOLD_ID=$hid DEMO=$DEMO PAYMENT=$PAYMENT CHAIN_URL=$url ROOT=$ROOT \
    MONITORING_TOKEN=$MONITORING_TOKEN \
    PRINT_CHAIN=$ROOT/deploy/scripts/print-chain.py TIMEOUT=$TIMEOUT \
    python3 - <<'PY'
import json, os, subprocess, sys, time, urllib.error, urllib.request

PAYMENT = os.environ["PAYMENT"]
HID = os.environ["HOUSEHOLD_ID"]
TIMEOUT = float(os.environ["TIMEOUT"])
# Who does what (demo people of deploy/oidc/accounts.json): the township officer proposes the
# beneficiaries' accounts, a county officer confirms them (maker-checker), the platform operator
# runs the month and sends the files, the county officer reads the reconciliation.
MAKER, CHECKER, OPERATOR = "wang.fang", "zhao.min", "ma.chao"
TOKENS = {}


def token(login):
    if login not in TOKENS:
        TOKENS[login] = subprocess.run(
            ["node", os.path.join(os.environ["ROOT"], "deploy/oidc/token.js"), login, "urn:relief-mesh:payment"],
            check=True, capture_output=True, text=True).stdout.strip()
    return TOKENS[login]
BANK_CODE = "102491000018"  # CNAPS code of the branch holding the "one card" accounts
FINAL = ("settled", "rejected", "returned")


def fail(msg):
    print(f"demo: {msg}", file=sys.stderr)
    sys.exit(1)


def call(method, url, body=None, who=MAKER, bearer=None):
    """(HTTP status, JSON answer) as `who`; the error's JSON on 4xx/5xx."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Authorization", f"Bearer {bearer or token(who)}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw.decode(errors="replace")
    except OSError as e:
        fail(f"{method} {url}: {e} (is the mesh running? make status)")


def must(method, path, body=None, ok=(200, 201, 202), who=MAKER):
    code, out = call(method, PAYMENT + path, body, who)
    if code not in ok:
        fail(f"{method} {path} answered HTTP {code}: {json.dumps(out)}")
    return code, out


def wait(what, probe):
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        got = probe()
        if got:
            return got
        time.sleep(0.25)
    fail(f"{what}: not after {TIMEOUT:.0f}s")


def yuan(fen):
    return f"{fen / 100:.2f} yuan"


def mask(number):
    return "*" * (len(number) - 4) + number[-4:]


application = json.loads(os.environ["APPLICATION"])
with open(os.environ["DEMO"]) as f:
    demo = json.load(f)
district = application["region_code"][:6]
township = district + "001"  # the demo's township (a 9-digit code under the district)

# 1. The household's payment instructions (made when it was determined).
instructions = wait(
    "payment has no instruction for the household",
    # 404 until payment has taken in the household's determination.
    lambda: (lambda r: r[1] if r[0] == 200 else None)(call("GET", f"{PAYMENT}/v1/households/{HID}/instructions")),
)
month = instructions[0]["month"]
print(f"1. Payment instructed {len(instructions)} payment(s) for {month} when the household was determined.")

# 2. A named township officer sets the beneficiaries' bank accounts (fictitious numbers; only
#    masked numbers are ever printed or logged).
names = {}
for pos, m in enumerate(application["members"]):
    if pos < len(demo["members"]):
        names[m["member_id"]] = (demo["members"][pos]["name"], m["relation"])
print("2. Township officer 王芳 proposes the bank account of each beneficiary; county officer 赵敏 confirms it:")
for n, member in enumerate(sorted({i["beneficiary_member_id"] for i in instructions})):
    payee = next(i["payee"] for i in instructions if i["beneficiary_member_id"] == member)
    name, relation = names.get(member, ("Care institution", "institution"))
    code, current = call("GET", f"{PAYMENT}/v1/accounts/{member}")
    if code == 200:
        if current.get("account_number"):
            print(f"   {relation:<8} member {member[:8]}: account {current['account_number']} already set "
                  f"(version {current['version']}, by {current['updated_by']})")
            continue
    number = f"62220202{member.replace('-', '')[:12]}"[:16]
    number = "".join(c if c.isdigit() else str(int(c, 16) % 10) for c in number)
    _, set_ = must("PUT", f"/v1/accounts/{member}", {
        "holder_name": name,
        "account_number": number,
        "bank_code": BANK_CODE,
        "region_code": township,
        "holder_kind": payee,
        "reason": "demo: account opened at enrolment",
    })
    _, done = must("POST", f"/v1/accounts/{member}/confirm", {"change_id": set_["change_id"]}, who=CHECKER)
    print(f"   {relation:<8} member {member[:8]}: account {done['account_number']} (bank {BANK_CODE}), "
          f"version {done['version']}, proposed by {done['proposed_by']['name']}, "
          f"confirmed by {done['confirmed_by']['name']}")

# 3. The monthly run for that month (the scheduler may have run it already).
code, run = must("POST", "/v1/runs", {"month": month}, who=OPERATOR)
if run["status"] != "completed":
    run = wait(f"the {month} run did not complete",
               lambda: (lambda r: r if r["status"] == "completed" else None)(must("GET", f"/v1/runs/{month}", who=OPERATOR)[1]))
print(f"3. Monthly run {month}: {run['status']}, {run['households']} household(s), "
      f"{run['instructions_created']} instruction(s) created, {run['instructions_existing']} already instructed "
      f"(at determination), total {yuan(run['total_fen'])}.")
_, instructions = must("GET", f"/v1/households/{HID}/instructions")
mine = {i["instruction_id"]: i for i in instructions if i["month"] == month}

# 4. One pain.001 file per district fund account, sent to the bank simulator.
_, made = must("POST", "/v1/batches", {"month": month, "district": district}, who=OPERATOR)
for b in made["blocked"]:
    if b["instruction_id"] in mine:
        fail(f"instruction {b['instruction_id']} cannot go in a file: {b['reason']}")
if not made["batches"]:
    waiting = [i for i in mine.values() if i["status"] == "instructed"]
    if waiting:
        fail(f"no file was written for {len(waiting)} instructed payment(s) of {month}")
    print(f"4. No new file: the household's {month} payments went to the bank in an earlier run.")
for b in made["batches"]:
    print(f"4. pain.001 file {b['msg_id']}: {b['nb_of_txs']} payment(s), {yuan(b['ctrl_sum_fen'])}, "
          f"from fund account {mask(b['debtor_account']) if b['debtor_account'].isdigit() else b['debtor_account']} "
          f"(district {b['district']})")
    code, sent = call("POST", f"{PAYMENT}/v1/batches/{b['batch_id']}/transmit", who=OPERATOR)
    if code == 409:
        fail("payment has no bank configured (it was started before the bank simulator was "
             "part of the mesh): make stop && make run")
    if code != 200:
        fail(f"POST /v1/batches/{b['batch_id']}/transmit answered HTTP {code}: {json.dumps(sent)}")
    print(f"   sent to the bank simulator at {sent['transmitted_at'][11:19]} UTC")

# 5. The bank's pain.002 reports (accepted, then settled) move the instructions; monitoring
#    records each move in the household's chain.
def settled():
    _, now = must("GET", f"/v1/households/{HID}/instructions")
    now = {i["instruction_id"]: i for i in now if i["instruction_id"] in mine}
    return now if all(i["status"] in FINAL for i in now.values()) else None

final = wait("the bank's reports did not settle the household's payments", settled)
for i in final.values():
    print(f"5. Instruction {i['instruction_id'][:8]} ({i['kind']}, {yuan(i['amount_fen'])}): {i['status']}")


def chain_shows_it():
    code, chain = call("GET", os.environ["CHAIN_URL"], bearer=os.environ["MONITORING_TOKEN"])
    if code != 200:
        return None
    seen = {(s["summary"].get("instruction_id"), s["summary"].get("status"))
            for s in chain["steps"] if s["type"] == "payment.instruction.status"}
    return chain if all((k, i["status"]) in seen for k, i in final.items()) else None

chain = wait("the chain does not show the settlement", chain_shows_it)
print()
print("The household's chain now ends with the bank's answers:")
subprocess.run([sys.executable, os.environ["PRINT_CHAIN"]], input=json.dumps(chain), text=True, check=True)

# 6. The district's reconciliation for the month: instructed = settled + rejected + returned + pending.
_, rec = must("GET", f"/v1/reconciliation?district={district}&month={month}", who=CHECKER)
print()
print(f"Reconciliation, district {district}, {month} (all households of the district):")
for line in ("instructed", "settled", "rejected", "returned", "pending", "recovered"):
    print(f"   {line:<11} {rec[line]['count']:>4}  {yuan(rec[line]['amount_fen']):>16}")
print(f"   difference {yuan(rec['difference_fen'])}, unexplained {len(rec['unexplained'])}, "
      f"ledger balanced={rec['balanced']}")
PY
echo
echo "demo: paid. More: curl -s -H \"Authorization: Bearer \$(node deploy/oidc/token.js wang.fang urn:relief-mesh:payment)\" '$PAYMENT/v1/households/$hid/instructions' | python3 -m json.tool"

#!/usr/bin/env python3
"""Prints a household's chain (JSON on stdin, from monitoring) as a table a person can read."""
import json
import sys

chain = json.load(sys.stdin)
print(f"household {chain['household_id']}  chain {chain['chain_id']}  complete={chain['complete']}")
print(f"trace ids: {', '.join(chain['trace_ids'])}")
print()
print(f"{'time (UTC)':<13} {'service':<17} {'event':<34} what")
for s in chain["steps"]:
    d = s["summary"]
    what = []
    for key in ("tier", "monthly_amount_fen", "complete", "gaps", "department", "outcome", "status", "reason",
                "amount_fen", "month", "due_date"):
        if key == "reason" and s["type"] != "payment.instruction.status":
            continue  # a bank's ISO reason code (AC01, AC04…); other reasons are free text
        if key in d and d[key] not in (None, []):
            v = d[key]
            if key.endswith("amount_fen"):
                v = f"{v / 100:.2f} yuan"
            what.append(f"{key.replace('_fen', '')}={v}")
    if "grant" in d and d["grant"]:
        g = d["grant"]
        what.append(f"grant={g['kind']} {g['amount_fen'] / 100:.2f} yuan")
    if d.get("instruction_id"):
        # Links a payment's status steps to the instruction they move.
        what.append(f"instruction={d['instruction_id'][:8]}")
    print(f"{s['time'][11:23]:<13} {s['service']:<17} {s['type']:<34} {' '.join(what)}")
flags = chain["flags"]
print()
print(f"referrals: {len(chain['referrals'])}, omissions: {len(flags['omissions'])}, awaiting feedback: {len(flags['awaiting_feedback'])}")

#!/usr/bin/env python3
"""A department's own system taking part in relief-mesh with nothing but a NATS client.

It is written from docs/asyncapi.yaml alone, with Python's nats-py: it reads referrals for its
department from a durable JetStream consumer on `referral.<dept>.push`, decides, and answers
each one on `referral.<dept>.feedback` with the referral id, the same household and chain, and
`causation_id` = the push's envelope id. It keeps the W3C trace: the feedback's `traceparent`
carries the push's trace id with a new span id, so the household's chain stays one trace.

    python3 department_system.py --nats nats://127.0.0.1:4222 --department housing [--prefix P] [--count N]
"""
import argparse
import asyncio
import datetime
import json
import secrets
import uuid

import nats
from nats.errors import TimeoutError as NatsTimeout


def subject(prefix: str, s: str) -> str:
    return f"{prefix}.{s}" if prefix else s


def stream_name(prefix: str, base: str) -> str:
    # The mesh names its streams RELIEF_<BASE>, or <PREFIX>_<BASE> in a prefixed deployment.
    p = "".join(c.upper() if c.isalnum() else "_" for c in prefix)
    return f"{p or 'RELIEF'}_{base}"


def child_traceparent(parent: str | None) -> str | None:
    """Same trace id, a new span id: the feedback is a child of the push."""
    if not parent:
        return None
    parts = parent.split("-")
    if len(parts) != 4:
        return None
    return f"00-{parts[1]}-{secrets.token_hex(8)}-{parts[3]}"


def decide(department: str, push: dict) -> dict:
    """This bureau's own rule: an urban household in hardship gets public rental housing for a
    year; anyone else is accepted and put on the waiting list."""
    data = push["data"]
    today = datetime.date.today()
    feedback = {
        "referral_id": data["referral_id"],
        "department": department,
        "member_id": data["member_id"],
        "decided_by": f"system:{department}-bureau",
    }
    if data.get("urban") and data.get("tier") != "none":
        feedback["outcome"] = "granted"
        feedback["grant"] = {
            "kind": "public_rental_housing",
            "amount_fen": 0,
            "from": today.isoformat(),
            "to": (today.replace(year=today.year + 1) - datetime.timedelta(days=1)).isoformat(),
        }
        feedback["reason"] = "public rental housing allocated"
    else:
        feedback["outcome"] = "accepted"
        feedback["reason"] = "on the waiting list"
    return feedback


async def run(args: argparse.Namespace) -> int:
    nc = await nats.connect(args.nats, name=f"{args.department}-bureau-system")
    js = nc.jetstream()
    push_subject = subject(args.prefix, f"referral.{args.department}.push")
    feedback_subject = subject(args.prefix, f"referral.{args.department}.feedback")
    sub = await js.pull_subscribe(
        push_subject,
        durable=f"{args.department}-bureau-system",
        stream=stream_name(args.prefix, "REFERRAL"),
    )
    handled = 0
    deadline = asyncio.get_running_loop().time() + args.timeout
    while handled < args.count and asyncio.get_running_loop().time() < deadline:
        try:
            msgs = await sub.fetch(1, timeout=1)
        except NatsTimeout:
            continue
        for msg in msgs:
            push = json.loads(msg.data)
            if push.get("type") != "referral.push":
                await msg.term()
                continue
            envelope = {
                "specversion": "1.0",
                "id": str(uuid.uuid4()),
                "source": f"/{args.department}-bureau/allocation-system",
                "type": "referral.feedback",
                "time": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                "subject": push["data"]["referral_id"],
                "datacontenttype": "application/json",
                "household_id": push["household_id"],
                "chain_id": push["chain_id"],
                "causation_id": push["id"],
                "schema_version": 1,
                "data": decide(args.department, push),
            }
            headers = {"Nats-Msg-Id": envelope["id"]}
            tp = child_traceparent((msg.headers or {}).get("traceparent"))
            if tp:
                headers["traceparent"] = tp
            # Publish (JetStream acknowledges it is stored) before acking the push: a crash in
            # between repeats the answer, and the mesh applies it once.
            await js.publish(feedback_subject, json.dumps(envelope).encode(), headers=headers)
            await msg.ack()
            handled += 1
            print(f"answered referral {push['data']['referral_id']}: {envelope['data']['outcome']}", flush=True)
    await nc.drain()
    return 0 if handled >= args.count else 1


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nats", default="nats://127.0.0.1:4222")
    p.add_argument("--department", required=True)
    p.add_argument("--prefix", default="")
    p.add_argument("--count", type=int, default=1, help="referrals to answer before exiting")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for them")
    raise SystemExit(asyncio.run(run(p.parse_args())))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A department's own system taking part in relief-mesh with nothing but a NATS client.

It is written from docs/asyncapi.yaml alone ("What a department system must do", "The
department answer protocol", "Take-over and hand-back"), with Python's nats-py:

- it reads the referrals of its department from a durable JetStream pull consumer on stream
  RELIEF_REFERRAL: the contract's durable `department-<dept>` (the one the mesh's own department
  service reads: taking over continues from its cursor), or a durable of its own created fresh
  with deliver policy `new` (only referrals pushed from now on) or from a stream sequence it names;
- it answers each referral once on `referral.<dept>.feedback`, published to JetStream with
  `Nats-Msg-Id` = the envelope id, an id derived from the referral id so that an answer sent again
  (after a redelivered push) has the same id; `causation_id` = the push's id, same household and
  chain; it keeps the W3C trace (the push's trace id, a new span id) and sends no empty
  `tracestate`;
- it can correct its first answer (`corrected`, `replaces` = that answer's id) and send a second,
  contradicting final answer for another referral, which monitoring refuses: the refusal comes on
  `referral.<dept>.refused`, which it listens to before it answers.

    python3 department_system.py --nats nats://127.0.0.1:4222 --department housing [--prefix P]
        [--durable department-housing | --durable NAME --create new|all|<sequence>]
        [--count N] [--correct] [--contradict] [--timeout S]

It prints one JSON object on its last line: the referrals answered, the correction, the refusal.
"""
import argparse
import asyncio
import datetime
import json
import secrets

import nats
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError


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


def event_id(department: str, referral_id: str, what: str) -> str:
    """Stable: the same answer to the same referral always has the same id."""
    return f"{department}-bureau-{referral_id}-{what}"


def today() -> datetime.date:
    return datetime.date.today()


def a_year_from(day: datetime.date) -> str:
    return (day.replace(year=day.year + 1) - datetime.timedelta(days=1)).isoformat()


def decide(department: str, push: dict) -> dict:
    """This bureau's own rule: an urban household in hardship gets public rental housing for a
    year (help in kind: amount 0, period `once`); anyone else is accepted and put on the waiting
    list."""
    data = push["data"]
    feedback = {
        "referral_id": data["referral_id"],
        "department": department,
        "member_id": data["member_id"],
        "decided_by": f"system:{department}-bureau-allocation",
    }
    if data.get("urban") and data.get("tier") != "none":
        feedback["outcome"] = "granted"
        feedback["grant"] = {
            "kind": "public_rental_housing",
            "amount_fen": 0,
            "period": "once",
            "from": today().isoformat(),
            "to": a_year_from(today()),
        }
        feedback["reason"] = "public rental housing allocated"
    else:
        feedback["outcome"] = "accepted"
        feedback["reason"] = "on the waiting list"
    return feedback


def envelope(args, push: dict, eid: str, causation: str, data: dict) -> dict:
    return {
        "specversion": "1.0",
        "id": eid,
        "source": f"/{args.department}-bureau/allocation-system",
        "type": "referral.feedback",
        "time": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "subject": push["data"]["referral_id"],
        "datacontenttype": "application/json",
        "household_id": push["household_id"],
        "chain_id": push["chain_id"],
        "causation_id": causation,
        "schema_version": 1,
        "data": data,
    }


async def publish(js, args, env: dict, traceparent: str | None) -> None:
    headers = {"Nats-Msg-Id": env["id"]}
    if traceparent:
        headers["traceparent"] = traceparent
    await js.publish(
        subject(args.prefix, f"referral.{args.department}.feedback"),
        json.dumps(env).encode(),
        headers=headers,
    )


async def bind(js, args):
    """The durable to read: the contract's, as it is (the platform made it; the mesh's service
    may have read it before), or one of this system's own, created when missing."""
    stream = stream_name(args.prefix, "REFERRAL")
    if args.create:
        try:
            await js.consumer_info(stream, args.durable)
        except NotFoundError:
            config = ConsumerConfig(
                durable_name=args.durable,
                filter_subject=subject(args.prefix, f"referral.{args.department}.push"),
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=60,
                max_ack_pending=1000,
            )
            if args.create == "new":
                config.deliver_policy = DeliverPolicy.NEW
            elif args.create == "all":
                config.deliver_policy = DeliverPolicy.ALL
            else:
                config.deliver_policy = DeliverPolicy.BY_START_SEQUENCE
                config.opt_start_seq = int(args.create)
            await js.add_consumer(stream, config=config)
    return await js.pull_subscribe_bind(durable=args.durable, stream=stream)


async def wait_refusal(sub, refused_id: str, timeout: float) -> dict | None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        try:
            msg = await sub.next_msg(timeout=1)
        except (NatsTimeout, asyncio.TimeoutError):
            continue
        refusal = json.loads(msg.data)
        if refusal.get("type") == "referral.refused" and refusal["data"].get("event_id") == refused_id:
            return refusal["data"]
    return None


async def answer_pushes(js, sub, args) -> list:
    answered = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + args.timeout
    while len(answered) < args.count and loop.time() < deadline:
        try:
            msgs = await sub.fetch(1, timeout=1)
        except NatsTimeout:
            continue
        for msg in msgs:
            try:
                push = json.loads(msg.data)
                referral_id = push["data"]["referral_id"]
            except (ValueError, KeyError, TypeError):
                # Not even a referral id to answer for: nothing to answer; not to be redelivered.
                await msg.term()
                continue
            if push.get("type") != "referral.push":
                await msg.term()
                continue
            data = decide(args.department, push)
            env = envelope(args, push, event_id(args.department, referral_id, "answer"), push["id"], data)
            tp = child_traceparent((msg.headers or {}).get("traceparent"))
            # Publish (JetStream acknowledges it is stored) before acking the push: a crash in
            # between answers again with the same id, which the mesh applies once.
            await publish(js, args, env, tp)
            await msg.ack()
            answered.append((push, env, tp))
            print(f"answered referral {referral_id}: {data['outcome']}", flush=True)
    return answered


async def run(args: argparse.Namespace) -> int:
    nc = await nats.connect(
        args.nats,
        name=f"{args.department}-bureau-system",
        inbox_prefix=f"_INBOX_{args.department}",
    )
    js = nc.jetstream()
    refused = await nc.subscribe(subject(args.prefix, f"referral.{args.department}.refused"))
    sub = await bind(js, args)
    print("ready", flush=True)
    answered = await answer_pushes(js, sub, args)
    summary = {"answered": {p["data"]["referral_id"]: env["id"] for p, env, _ in answered}}
    ok = len(answered) >= args.count

    if args.correct and answered:
        # The first answer was wrong: a rent subsidy instead of the flat, 300 yuan a month.
        push, first, tp = answered[0]
        referral_id = push["data"]["referral_id"]
        data = {
            "referral_id": referral_id,
            "department": args.department,
            "member_id": push["data"]["member_id"],
            "outcome": "corrected",
            "replaces": first["id"],
            "corrected_to": "granted",
            "grant": {
                "kind": "housing_rent_subsidy",
                "amount_fen": 30000,
                "period": "monthly",
                "from": today().isoformat(),
                "to": a_year_from(today()),
            },
            "reason": "no flat free in the district: rent subsidy instead",
            "decided_by": "officer:Li Na",
        }
        env = envelope(args, push, event_id(args.department, referral_id, "correction-1"), first["id"], data)
        await publish(js, args, env, tp)
        summary["corrected"] = {"referral_id": referral_id, "event_id": env["id"], "replaces": first["id"]}

    if args.contradict and len(answered) > 1:
        # A second, different final answer without `corrected`: monitoring refuses it.
        push, second, tp = answered[1]
        referral_id = push["data"]["referral_id"]
        data = decide(args.department, push)
        data.pop("grant", None)
        data["outcome"] = "rejected"
        data["reason"] = "income above the housing line"
        eid = event_id(args.department, referral_id, "second-answer")
        await publish(js, args, envelope(args, push, eid, push["id"], data), tp)
        refusal = await wait_refusal(refused, eid, args.timeout)
        summary["refused"] = refusal
        ok = ok and refusal is not None

    print(json.dumps(summary), flush=True)
    await nc.drain()
    return 0 if ok else 1


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nats", default="nats://127.0.0.1:4222")
    p.add_argument("--department", required=True)
    p.add_argument("--prefix", default="")
    p.add_argument("--durable", help="the durable to read; default department-<dept>")
    p.add_argument("--create", help="create the durable when missing: new, all or a stream sequence")
    p.add_argument("--count", type=int, default=1, help="referrals to answer before exiting")
    p.add_argument("--correct", action="store_true", help="correct the first answer")
    p.add_argument("--contradict", action="store_true", help="answer the second referral again, differently")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the referrals")
    args = p.parse_args()
    args.durable = args.durable or f"department-{args.department}"
    raise SystemExit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()

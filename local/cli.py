"""``dropml local up|down|status|mail``: the embedded AWS with the template deployed, on one machine.

The emulator's own command group; ``cli.main`` registers it beside the product's commands.
"""

from __future__ import annotations

import argparse
import json
import shlex
from typing import Any

from local import stack
from local.mail import list_outbox


def register(subparsers: Any) -> None:
    local = subparsers.add_parser("local", help="run the product on this machine (embedded AWS, no account, no Docker)")
    commands = local.add_subparsers(dest="local_command", required=True, metavar="COMMAND")

    up = commands.add_parser("up", help="start local mode in the background and deploy template.yaml")
    _port_option(up)
    up.add_argument(
        "--email",
        help=f"the NotificationEmail parameter (default {stack.DEFAULT_EMAIL}); a kept stack keeps its own",
    )
    up.set_defaults(run=run_up)

    down = commands.add_parser(
        "down", help="stop local mode and every process it started; what it holds is kept for the next up"
    )
    _port_option(down)
    down.add_argument(
        "--discard",
        action="store_true",
        help="delete everything local mode holds (buckets, stack, runs, endpoints, mail): the next up starts clean",
    )
    down.set_defaults(run=run_down)

    status = commands.add_parser("status", help="what is deployed: bucket, state machine, topic, endpoints")
    _port_option(status)
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(run=run_status)

    mail = commands.add_parser("mail", help="list the emails local mode has sent (the outbox)")
    _port_option(mail)
    mail.add_argument("--json", action="store_true", help="machine-readable output")
    mail.set_defaults(run=run_mail)


def _port_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=stack.DEFAULT_PORT, help="loopback port (default %(default)s)")


def run_up(args: argparse.Namespace) -> int:
    local = stack.up(args.port, email=args.email)
    info = stack.status(args.port) or {}
    print(f"# local mode is up on {local.endpoint_url}; bucket {info.get('bucket')}")
    print("# to use it from this shell:")
    for name, value in local.environment().items():
        print(f"export {name}={shlex.quote(value)}")
    return 0


def run_down(args: argparse.Namespace) -> int:
    running = stack.down(args.port, discard=args.discard)
    if running:
        print(f"local mode on port {args.port} stopped")
    else:
        print(f"local mode is not running on port {args.port}")
    if args.discard:
        print(f"discarded what it held: the next up on port {args.port} starts clean")
    elif running:
        print(f"what it holds is kept: the next up on port {args.port} starts from it (down --discard to start clean)")
    return 0


def run_status(args: argparse.Namespace) -> int:
    info = stack.status(args.port)
    if args.json:
        print(json.dumps(info if info is not None else {"port": args.port, "running": False}, indent=2))
        return 0 if info is not None else 1
    if info is None:
        print(f"local mode is not running on port {args.port}")
        return 1
    rows = [
        ("endpoint", info["endpoint_url"]),
        ("bucket", info["bucket"]),
        ("state machine", info["state_machine_arn"]),
        ("topic", info["topic_arn"]),
        ("ingest function", info["ingest_function"]),
        ("endpoints", ", ".join(f"{e['name']} ({e['status']})" for e in info["endpoints"]) or "none"),
        ("outbox", info["outbox"]),
    ]
    for label, value in rows:
        print(f"{label:<16} {value}")
    return 0


def run_mail(args: argparse.Namespace) -> int:
    items = list_outbox(stack.stack_for(args.port).outbox)
    if args.json:
        print(json.dumps([item.as_dict() for item in items], indent=2))
        return 0
    if not items:
        print("no mail yet")
        return 0
    for item in items:
        print(f"{item.date}  {item.to}  {item.subject}\n    {item.path}")
    return 0

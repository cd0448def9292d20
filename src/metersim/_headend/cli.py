"""`metersim headend serve|user add`: the parser (added to the top-level CLI by
`add_headend_parser`) and its handlers."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys

from .._errors import SetupError

EXAMPLES = """examples:
  metersim headend user add boss --role admin          asks for the password twice
  echo "$PW" | metersim headend user add op1 --role operator --password-stdin
  metersim headend serve --port 8080                   SQLite file headend.db, cabinet-1 on 5020
  metersim headend serve --db postgresql://meters@dbhost/meters --port 8080 \\
      --cabinet block-A=5020 --cabinet block-B=5021 --host 0.0.0.0
  then open http://127.0.0.1:8080/ (dashboard) or http://127.0.0.1:8080/docs (API)
"""


def _cabinets(specs: list[str] | None) -> dict[str, int]:
    out = {}
    for spec in specs or ["cabinet-1=5020"]:
        name, _, port = spec.partition("=")
        if not name or not port.isdigit() or not 0 <= int(port) < 65536:
            raise SetupError(f"--cabinet takes NAME=PORT (e.g. block-A=5020), got {spec!r}")
        out[name] = int(port)
    return out


def _cmd_serve(args) -> int:
    from .server import Headend

    if args.report_period is not None and not 1 <= args.report_period <= 86400:
        raise SetupError(f"--report-period takes 1..86400 s, got {args.report_period}")
    hs = Headend(args.db, cabinets=_cabinets(args.cabinet), host=args.host, api_port=args.port,
                 report_period_s=args.report_period)
    for name, port in hs.cabinets.items():
        print(f"cabinet {name}: query manager link on {args.host}:{port}", file=sys.stderr)
    print(f"dashboard and API on http://{args.host}:{args.port}/ (Ctrl-C stops)", file=sys.stderr)
    try:
        asyncio.run(hs.serve())
    except KeyboardInterrupt:
        pass
    return 0


def _cmd_user_add(args) -> int:
    from . import domain
    from .db import open_database

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            raise SetupError("the two passwords differ")
    _, sessions = open_database(args.db)
    try:
        with sessions.begin() as s:
            domain.add_user(s, args.name, password, args.role, domain.now_utc())
    except domain.HeadendError as e:
        raise SetupError(str(e)) from None
    print(f"user {args.name} ({args.role}) added")
    return 0


def add_headend_parser(sub) -> argparse.ArgumentParser:
    """Add `headend` (serve, user add) to an argparse subparsers object."""
    fmt = argparse.RawDescriptionHelpFormatter
    db_default = os.environ.get("METERSIM_HEADEND_DB", "headend.db")
    he = sub.add_parser("headend", help="the prepaid cabinets' PC server (database, link, API, "
                        "dashboard)", epilog=EXAMPLES, formatter_class=fmt)
    hsub = he.add_subparsers(dest="headend_command", required=True)

    def db_arg(p):
        p.add_argument("--db", default=db_default, metavar="URL",
                       help="SQLite file or database URL (postgresql://user@host/db); default "
                       "$METERSIM_HEADEND_DB or headend.db")

    sv = hsub.add_parser("serve", help="serve the link, the API and the dashboard",
                         epilog=EXAMPLES, formatter_class=fmt)
    db_arg(sv)
    sv.add_argument("--port", type=int, default=8080, help="HTTP port (default 8080)")
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    sv.add_argument("--report-period", type=int, metavar="S",
                    help="ask each cabinet to report every S seconds (PERIOD at connection; "
                         "default: the cabinet's own, 10 s)")
    sv.add_argument("--cabinet", action="append", metavar="NAME=PORT",
                    help="a cabinet whose query manager connects to PORT (repeatable; default "
                    "cabinet-1=5020)")
    sv.set_defaults(fn=_cmd_serve)
    us = hsub.add_parser("user", help="manage users", epilog=EXAMPLES, formatter_class=fmt)
    usub = us.add_subparsers(dest="user_command", required=True)
    ua = usub.add_parser("add", help="add a user", epilog=EXAMPLES, formatter_class=fmt)
    db_arg(ua)
    ua.add_argument("name")
    ua.add_argument("--role", choices=["operator", "admin"], required=True)
    ua.add_argument("--password-stdin", action="store_true",
                    help="read the password from the first line of stdin")
    ua.set_defaults(fn=_cmd_user_add)
    return he

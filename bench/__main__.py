"""Sanctum's benchmarks, side by side in one table.

    python -m bench                      # every benchmark, short sizes (a few minutes)
    python -m bench pages chat           # some of them
    python -m bench --full               # users at 100,000 and audit at 1,000,000 (long)
    python -m bench --markdown out.md    # also write the table as Markdown (README)

Benchmarks: pages, queries, users, audit, chat, sockets, login. Each starts its own real
`sanctum serve` (or, for users/audit/queries, the app in-process) on a throwaway instance
folder and database (SQLite, and PostgreSQL `sanctum_bench_*` when reachable).
"""
from __future__ import annotations

import argparse
import logging
import platform
import resource
import sys
import time
from datetime import datetime, timezone

from bench.harness import Results, postgres_available, redis_available

NAMES = ("pages", "queries", "users", "audit", "chat", "sockets", "login")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", metavar="name",
                        help=f"which to run (default all): {', '.join(NAMES)}")
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both",
                        help="for pages/queries/users/audit (default both, PostgreSQL when reachable)")
    parser.add_argument("--full", action="store_true", help="users 100,000 and audit 1,000,000 (default 10,000/100,000)")
    parser.add_argument("--users", type=int, help="users-list size (overrides --full)")
    parser.add_argument("--events", type=int, help="audit size (overrides --full)")
    parser.add_argument("--duration", type=float, default=5, help="seconds of load per page (pages)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections (pages)")
    parser.add_argument("--clients", type=int, default=10, help="concurrent chat clients (chat)")
    parser.add_argument("--rounds", type=int, default=3, help="replies per chat client (chat)")
    parser.add_argument("--tokens", type=int, default=100, help="tokens per reply (chat)")
    parser.add_argument("--token-rate", type=float, default=200, help="tokens/s the fake provider emits (chat)")
    parser.add_argument("--sockets", type=int, default=1000, help="idle websockets (sockets)")
    parser.add_argument("--threads", type=int, default=0,
                        help="server threads for the sockets benchmark (default sockets + 100)")
    parser.add_argument("--storm", type=int, default=20, help="concurrent sign-ins (login)")
    parser.add_argument("--no-redis", action="store_true", help="skip the Redis + RQ mode of the chat benchmark")
    parser.add_argument("--markdown", metavar="FILE", help="also write the table as Markdown")
    args = parser.parse_args(argv)
    unknown = set(args.names) - set(NAMES)
    if unknown:
        parser.error(f"unknown benchmark {', '.join(sorted(unknown))}; choose from {', '.join(NAMES)}")
    names = args.names or list(NAMES)
    logging.disable(logging.WARNING)
    raise_fd_limit()

    databases = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    if "postgresql" in databases and not postgres_available():
        print("PostgreSQL is not reachable (SANCTUM_BENCH_PG): SQLite only")
        databases = ["sqlite"]
    users = args.users or (100_000 if args.full else 10_000)
    events = args.events or (1_000_000 if args.full else 100_000)
    results = Results()
    started = time.monotonic()
    for name in names:
        if name == "pages":
            from bench import pages

            for database in databases:
                pages.run(results, database=database, duration=args.duration, connections=args.connections)
        elif name == "queries":
            from bench import queries

            for database in databases:
                queries.run(results, database=database)
        elif name == "users":
            from bench import scale

            scale.run_users(results, databases, users)
        elif name == "audit":
            from bench import scale

            scale.run_audit(results, databases, events)
        elif name == "chat":
            from bench import chat

            chat.run(results, clients=args.clients, tokens=args.tokens, rate=args.token_rate, rounds=args.rounds,
                     redis=False)
            if not args.no_redis:
                if "postgresql" in databases and redis_available():
                    chat.run(results, clients=args.clients, tokens=args.tokens, rate=args.token_rate,
                             rounds=args.rounds, redis=True)
                else:
                    results.note("chat with Redis + RQ skipped: needs Redis (SANCTUM_BENCH_REDIS) and PostgreSQL")
        elif name == "sockets":
            from bench import sockets

            sockets.run(results, count=args.sockets, threads=args.threads or args.sockets + 100)
        elif name == "login":
            from bench import login

            login.run(results, storm=args.storm)
    header = (f"machine: {platform.node()}, {platform.processor() or platform.machine()}, "
              f"{_cpus()} CPUs, Python {platform.python_version()}; "
              f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; took {time.monotonic() - started:.0f} s")
    print("\n" + header + "\n")
    print(results.markdown())
    if args.markdown:
        with open(args.markdown, "w") as fh:
            fh.write(header + "\n\n" + results.markdown() + "\n")
    return 0


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


def raise_fd_limit() -> None:
    """A thousand websockets need a thousand descriptors on each side: lift the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 65536) if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


if __name__ == "__main__":
    sys.exit(main())

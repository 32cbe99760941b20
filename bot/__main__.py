"""The peerbot command line: run, demo, jobs, db upgrade, reindex, experts import|export, tags import."""

from __future__ import annotations

import argparse
import logging
import sys

from bot import admin
from bot.config import ConfigError, Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="peerbot", description="Peerbot: peer learning for Slack.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="connect to Slack and serve (Socket Mode with SLACK_APP_TOKEN, else HTTP)")
    run.add_argument("--http", action="store_true", help="serve HTTP on PORT even when SLACK_APP_TOKEN is set")
    run.add_argument("--port", type=int, help="HTTP port (default: PORT, 3000)")
    run.add_argument("--no-scheduler", action="store_true", help="web only: leave the scheduled sweeps to others")
    sub.add_parser("demo", help="play a story against a local sandbox Slack and print what everyone saw")
    db = sub.add_parser("db", help="database maintenance")
    db.add_argument("action", choices=["upgrade"], help="upgrade: apply schema migrations")
    sub.add_parser("jobs", help="list the scheduled jobs, what they do and when each runs next")
    st = sub.add_parser(
        "stats",
        help="questions per week, share answered, time to a first answer, top topics and helpers",
        description="Aggregates over public channels; a figure appears only where at least 5 people asked.",
    )
    st.add_argument("--team", help="workspace id (T…); needed when the database serves several")
    st.add_argument("--weeks", type=int, default=8, help="how many weeks back (1-104, default 8)")
    admin.add_parsers(sub)
    admin.add_reindex_parser(sub)
    args = parser.parse_args(argv)

    if args.command == "demo":
        from bot.demo import run_demo

        return int(run_demo())
    from dotenv import load_dotenv

    load_dotenv()  # a .env file in the working directory, if there is one; the environment wins
    try:
        settings = Settings.from_env(need_slack=args.command == "run")
    except ConfigError as e:
        print(e, file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.command == "db":
        from storage.db import make_engine, upgrade

        upgrade(make_engine(settings.database_url))
        print(f"database is up to date ({_safe_url(settings.database_url)})")
        return 0
    if args.command == "jobs":
        return _jobs(settings)
    if args.command == "stats":
        from bot.stats import cli
        from storage.db import make_engine, upgrade

        engine = make_engine(settings.database_url)
        upgrade(engine)
        return cli(engine, team=args.team, weeks=args.weeks)
    if args.command == "reindex":
        from storage.db import make_engine, upgrade

        engine = make_engine(settings.database_url)
        upgrade(engine)
        return admin.reindex(engine, settings)
    if args.command in ("experts", "tags", "export", "import", "user", "workspace"):
        from storage.db import make_engine, upgrade

        engine = make_engine(settings.database_url)
        upgrade(engine)
        return admin.run(args, engine)
    return _run(settings, args)


def _run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import build_app
    from bot.deps import build_deps
    from storage.db import make_engine, upgrade

    if args.http and not settings.signing_secret:
        print("HTTP mode needs SLACK_SIGNING_SECRET (Basic Information → App Credentials).", file=sys.stderr)
        return 2
    upgrade(make_engine(settings.database_url))
    deps = build_deps(settings)
    app = build_app(settings, deps, process_before_response=True)
    from scheduled.scheduler import build_index_sync, build_scheduler

    if deps.search is not None and deps.search.is_stale():
        logging.getLogger("peerbot").info("search index missing or stale: rebuilding it from the database")
        deps.search.rebuild()
    schedulers = [s for s in (build_index_sync(deps), None if args.no_scheduler else build_scheduler(deps)) if s]
    for scheduler in schedulers:
        scheduler.start()
    try:
        if settings.socket_mode and not args.http:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            SocketModeHandler(app, settings.app_token).start()  # type: ignore[no-untyped-call]
        else:
            from bot.server import serve

            serve(app, deps, port=args.port)
    except KeyboardInterrupt:
        pass
    finally:
        for scheduler in schedulers:
            scheduler.shutdown(wait=False)
    return 0


def _jobs(settings: Settings) -> int:
    from bot.deps import build_deps, utc_now
    from scheduled.scheduler import describe
    from storage.db import make_engine, upgrade

    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    upgrade(make_engine(settings.database_url))
    deps = build_deps(settings)
    rows = describe(deps, utc_now())
    width = max(len(r[0]) for r in rows)
    print(f"{'job':<{width}}  {'next run':<23}  what it does")
    for job_id, nxt, what in rows:
        print(f"{job_id:<{width}}  {nxt:<23}  {what}")
    print("Sweeps run on one replica at a time (on PostgreSQL, the holder of an advisory lock); "
          "`peerbot run --no-scheduler` leaves them to others.")  # fmt: skip
    return 0


def _safe_url(url: str) -> str:
    """The database URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    sys.exit(main())

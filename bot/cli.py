"""`apikey-bot` (also `python -m bot`): serve, sweep, doctor, manifest."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Coroutine, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from bot import __version__
from bot.collector import collector_paused, resume_collector

if TYPE_CHECKING:
    from bot.config import Settings

T = TypeVar("T")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="apikey-bot",
        description="Slack bot for DataOS API keys: list and create keys from Slack, delivered privately.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the bot (HTTP mode, or --socket-mode)")
    serve.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")  # noqa: S104
    serve.add_argument("--port", type=int, default=None, help="port (default: PORT or 3000)")
    serve.add_argument("--socket-mode", action="store_true", help="connect to Slack over Socket Mode")

    sweep = sub.add_parser("sweep", help="run one reminder tick now (a discovery when one is due) and print a "
                                         "summary (for cron)")
    sweep.add_argument("--discover", action="store_true",
                       help="list every audience member's keys now (a full discovery), whenever the last was")
    playground = sub.add_parser("playground", help="try the whole bot in a browser: embedded Slack and DataOS, "
                                                   "no workspace or key needed")
    playground.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    playground.add_argument("--port", type=int, default=4000, help="port of the page (default 4000; 0 picks one)")
    sub.add_parser("doctor", help="check configuration, Slack, the bot's DataOS key and the database")
    policy = sub.add_parser("policy", help="the key policy file (POLICY_FILE)")
    policy_sub = policy.add_subparsers(dest="policy_command", metavar="ACTION", required=True)
    check = policy_sub.add_parser("check", help="check a key policy file and print its rules in the order they "
                                                "are tried; exit 1 naming the line of the first problem")
    check.add_argument("file", help="the TOML file, e.g. policy.toml")

    manifest = sub.add_parser("manifest", help="print the Slack app manifest for this configuration")
    where = manifest.add_mutually_exclusive_group()
    where.add_argument("--url", help="public base URL of the bot, e.g. https://bot.example.com")
    where.add_argument("--socket-mode", action="store_true", help="a manifest for Socket Mode (no URLs)")
    manifest.add_argument("--leak-watch", action="store_true",
                          help="add what LEAK_WATCH=true needs: reading messages in channels the bot is in")
    manifest.add_argument("--workflows", action="store_true",
                          help="declare the Workflow Builder steps (custom steps; needs a paid plan, org-ready)")
    manifest.add_argument("--org", action="store_true",
                          help="an org-ready app (Enterprise Grid): installed once for the organisation, one token "
                               "for every workspace its admin grants")
    return parser


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """Run a one-shot command on uvloop where it is installed, as `serve` does through uvicorn, so a
    sweep behaves the same from cron as inside the server."""
    # Imports in this module's functions are deferred for start-up speed: each command loads only what it
    # uses (`manifest` and `doctor` need no Bolt, `sweep` no web server), and `serve` and `sweep` load theirs
    # while the collector is paused (see bot.collector).
    import asyncio  # noqa: PLC0415

    try:
        import uvloop  # noqa: PLC0415
    except ImportError:  # Windows
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def settings_or_exit() -> Settings:
    from bot.config import ConfigError, load_settings  # noqa: PLC0415
    from bot.policy.loader import policy_of  # noqa: PLC0415

    try:
        settings = load_settings()
        policy_of(settings)  # a broken POLICY_FILE stops start-up here, in one line naming it and the line
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        raise SystemExit(2) from None
    return settings


def serve(args: argparse.Namespace) -> int:
    with collector_paused():  # until started (bot.web resumes it)
        return _serve(args)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn  # noqa: PLC0415

    from bot.app import Runtime  # noqa: PLC0415
    from bot.compose import create_web_app  # noqa: PLC0415
    from bot.logs import configure_logging  # noqa: PLC0415
    from bot.store import DatabaseUnusable  # noqa: PLC0415

    settings = settings_or_exit()
    if args.socket_mode and settings.slack_app_token is None:
        print("configuration error: SLACK_APP_TOKEN is missing; expected an xapp- token for --socket-mode",
              file=sys.stderr)
        return 2
    if not args.socket_mode and settings.slack_signing_secret is None:
        print("configuration error: SLACK_SIGNING_SECRET is missing; expected the Slack app's signing secret "
              "(or run with --socket-mode)", file=sys.stderr)
        return 2
    configure_logging(settings.log_format, settings.log_level)
    port = args.port if args.port is not None else settings.port
    try:
        runtime = Runtime(settings)
    except DatabaseUnusable as exc:
        print(f"apikey-bot cannot start: {exc}", file=sys.stderr)
        return 1
    failed = False

    def fatal() -> None:
        nonlocal failed
        failed = True
        server.should_exit = True

    app = create_web_app(runtime, socket_mode=args.socket_mode, on_fatal=fatal)
    config = uvicorn.Config(app, host=args.host, port=port, log_config=None, access_log=False,
                            proxy_headers=True, lifespan="on", timeout_graceful_shutdown=20)
    server = uvicorn.Server(config)
    # Bound and listening before start-up runs (uvicorn would bind after it): a request that arrives
    # while the bot starts waits in the backlog for a moment instead of being refused.
    sock = config.bind_socket()  # exits with uvicorn's message when the port is taken
    sock.listen(config.backlog)
    server.run(sockets=[sock])
    return 0 if server.started and not failed else 1


def sweep(args: argparse.Namespace) -> int:
    with collector_paused():  # until started (resumed below)
        return _sweep(args)


def _sweep(args: argparse.Namespace) -> int:
    from bot.app import Runtime  # noqa: PLC0415
    from bot.delivery import SweepFailed  # noqa: PLC0415
    from bot.logs import configure_logging  # noqa: PLC0415
    from bot.reminders.sweep import Sweeper  # noqa: PLC0415
    from bot.store import DatabaseUnusable  # noqa: PLC0415
    from bot.vault.operator import OperatorKeyUnavailable  # noqa: PLC0415

    settings = settings_or_exit()
    configure_logging(settings.log_format, settings.log_level)

    async def run() -> int:
        try:
            rt = Runtime(settings)
        except DatabaseUnusable as exc:
            print(f"sweep failed: {exc}", file=sys.stderr)
            return 1
        try:
            await rt.start()
            resume_collector()
            summary = await Sweeper(rt).run("discovery" if args.discover else "auto")
        except (SweepFailed, DatabaseUnusable, OperatorKeyUnavailable) as exc:
            print(f"sweep failed: {exc}", file=sys.stderr)
            return 1
        finally:
            await rt.aclose()
        print("\n".join(summary.lines()))
        return 1 if summary.failures else 0

    return run_async(run())


def _terminate(signum: int, frame: object) -> None:
    # SIGTERM's default would end the process at once, leaving the playground's temporary database behind:
    # as an exception it unwinds through the clean-up (uvicorn hands the signal back here when it stops).
    raise SystemExit(0)


def playground(args: argparse.Namespace) -> int:
    import asyncio  # noqa: PLC0415
    import signal  # noqa: PLC0415

    from bot.logs import configure_logging  # noqa: PLC0415
    from bot.playground.run import main_async  # noqa: PLC0415

    configure_logging("console", "INFO")
    signal.signal(signal.SIGTERM, _terminate)
    try:
        asyncio.run(main_async(args.host, args.port))
    except KeyboardInterrupt:
        pass
    except OSError as exc:  # the port is taken, say
        print(f"playground: {exc}", file=sys.stderr)
        return 1
    return 0


def doctor(args: argparse.Namespace) -> int:
    from bot.config import ConfigError, load_settings  # noqa: PLC0415
    from bot.doctor import run_doctor  # noqa: PLC0415

    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"✘ {exc}")
        return 2
    checks = run_async(run_doctor(settings))
    for check in checks:
        print(check.line())
    failed = [c for c in checks if c.status == "fail"]
    warned = [c for c in checks if c.status == "warn"]
    if failed:
        print(f"{len(failed)} problem{'s' if len(failed) != 1 else ''} found.")
    elif warned:
        print(f"No problems; {len(warned)} warning{'s' if len(warned) != 1 else ''} (!) worth a look.")
    else:
        print("All good.")
    return 1 if failed else 0


def policy(args: argparse.Namespace) -> int:
    """`apikey-bot policy check FILE`: 0 and the rules as the bot reads them, or 1 and the line at fault."""
    from bot.domain.durations import InvalidDuration, parse_duration_hours  # noqa: PLC0415
    from bot.policy.loader import PolicyError, describe, load_policy_file  # noqa: PLC0415

    try:  # what [defaults] max_validity falls back to, as the bot would read it
        fallback = parse_duration_hours(os.environ.get("MAX_VALIDITY") or "365d")
    except InvalidDuration:
        fallback = 365 * 24
    try:
        loaded = load_policy_file(args.file, fallback_max_hours=fallback)
    except PolicyError as exc:
        print(f"✘ {exc}", file=sys.stderr)
        return 1
    print(f"✔ {args.file}: {len(loaded.rules)} rule{'s' if len(loaded.rules) != 1 else ''} and the defaults; the "
          "first rule that names a person and covers the kind of key applies:")
    for line in describe(loaded):
        print(f"  {line}")
    return 0


def manifest(args: argparse.Namespace) -> int:
    from bot.manifest import PLACEHOLDER_URL, render  # noqa: PLC0415

    print(render(args.url, socket_mode=args.socket_mode, leak_watch=args.leak_watch, org=args.org,
                 workflows=args.workflows), end="")
    if not args.url and not args.socket_mode:  # on stderr: stdout stays a manifest to redirect into a file
        print(f"apikey-bot manifest: no --url given, so its URLs use the placeholder {PLACEHOLDER_URL}; give "
              "your bot's public URL with --url https://… (or use --socket-mode)", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    commands = {"serve": serve, "sweep": sweep, "playground": playground, "doctor": doctor, "manifest": manifest,
                "policy": policy}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())

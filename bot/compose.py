"""The composition: the one place that puts the bot together, above everything else it uses.

`Runtime` (bot.app) owns the clients, the engine and the services and knows nothing above it. Here, and
only here, a Bolt app is built around it, every listener is registered, the reminder and housekeeping
jobs are started, and the admin's "sweep now" is given the sweep. `apikey-bot serve`, `apikey-bot sweep`,
the playground and the tests' harness all build the bot through this module.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from starlette.applications import Starlette

from bot.app import Runtime
from bot.delivery import SweepReport
from bot.logs import request_id
from bot.reminders.scheduler import start_scheduler
from bot.reminders.sweep import Sweeper, worker_name
from bot.rotation.engine import RotationEngine
from bot.slack import (
    actions,
    admin,
    commands,
    grid,
    home,
    leak_watch,
    lifecycle,
    links,
    name_warning,
    offboarding,
    reminder_buttons,
    views,
)
from bot.slack.approvals import buttons as approval_buttons
from bot.slack.approvals.surface import SlackApprovals
from bot.slack.common import PooledRespond
from bot.slack.notices import buttons as notice_buttons
from bot.slack.revocations import buttons as revocation_buttons
from bot.slack.rotation import buttons as rotation_buttons
from bot.slack.teams import for_select as team_for_select
from bot.slack.teams import group_watch
from bot.slack.teams import keys as team_keys
from bot.slack.teams import reminder_buttons as team_reminder_buttons
from bot.web import BODY_SECONDS, asgi_app

log = logging.getLogger(__name__)


def create_web_app(runtime: Runtime, *, socket_mode: bool = False,
                   on_started: Callable[[], None] | None = None, on_fatal: Callable[[], None] | None = None,
                   body_seconds: float = BODY_SECONDS) -> Starlette:
    """The whole bot as an ASGI app: the Bolt app with every listener, served by `bot.web`, whose start-up
    starts the runtime and its jobs (`start_runtime`). `on_fatal`: see `bot.web.asgi_app`."""
    bolt = build_bolt_app(runtime, socket_mode=socket_mode)
    return asgi_app(runtime, bolt, start=lambda: start_runtime(runtime), socket_mode=socket_mode,
                    on_started=on_started, on_fatal=on_fatal, body_seconds=body_seconds)


async def start_runtime(runtime: Runtime) -> None:
    """Migrate and warm up (`Runtime.start`), then start the scheduler: housekeeping always, and the
    reminder sweep (once now, to catch up, then on its interval) unless REMINDERS_ENABLED=false."""
    await runtime.start()
    runtime.scheduler = start_scheduler(runtime)


def with_sweep(runtime: Runtime) -> Runtime:
    """Gives the runtime the sweep, for the admin's `/apikey admin sweep` (the listener sits below the sweep)."""

    async def sweep_now(mode: str) -> SweepReport:
        return await Sweeper(runtime).run("discovery" if mode == "discovery" else "auto")

    async def rotate_now(app_user_id: str, name: str, expiration: datetime, trigger: str) -> str:
        return await RotationEngine(runtime, worker=worker_name()).start_now(app_user_id, name, expiration, trigger)

    runtime.sweep_now = sweep_now
    runtime.rotate_now = rotate_now
    return runtime


class _QuietBolt(logging.Filter):
    """Two of Bolt's and the Slack SDK's lines, made to say what they mean.

    "As you gave `client` as well, `token` will be unused." fires whenever SLACK_BOT_TOKEN is in the
    environment and an app is given a client, which is every deployment of this bot: the client is made
    from that very token, so it is dropped. "Failed to connect (…); Retrying..." (Socket Mode, every
    10 s while Slack cannot be reached) is logged as an error with a traceback each time: it becomes
    one warning line.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message == warning_client_prioritized_and_token_skipped():
            return False
        if message.startswith("Failed to connect (error:") and record.levelno >= logging.WARNING:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info, record.exc_text = None, None
        return True


def build_bolt_app(runtime: Runtime, *, socket_mode: bool = False) -> AsyncApp:
    settings = runtime.settings
    bolt_log = logging.getLogger("bot.bolt")
    if not any(isinstance(f, _QuietBolt) for f in bolt_log.filters):
        bolt_log.addFilter(_QuietBolt())
    signing_secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    app = AsyncApp(
        client=runtime.slack,
        signing_secret=signing_secret,
        # bot.web checks the signature before anything else reads the body; once is enough.
        request_verification_enabled=False,
        raise_error_for_unhandled_request=False,
        logger=bolt_log,
        # Named here, or Bolt finds a name with inspect.stack(), which reads source files: ~75 ms of start-up.
        name="apikey-bot",
    )
    register_all(app, with_sweep(runtime))
    return app


def register_all(app: AsyncApp, rt: Runtime) -> None:
    commands.register(app, rt)
    views.register(app, rt)
    name_warning.register(app, rt)
    actions.register(app, rt)
    reminder_buttons.register(app, rt)
    admin.register(app, rt)
    home.register(app, rt)
    offboarding.register(app, rt)
    leak_watch.register(app, rt)
    links.register(app, rt)
    lifecycle.register(app, rt)
    grid.register(app, rt)
    team_keys.register(app, rt)
    team_reminder_buttons.register(app, rt)
    approval_buttons.register(app, rt)
    notice_buttons.register(app, rt)
    rt.approvals.surface = SlackApprovals(rt)  # requests are shown in Slack
    group_watch.register(rt)  # owners who join or leave through a user group are told to the team
    revocation_buttons.register(app, rt)
    team_for_select.register(app, rt)
    rotation_buttons.register(app, rt)

    @app.middleware
    async def request_context(context: AsyncBoltContext, next: Callable[[], Awaitable[None]]) -> None:
        # Every log line of this request, including its listener's work after the ack, carries this id.
        request_id.set(uuid.uuid4().hex[:12])
        if context.response_url is not None and rt.slack.session is not None:
            context["respond"] = PooledRespond(response_url=context.response_url, session=rt.slack.session,
                                               client=rt.slack)
        await next()

    @app.error
    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        # Type and where only: an exception's text could carry request data.
        kind = body.get("type") or ("command" if "command" in body else "unknown")
        log.error("unhandled %s in a %s listener", type(error).__name__, kind, exc_info=error)

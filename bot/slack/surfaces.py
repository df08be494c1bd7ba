"""Every Bolt listener of every surface, registered in one place (`register`).

`bot.compose` loads this module, and with it every listener module and its Block Kit, only once the bot
is ready (a warm-up in the background), or with the first request that comes sooner: none of it is
needed to start, and loading it costs start-up time. The order below is the order Bolt tries listeners in.
"""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.app import Runtime
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
from bot.slack.notices import buttons as notice_buttons
from bot.slack.revocations import buttons as revocation_buttons
from bot.slack.rotation import buttons as rotation_buttons
from bot.slack.teams import for_select as team_for_select
from bot.slack.teams import keys as team_keys
from bot.slack.teams import reminder_buttons as team_reminder_buttons
from bot.slack.workflows import steps as workflow_steps


def register(app: AsyncApp, rt: Runtime) -> None:
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
    revocation_buttons.register(app, rt)
    team_for_select.register(app, rt)
    rotation_buttons.register(app, rt)
    workflow_steps.register(app, rt)  # Workflow Builder steps (app.function)

"""The people and keys the playground starts with (README: "The playground")."""

from __future__ import annotations

from bot.playground.heimdall import HeimdallEmulator
from bot.playground.slack import BOT_USER_ID
from bot.playground.workspace import Workspace

ADMIN = "U0GRACE"
DAY = 24  # hours
#: The team of `etl-ingest` (issue #22): its channel, and a user group owning it with Ada.
TEAM_APP, TEAM_CHANNEL, TEAM_GROUP = "etl-ingest", "C0DATAENG", "S0DATAENG"
TEAM_OWNERS = ("U0ADA",)
#: Where etl-ingest's newest key rotates itself (issue #27): 21 days before it expires, so +7 days makes it due.
ROTATION_MOUNT, ROTATION_PATH, ROTATION_PREFIX = "secret", "pipelines/etl-ingest", "secret/pipelines/"
ROTATION_BEFORE_HOURS = 21 * 24
#: The playground's key policy (issue #28): above 90 days a key needs an admin's approval (Grace's), asked
#: in #apikey-approvals.
APPROVAL_CHANNEL = "C0APPROVALS"
POLICY = """\
# The playground's key policy (POLICY_FILE). Check one with `apikey-bot policy check FILE`.
[defaults]
max_validity = "365d"
approval_above = "90d"        # longer keys need someone's approval
approvers = ["admins"]        # ADMIN_SLACK_USER_IDS: Grace Hopper
request_ttl = "8h"
"""


def seed(emu: HeimdallEmulator, slack: Workspace) -> None:
    slack.add_persona("U0ADA", "Ada Lovelace", "ada@acme.example", "Europe/Berlin",
                      "matched to DataOS user ada by e-mail; keys expire tomorrow, in 6, 25 and 200 days")
    slack.add_persona("U0BOB", "Bob Stone", "bob@acme.example", "America/New_York",
                      "matched to DataOS user bob by e-mail; no keys yet (ask for a 180-day one: it needs approval)")
    slack.add_persona(ADMIN, "Grace Hopper", "grace@acme.example", "America/Los_Angeles",
                      "platform admin (ADMIN_SLACK_USER_IDS); DataOS user grace")
    slack.add_persona("U0DAN", "Dan Okafor", "dan@acme.example", "Africa/Lagos", "has no DataOS user")
    slack.add_user(BOT_USER_ID, None, is_bot=True, name="apikey-bot")
    emu.add_user("ada", "ada@acme.example", name="Ada Lovelace")
    for name, hours in (("nightly_loader", 1 * DAY), ("ci_pipeline", 6 * DAY), ("notebook_sandbox", 25 * DAY),
                        ("dashboard_reader", 200 * DAY)):
        emu.add_token("ada", name, hours=hours)
    emu.add_user("bob", "bob@acme.example", name="Bob Stone")
    emu.add_user("grace", "grace@acme.example", name="Grace Hopper")
    emu.add_token("grace", "admin_cli", hours=90 * DAY)
    emu.add_user("etl-ingest", None, name="ETL ingest service", type="application",
                  tags=["roles:id:app-user", "users:id:etl-ingest"])
    emu.add_token("etl-ingest", "ingest_writer", hours=25 * DAY)
    # Expires tomorrow: "+1 day, sweep" finds its 1-day step due, and #data-eng gets the reminder.
    emu.add_token("etl-ingest", "nightly_ingest", hours=30)
    slack.add_usergroup(TEAM_GROUP, "data-eng-oncall", [ADMIN])

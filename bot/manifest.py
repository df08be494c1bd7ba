"""The Slack app manifest, generated from what the code uses (command, scopes, routes).

`manifests/slack-app.yaml`, `slack-app.socket.yaml`, `slack-app.leak-watch.yaml` and `slack-app.org.yaml` are
renderings of this, checked by a test (and against Slack's published manifest schema); `apikey-bot manifest --url
https://host` prints one with your URL filled in, `--org` one for an Enterprise Grid organisation-wide install.
"""

from __future__ import annotations

from typing import Any

import yaml

from bot.slack.commands import COMMAND
from bot.slack.workflows.definitions import with_steps
from bot.web import EVENTS_PATH

PLACEHOLDER_URL = "https://apikey-bot.example.com"
#: What Slack shows beside the command as people type it (the playground shows the same).
COMMAND_DESCRIPTION = "List and create your DataOS API keys"
COMMAND_USAGE = ("[list [app-user] | create [--for app-user] [name] [validity] | revoke [--for app-user] <name> | "
                 "whoami | link | reminders on|off | policy | requests | help]")

#: Web API methods the bot calls, and the scope each needs. A test checks this against the code.
METHOD_SCOPES: dict[str, str] = {
    "views.open": "",  # trigger-based, no scope
    "views.update": "",
    "conversations.open": "im:write",
    "chat.postEphemeral": "chat:write",
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "users.info": "users:read",
    "users.list": "users:read",
    "users.lookupByEmail": "users:read.email",  # who else a link affects: the person matched by e-mail
    "auth.test": "",
    "views.publish": "",
    "chat.getPermalink": "",  # the leak watch's link to the message; no scope
    "conversations.info": "channels:read",  # doctor: is the bot in AUDIT_CHANNEL and every team channel?
    "usergroups.users.list": "usergroups:read",  # team keys: who is in a user group that owns a team
    "functions.completeSuccess": "",  # Workflow Builder steps (`--workflows`); no scope
    "functions.completeError": "",
    "auth.teams.list": "",  # Enterprise Grid: the workspaces an organisation-wide install was granted
}
#: Events the bot subscribes to (the Home tab; members changing, leaving or joining, which keep the reminder
#: audience current between directory walks and tell admins about deactivations; the app being uninstalled
#: or its tokens revoked, which stop reminders and make /readyz say so).
BOT_EVENTS = ("app_home_opened", "user_change", "team_join", "app_uninstalled", "tokens_revoked")
#: Scopes that follow from features rather than from one method.
FEATURE_SCOPES = {
    "commands": "the /apikey slash command",
    "users:read.email": "e-mail in users.info and users.lookupByEmail, to match Slack people with DataOS users",
    "groups:read": "conversations.info of a private AUDIT_CHANNEL, for doctor's check that the bot is in it",
}


#: What the leak watch (LEAK_WATCH=true) adds: reading messages in the channels the bot was invited to.
LEAK_WATCH_SCOPES = {
    "channels:history": "messages in public channels the bot is a member of (leak watch)",
    "groups:history": "messages in private channels the bot was invited to (leak watch)",
}
LEAK_WATCH_EVENTS = ("message.channels", "message.groups")
#: What an organisation-wide install (Enterprise Grid, `--org`) adds: the org admin granting or taking back a
#: workspace, which adds it to the member directory or drops it without a restart.
ORG_EVENTS = ("team_access_granted", "team_access_revoked")


def bot_scopes(*, leak_watch: bool = False) -> list[str]:
    scopes = {s for s in METHOD_SCOPES.values() if s} | set(FEATURE_SCOPES)
    return sorted(scopes | set(LEAK_WATCH_SCOPES) if leak_watch else scopes)


def build_manifest(url: str | None = None, *, socket_mode: bool = False, leak_watch: bool = False,
                   org: bool = False, workflows: bool = False) -> dict[str, Any]:
    request_url = (url or PLACEHOLDER_URL).rstrip("/")
    if not request_url.endswith(EVENTS_PATH):
        request_url += EVENTS_PATH
    command: dict[str, Any] = {
        "command": COMMAND,
        "description": COMMAND_DESCRIPTION,
        "usage_hint": COMMAND_USAGE,
        "should_escape": True,  # mentions arrive as <@U123|name>, which admin commands need
    }
    interactivity: dict[str, Any] = {"is_enabled": True}
    events: dict[str, Any] = {"bot_events": list(BOT_EVENTS) + (list(LEAK_WATCH_EVENTS) if leak_watch else [])
                              + (list(ORG_EVENTS) if org else [])}
    if not socket_mode:
        command["url"] = request_url
        interactivity["request_url"] = request_url
        # The create form's "For" select loads its options from here when a person owns over 100 teams.
        interactivity["message_menu_options_url"] = request_url
        events = {"request_url": request_url, **events}
    manifest = {
        "display_information": {
            "name": "DataOS API keys",
            "description": "List and create your DataOS API keys from Slack; keys arrive privately.",
            "long_description": (
                "Type /apikey create, pick a name and a validity, and your new DataOS API key arrives "
                "privately in your direct messages with the bot. /apikey list shows your keys with their "
                "expiry in your own time zone, and lets you reveal or revoke them. Keys are never stored "
                "by the bot and never posted where others can see them."
            ),
            "background_color": "#1f3a60",
        },
        "features": {
            "app_home": {
                "home_tab_enabled": True,
                "messages_tab_enabled": True,
                "messages_tab_read_only_enabled": True,
            },
            "bot_user": {"display_name": "apikey-bot", "always_online": True},
            "slash_commands": [command],
        },
        "oauth_config": {"scopes": {"bot": bot_scopes(leak_watch=leak_watch)}},
        "settings": {
            "event_subscriptions": events,
            "interactivity": interactivity,
            # An org-ready app: installed once by the organisation's admin, one bot token for every workspace
            # granted to it (docs/operations.md, "Enterprise Grid").
            "org_deploy_enabled": org,
            "socket_mode_enabled": socket_mode,
            "token_rotation_enabled": False,
        },
    }
    return with_steps(manifest) if workflows else manifest  # Workflow Builder steps (docs/workflows.md)


def render(url: str | None = None, *, socket_mode: bool = False, leak_watch: bool = False, org: bool = False,
           workflows: bool = False) -> str:
    mode = (("Socket Mode" if socket_mode else "HTTP mode") + (", leak watch" if leak_watch else "")
            + (", Enterprise Grid organisation-wide" if org else "") + (", workflow steps" if workflows else ""))
    header = f"# Slack app manifest for dataos-apikey-bot ({mode})\n"
    header += "# Generated by `apikey-bot manifest`; paste it at https://api.slack.com/apps > Create New App.\n"
    body = yaml.safe_dump(build_manifest(url, socket_mode=socket_mode, leak_watch=leak_watch, org=org,
                                         workflows=workflows),
                          sort_keys=False, allow_unicode=True)
    return header + body

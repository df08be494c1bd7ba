"""The Slack app manifests follow Slack's published schema and match what the code uses."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import pytest
import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from slack_sdk.web.async_client import AsyncWebClient

from bot.manifest import METHOD_SCOPES, ORG_EVENTS, bot_scopes, build_manifest, render

ROOT = Path(__file__).resolve().parents[2]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DisplayInformation(Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=35)]
    description: Annotated[str, StringConstraints(max_length=140)] | None = None
    long_description: Annotated[str, StringConstraints(max_length=4000)] | None = None
    background_color: Annotated[str, StringConstraints(pattern=r"^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")] | None = None


class AppHome(Strict):
    home_tab_enabled: bool | None = None
    messages_tab_enabled: bool | None = None
    messages_tab_read_only_enabled: bool | None = None


class BotUser(Strict):
    display_name: Annotated[str, StringConstraints(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9._-]+$")]
    always_online: bool | None = None


class SlashCommand(Strict):
    command: Annotated[str, StringConstraints(max_length=32, pattern=r"^/")]
    description: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    usage_hint: Annotated[str, StringConstraints(max_length=1000)] | None = None
    should_escape: bool | None = None
    url: str | None = None


class Features(Strict):
    app_home: AppHome | None = None
    bot_user: BotUser | None = None
    slash_commands: list[SlashCommand] | None = None


class Scopes(Strict):
    bot: Annotated[list[str], Field(max_length=255)] | None = None
    user: Annotated[list[str], Field(max_length=255)] | None = None


class OAuthConfig(Strict):
    scopes: Scopes | None = None
    redirect_urls: list[str] | None = None


class Interactivity(Strict):
    is_enabled: bool
    request_url: str | None = None
    message_menu_options_url: str | None = None


class EventSubscriptions(Strict):
    request_url: str | None = None
    bot_events: Annotated[list[str], Field(max_length=100)] | None = None
    user_events: Annotated[list[str], Field(max_length=100)] | None = None


class Settings(Strict):
    interactivity: Interactivity | None = None
    event_subscriptions: EventSubscriptions | None = None
    org_deploy_enabled: bool | None = None
    socket_mode_enabled: bool | None = None
    token_rotation_enabled: bool | None = None
    allowed_ip_address_ranges: list[str] | None = None


class Manifest(Strict):
    field_metadata: dict[str, Any] | None = Field(default=None, alias="_metadata")
    display_information: DisplayInformation
    settings: Settings | None = None
    features: Features | None = None
    oauth_config: OAuthConfig | None = None


FILES = {"slack-app.yaml": (False, False, False), "slack-app.socket.yaml": (True, False, False),
         "slack-app.leak-watch.yaml": (False, True, False), "slack-app.org.yaml": (False, False, True)}


@pytest.mark.parametrize(("filename", "modes"), FILES.items())
def test_committed_manifests_follow_the_schema_and_are_current(filename: str, modes: tuple[bool, bool, bool]) -> None:
    socket_mode, leak_watch, org = modes
    text = (ROOT / "manifests" / filename).read_text()
    assert text == render(socket_mode=socket_mode, leak_watch=leak_watch, org=org), "regenerate: `apikey-bot manifest`"
    manifest = Manifest.model_validate(yaml.safe_load(text))
    assert manifest.settings is not None and manifest.settings.socket_mode_enabled is socket_mode
    urls = re.findall(r"https?://\S+", text.split("\n", 2)[2])
    assert (urls == []) is socket_mode


def test_manifest_url_is_filled_in() -> None:
    m = build_manifest("https://bot.acme.io/")
    assert m["features"]["slash_commands"][0]["url"] == "https://bot.acme.io/slack/events"
    assert m["settings"]["interactivity"]["request_url"] == "https://bot.acme.io/slack/events"
    Manifest.model_validate(m)


def test_command_scopes_and_events_match_the_code() -> None:
    source = "\n".join(p.read_text() for p in (ROOT / "bot").rglob("*.py"))
    commands = set(re.findall(r'COMMAND = "(/[a-z-]+)"', source))
    manifest = build_manifest()
    assert commands == {c["command"] for c in manifest["features"]["slash_commands"]}
    # every Web API method the code calls is known, with its scope
    web_methods = {n for n in dir(AsyncWebClient) if "_" in n and not n.startswith("_")}
    called = {m.replace("_", ".") for m in re.findall(r"\.([a-z]+_[A-Za-z_]+)\(", source) if m in web_methods}
    called.discard("api.call")
    assert {"views.open", "views.update", "chat.postEphemeral", "conversations.open", "users.info"} <= called
    assert called <= set(METHOD_SCOPES), called - set(METHOD_SCOPES)
    # groups:read: conversations.info of a private AUDIT_CHANNEL (a public one needs channels:read)
    needed = {METHOD_SCOPES[m] for m in called if METHOD_SCOPES[m]} | {"commands", "users:read.email", "groups:read"}
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == needed == set(bot_scopes())
    # events: the manifest subscribes to exactly the events the code listens for
    listened = set(re.findall(r'@app\.event\("([a-z_]+)"\)', source))
    subscribed = set((manifest["settings"].get("event_subscriptions") or {}).get("bot_events") or [])
    # `message` events arrive only with the leak watch's subscriptions (message.channels, message.groups)
    watching = set(build_manifest(leak_watch=True)["settings"]["event_subscriptions"]["bot_events"])
    assert listened - {"message"} - set(ORG_EVENTS) == subscribed and {"message.channels", "message.groups"} <= watching
    # the org admin granting or taking back a workspace reaches only an organisation-wide install
    org_events = set(build_manifest(org=True)["settings"]["event_subscriptions"]["bot_events"])
    assert org_events - subscribed == set(ORG_EVENTS) <= listened


def test_cli_prints_manifest() -> None:
    out = subprocess.run([sys.executable, "-m", "bot", "manifest", "--url", "https://x.example"],
                         capture_output=True, text=True, check=True, env={"PATH": "/usr/bin"}).stdout
    assert "https://x.example/slack/events" in out
    Manifest.model_validate(yaml.safe_load(out))


def test_leak_watch_adds_exactly_its_scopes_and_events() -> None:
    plain, watching = build_manifest(), build_manifest(leak_watch=True)
    added = set(watching["oauth_config"]["scopes"]["bot"]) - set(plain["oauth_config"]["scopes"]["bot"])
    assert added == {"channels:history", "groups:history"}
    events = set(watching["settings"]["event_subscriptions"]["bot_events"])
    assert events - set(plain["settings"]["event_subscriptions"]["bot_events"]) == {"message.channels",
                                                                                   "message.groups"}


def test_the_usage_hint_names_every_subcommand_people_use() -> None:
    from bot.slack.commands import SUBCOMMANDS

    usage = build_manifest()["features"]["slash_commands"][0]["usage_hint"]
    words = set(re.findall(r"[a-z]+", usage))
    assert set(SUBCOMMANDS) - {"admin"} <= words, usage  # admin commands are for the few, and have their own help
    assert "reminders on|off" in usage

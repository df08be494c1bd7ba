"""Every manifest the bot ships (each mode it can run in) passes Slack's own app manifest schema, vendored in
tests/slack_manifest_schema (slackapi/manifest-schema); the schema's references resolve to those files, never to
the network."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator
from referencing import Registry, Resource

from bot.manifest import build_manifest, render

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "tests" / "slack_manifest_schema"
RAW = "https://raw.githubusercontent.com/slackapi/manifest-schema/v0.5.0/schemas/"

#: Each committed manifest and how `apikey-bot manifest` renders it. A new mode (or a manifest with
#: `functions`) adds a line here, and the tests below check it against the schema and the renderer.
MANIFESTS: dict[str, Callable[[], str]] = {
    "slack-app.yaml": lambda: render(),
    "slack-app.socket.yaml": lambda: render(socket_mode=True),
    "slack-app.leak-watch.yaml": lambda: render(leak_watch=True),
    "slack-app.org.yaml": lambda: render(org=True),
    "slack-app.workflows.yaml": lambda: render(workflows=True),
}
#: Combinations nobody committed, still offered by the command line.
RENDERED: dict[str, Callable[[], dict[str, Any]]] = {
    "org, Socket Mode, leak watch": lambda: build_manifest(socket_mode=True, leak_watch=True, org=True),
    "org with a URL": lambda: build_manifest("https://bot.acme.io", org=True),
    "org with workflow steps, leak watch": lambda: build_manifest(org=True, workflows=True, leak_watch=True),
    "workflow steps in Socket Mode": lambda: build_manifest(socket_mode=True, workflows=True),
}


def _validator() -> Draft7Validator:
    def load(name: str) -> Resource[Any]:
        return Resource.from_contents(json.loads((SCHEMAS / name).read_text()))

    registry: Registry[Any] = Registry().with_resources([
        (RAW + "manifest.schema.1.0.0.json", load("manifest.schema.1.0.0.json")),
        (RAW + "manifest.schema.2.0.0.json", load("manifest.schema.2.0.0.json")),
    ])
    schema = json.loads((SCHEMAS / "manifest.schema.json").read_text())
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema, registry=registry)


VALIDATOR = _validator()


def _problems(manifest: dict[str, Any]) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in VALIDATOR.iter_errors(manifest)]


@pytest.mark.parametrize("filename", sorted(MANIFESTS))
def test_each_committed_manifest_passes_slacks_schema(filename: str) -> None:
    text = (ROOT / "manifests" / filename).read_text()
    assert text == MANIFESTS[filename](), f"manifests/{filename} is stale: regenerate it with `apikey-bot manifest`"
    assert _problems(yaml.safe_load(text)) == []


@pytest.mark.parametrize("mode", sorted(RENDERED))
def test_every_other_mode_passes_slacks_schema(mode: str) -> None:
    assert _problems(RENDERED[mode]()) == []


def test_the_schema_refuses_what_slack_would_refuse() -> None:
    """The check can fail: a setting Slack does not know, a wrong type, a missing name."""
    good = build_manifest(org=True)
    unknown = json.loads(json.dumps(good))
    unknown["settings"]["org_deploy"] = True
    wrong_type = json.loads(json.dumps(good))
    wrong_type["settings"]["org_deploy_enabled"] = "yes"
    nameless = json.loads(json.dumps(good))
    del nameless["display_information"]["name"]
    for bad in (unknown, wrong_type, nameless):
        assert _problems(bad), bad


def test_only_the_org_manifest_is_org_ready() -> None:
    org = build_manifest(org=True)["settings"]
    assert org["org_deploy_enabled"] is True
    assert {"team_access_granted", "team_access_revoked"} <= set(org["event_subscriptions"]["bot_events"])
    for other in ("slack-app.yaml", "slack-app.socket.yaml", "slack-app.leak-watch.yaml"):
        assert yaml.safe_load((ROOT / "manifests" / other).read_text())["settings"]["org_deploy_enabled"] is False

"""The manifest with the Workflow Builder steps (`apikey-bot manifest --workflows`): the committed copy is
current, every step is declared as Slack's manifest declares functions, and the app runs them itself."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from bot.manifest import build_manifest, render
from bot.slack.workflows.definitions import STEPS

ROOT = Path(__file__).resolve().parents[2]
SlackType = Literal["string", "integer", "number", "boolean", "slack#/types/user_id", "slack#/types/timestamp",
                    "slack#/types/channel_id"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Parameter(Strict):
    type: SlackType
    title: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    description: Annotated[str, StringConstraints(max_length=1000)] | None = None


class Parameters(Strict):
    properties: dict[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")], Parameter]
    required: list[str] = Field(default_factory=list)


class Function(Strict):
    title: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    description: Annotated[str, StringConstraints(max_length=1000)] | None = None
    input_parameters: Parameters
    output_parameters: Parameters


def test_the_committed_workflows_manifest_is_current() -> None:
    text = (ROOT / "manifests" / "slack-app.workflows.yaml").read_text()
    assert text == render(workflows=True), "regenerate with `apikey-bot manifest --workflows`"


def test_every_step_is_declared_with_slack_types_and_run_by_the_bot() -> None:
    manifest: dict[str, Any] = yaml.safe_load(render(workflows=True).split("\n", 2)[2])
    assert manifest["settings"]["function_runtime"] == "remote"
    assert manifest["settings"]["org_deploy_enabled"] is True  # Slack offers custom steps of org-ready apps only
    functions = {name: Function.model_validate(body) for name, body in manifest["functions"].items()}
    assert set(functions) == {s.callback_id for s in STEPS}
    for step in STEPS:
        declared = functions[step.callback_id]
        for params, ours in ((declared.input_parameters, step.inputs), (declared.output_parameters, step.outputs)):
            assert set(params.properties) == {p.name for p in ours}
            assert set(params.required) <= set(params.properties)
    # no step hands a key's value to a workflow: nothing it outputs is shaped like one
    outputs = {p.name for s in STEPS for p in s.outputs}
    assert not any(word in name for name in outputs for word in ("secret", "apikey", "value", "token"))


def test_without_the_option_nothing_changes() -> None:
    plain = build_manifest()
    assert "functions" not in plain and "function_runtime" not in plain["settings"]
    assert {k: v for k, v in build_manifest(workflows=True).items() if k != "functions"}["features"] == \
        plain["features"]

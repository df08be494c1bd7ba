"""The Workflow Builder steps the bot offers (Slack's "custom steps", functions with a remote runtime): their
callback ids, inputs and outputs, as the app manifest declares them (`bot.manifest`, `--workflows`) and as
the Slack stand-in checks what the bot completes them with. Data only: the listeners are in `steps`.

No output ever carries a key's value: a step's outputs are shown to later steps and in the workflow's
activity, to whoever can see the workflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

USER = "slack#/types/user_id"
TIMESTAMP = "slack#/types/timestamp"
STRING = "string"
INTEGER = "integer"

CREATE_KEY = "create_dataos_key"
REQUEST_APP_KEY = "request_app_user_key"
LIST_EXPIRING = "list_expiring_keys"


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    title: str
    description: str
    required: bool = True


@dataclass(frozen=True)
class Step:
    callback_id: str
    title: str
    description: str
    inputs: tuple[Param, ...]
    outputs: tuple[Param, ...]

    def input_names(self) -> set[str]:
        return {p.name for p in self.inputs}

    def output_names(self) -> set[str]:
        return {p.name for p in self.outputs}


STEPS: tuple[Step, ...] = (
    Step(
        CREATE_KEY, "Create a DataOS API key",
        "Creates a DataOS API key for a person; the key goes to them privately by DM, never into the workflow.",
        inputs=(
            Param("person", USER, "Person", "Whose key: made for their DataOS user and sent to them only"),
            Param("name", STRING, "Key name", "Letters, digits and underscores; empty: DataOS picks one", False),
            Param("validity", STRING, "Validity", "Such as 30d, 12h or 2w; empty: the default. The key policy "
                  "applies", False),
        ),
        outputs=(
            Param("key_name", STRING, "Key name", "The new key's name (never its value)"),
            Param("expires_at", TIMESTAMP, "Expires at", "When the new key expires"),
        ),
    ),
    Step(
        REQUEST_APP_KEY, "Request a key for an application user",
        "Asks for a DataOS key for an application user the requester's team owns; when the key policy needs "
        "approval, the step waits for the approvers. The key goes to the requester privately.",
        inputs=(
            Param("app_user", STRING, "Application user", "The DataOS application user's id"),
            Param("requester", USER, "Requester", "Who asks: must own the application user's team; gets the key"),
            Param("validity", STRING, "Validity", "Such as 30d or 180d; the key policy applies"),
            Param("reason", STRING, "Reason", "What the key is for (approvers read it)", False),
        ),
        outputs=(
            Param("decision", STRING, "Decision", "approved, denied, expired or cancelled"),
            Param("decided_by", USER, "Decided by", "The approver (absent when no approval was needed)", False),
            Param("key_name", STRING, "Key name", "The new key's name, when one was made (never its value)", False),
        ),
    ),
    Step(
        LIST_EXPIRING, "List DataOS keys that expire soon",
        "Counts and lists (names and dates, never values) the keys of a person or of an application user that "
        "expire within some days, for the workflow's own message.",
        inputs=(
            Param("person", USER, "Person", "Whose keys (or give an application user instead)", False),
            Param("app_user", STRING, "Application user", "An application user's keys (with Requester)", False),
            Param("requester", USER, "Requester", "For an application user: an owner of its team", False),
            Param("within", INTEGER, "Within (days)", "Keys expiring within this many days"),
        ),
        outputs=(
            Param("count", INTEGER, "Count", "How many keys expire within those days"),
            Param("keys_text", STRING, "Keys", "One line per key: its name and when it expires"),
        ),
    ),
)
BY_ID: dict[str, Step] = {s.callback_id: s for s in STEPS}


def _params(params: tuple[Param, ...]) -> dict[str, Any]:
    return {
        "properties": {p.name: {"type": p.type, "title": p.title, "description": p.description} for p in params},
        "required": [p.name for p in params if p.required],
    }


def manifest_functions() -> dict[str, Any]:
    """The manifest's `functions` block."""
    return {s.callback_id: {"title": s.title, "description": s.description, "input_parameters": _params(s.inputs),
                            "output_parameters": _params(s.outputs)} for s in STEPS}


def with_steps(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest with the steps declared: `functions`, run by the bot itself (`function_runtime: remote`),
    and org-ready, which Slack requires of an app that offers custom steps. `functions` with
    `input_parameters.properties` is manifest version 2's shape (version 1, the default, has no such block),
    so the manifest says it is version 2."""
    settings = dict(manifest.get("settings") or {}, org_deploy_enabled=True, function_runtime="remote")
    return {"_metadata": {"major_version": 2}, **manifest, "settings": settings, "functions": manifest_functions()}

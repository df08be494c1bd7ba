"""The create form's name warning follows what is typed (`/apikey create my-key 7d`, then fix the name):
Slack sends each change of a name input drawn with `dispatch_action`, and the bot redraws the warning,
keeping every other block, the ids Slack keeps typed input by, and the private metadata."""

from __future__ import annotations

import json
from typing import Any

from bot.playground.slack import SlackCall
from tests.e2e.conftest import Bot
from tests.e2e.harness import create_values, text_of, view_id_of

NAME, ACTION = "name_block", "name"


def settled(bot: Bot) -> None:
    """Everything the bot does after its acks is done."""
    assert bot.server.call(bot.runtime.drain(10))


def warning(view: dict[str, Any]) -> str | None:
    return next((json.dumps(b, ensure_ascii=False) for b in view["blocks"]
                 if b["block_id"].startswith("name_warning")), None)


def updates_of(bot: Bot, view_id: str) -> list[SlackCall]:
    return [c for c in bot.slack.calls_to("views.update") if c.params.get("view_id") == view_id]


def without_warning(view: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in view["blocks"] if not b["block_id"].startswith("name_warning")]


def test_the_warning_goes_as_the_name_is_fixed_and_comes_back_for_another_mistake(bot: Bot) -> None:
    view_id = view_id_of(bot.user.command_modal("create my-key 7d"))
    settled(bot)
    drawn = dict(bot.slack.views[view_id])
    assert "not “-”" in (warning(drawn) or "")
    name_block = next(b for b in drawn["blocks"] if b["block_id"] == NAME)
    assert name_block["dispatch_action"] is True
    assert name_block["element"]["dispatch_action_config"] == {"trigger_actions_on": ["on_character_entered"]}
    before = len(updates_of(bot, view_id))

    bot.user.type_in(view_id, create_values(name="my-ke", preset="168h"), NAME, ACTION)
    settled(bot)
    assert len(updates_of(bot, view_id)) == before  # the same mistake: the warning already says it

    assert bot.user.type_in(view_id, create_values(name="my_ke", preset="168h"), NAME, ACTION).status_code == 200
    fixed = bot.slack.wait_for("views.update", before + 1, where=lambda c: c.params.get("view_id") == view_id)[-1]
    assert fixed.params["hash"] == drawn["hash"]  # only over the view the change was typed in
    view = fixed.params["view"]
    assert warning(view) is None
    # every other block as drawn, with the same ids (Slack keeps what was typed), and the metadata as it came
    assert view["blocks"] == without_warning(drawn)
    assert view["private_metadata"] == drawn["private_metadata"] and view["callback_id"] == "create_key"

    bot.user.type_in(view_id, create_values(name="my ke", preset="168h"), NAME, ACTION)
    again = bot.slack.wait_for("views.update", before + 2, where=lambda c: c.params.get("view_id") == view_id)[-1]
    assert "not spaces" in (warning(again.params["view"]) or "")
    assert without_warning(again.params["view"]) == without_warning(drawn)

    bot.user.type_in(view_id, create_values(name="my_key", preset="168h"), NAME, ACTION)
    bot.slack.wait_for("views.update", before + 3, where=lambda c: c.params.get("view_id") == view_id)
    r = bot.user.submit(view_id, create_values(name="my_key", preset="168h"))
    assert r.json()["response_action"] == "update"
    bot.slack.wait_for("views.update", where=lambda c: "created" in text_of(c))
    created = bot.heimdall.calls_to("POST")[0].body
    assert (created["name"], created["duration"]) == ("my_key", "168h")  # the name typed, the validity kept


def test_a_form_without_a_warning_does_not_send_each_keystroke(bot: Bot) -> None:
    view = bot.user.command_modal("create ci_loader").params["view"]
    name_block = next(b for b in view["blocks"] if b["block_id"] == NAME)
    assert not name_block.get("dispatch_action") and "dispatch_action_config" not in name_block["element"]
    assert warning(view) is None


def test_a_name_refused_at_submit_is_warned_under_the_name_and_followed_too(bot: Bot) -> None:
    view_id = view_id_of(bot.user.command_modal("create bad-name"))
    settled(bot)
    r = bot.user.submit(view_id, create_values(name="still bad", preset="720h"))
    redrawn = r.json()["view"]  # drawn again: what it says is about what was submitted
    assert r.json()["response_action"] == "update" and "not spaces" in (warning(redrawn) or "")
    assert "not “-”" not in json.dumps(redrawn)
    bot.slack.views[view_id] = dict(redrawn, id=view_id, hash="after-the-redraw")  # what Slack shows now
    name_id = next(b["block_id"] for b in redrawn["blocks"] if b["block_id"].startswith(NAME))
    values = {name_id if k == NAME else next(b["block_id"] for b in redrawn["blocks"]
                                              if b["block_id"].startswith(k)): v
              for k, v in create_values(name="good_name", preset="720h").items()}
    bot.user.type_in(view_id, values, name_id, ACTION)
    fixed = bot.slack.wait_for("views.update", where=lambda c: c.params.get("view_id") == view_id)[-1]
    assert fixed.params["hash"] == "after-the-redraw" and warning(fixed.params["view"]) is None


def test_a_late_change_never_draws_the_form_over_what_replaced_it(bot: Bot) -> None:
    view_id = view_id_of(bot.user.command_modal("create my-key"))
    settled(bot)
    form = dict(bot.slack.views[view_id])
    bot.user.submit(view_id, create_values(name="my_key", preset="720h"))
    bot.slack.wait_for("views.update", where=lambda c: "created" in text_of(c))
    # The last keystroke's change arrives after the submission: Slack refuses the stale hash, and the
    # bot does not try without one.
    bot.user.type_in(view_id, create_values(name="my_key", preset="720h"), NAME, ACTION, as_view=form)
    refused = bot.slack.wait_for("views.update", where=lambda c: c.result.get("error") == "hash_conflict")[0]
    assert refused.params["hash"] == form["hash"]
    settled(bot)
    assert "created" in json.dumps(bot.slack.views[view_id])  # still the result, not the form
    assert len([c for c in updates_of(bot, view_id) if "hash" in c.params]) == 1


def test_two_changes_typed_from_one_drawing_both_land(bot: Bot) -> None:
    view_id = view_id_of(bot.user.command_modal("create my-key"))
    settled(bot)
    form = dict(bot.slack.views[view_id])
    bot.user.type_in(view_id, create_values(name="mykey", preset="720h"), NAME, ACTION, as_view=form)
    first = bot.slack.wait_for("views.update", where=lambda c: c.params.get("view_id") == view_id
                               and c.result.get("ok") is True and "hash" in c.params)[0]
    assert warning(first.params["view"]) is None
    # typed before Slack showed that update: the change still carries the first drawing's hash
    bot.user.type_in(view_id, create_values(name="my key", preset="720h"), NAME, ACTION, as_view=form)
    second = bot.slack.wait_for("views.update", 2, where=lambda c: c.params.get("view_id") == view_id
                                and c.result.get("ok") is True and "hash" in c.params)[1]
    assert second.params["hash"] == first.result["view"]["hash"]  # over the view the bot itself drew last
    assert "not spaces" in (warning(bot.slack.views[view_id]) or "")

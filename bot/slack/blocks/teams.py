"""Block Kit of team keys: an application user's keys in a list, the create form's "For" select, and
the sentences its team channel reads. A team channel's lines never carry a key: names, who and when."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    ExternalDataSelectElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    SectionBlock,
    StaticSelectElement,
)

from bot.dataos import Token
from bot.domain.keys import key_ref, mask_secret
from bot.slack.blocks import KEYS_PER_PAGE, Message, exact_value, render_id, slack_date
from bot.slack.blocks.chunks import clip_whole
from bot.slack.blocks.common import confirm_text
from bot.store.teams import Team
from bot.text import clip, shown

TEAM_REVEAL_ACTION = "team_reveal"
TEAM_REVOKE_ACTION = "team_revoke"
TEAM_SHOW_HERE_ACTION = "team_show_here"
FOR_BLOCK = "for_block"
FOR_INPUT = "for"
#: The "For" select's value for the person themselves.
MYSELF = "-"
#: How a command's placeholder reads in mrkdwn (a raw `<app-user>` would be taken for a link).
APP_USER = "&lt;app-user&gt;"
#: Messages the team part of `/apikey list` may use: with "Your keys" and a progress line, within the five
#: posts Slack takes per response_url.
TEAM_LIST_MESSAGES = 2
#: Keys each team shows when several share a message; `/apikey list <app-user>` shows one team's all.
KEYS_PER_TEAM_TOGETHER = 5
#: What the team lists put in one message: Slack takes 50 blocks and about 12,000 characters of text; the
#: rest is room for the closing lines.
LIST_BLOCK_BUDGET = 46
LIST_TEXT_BUDGET = 9_500
#: Options a select may hold; past them the "For" select loads its options as the person types.
SELECT_OPTIONS = 100
#: Characters of names the closing "…and N more" line may list.
MORE_NAMES = 1500
REVEAL_NOTE = "Reveal shows a key only to you, and the team channel is told that you saw it."


def _md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text)


def team_value(app_user_id: str, token: Token) -> str:
    """A team-key button: which application user's key, its name and expiration (never its secret)."""
    return exact_value(token.name, token.expiration, a=app_user_id)


def team_key_blocks(team: Team, tokens: Sequence[Token], now: datetime, *, keys: int = KEYS_PER_PAGE,
                    footer: bool = True) -> list[Block]:
    """An application user's keys with Reveal and Revoke: the first `keys` of them, and a line saying how
    to see the others; `footer` adds the line about what Reveal does."""
    app = team.app_user_id
    count = f"{len(tokens)} key{'s' if len(tokens) != 1 else ''}"
    blocks: list[Block] = [SectionBlock(text=_md(
        f"*Keys of {shown(app)}* (application user, {count}) · team channel <#{team.channel_id}>"))]
    if not tokens:
        blocks.append(SectionBlock(text=_md(f"`{shown(app)}` has no keys. `/apikey create --for {shown(app)}` "
                                            "makes one.")))
        return blocks
    render = render_id()
    for i, token in enumerate(tokens[:keys]):
        masked = mask_secret(token.secret.get_secret_value()) if token.secret else "…"
        blocks.append(SectionBlock(text=_md(f"*{shown(token.name)}* · expires {slack_date(token.expiration)} · "
                                            f"`{masked}`")))
        value = team_value(app, token)
        blocks.append(ActionsBlock(block_id=f"team_key:{render}:{i}:{key_ref(token.name)}", elements=[
            ButtonElement(text="Reveal", action_id=TEAM_REVEAL_ACTION, value=value),
            ButtonElement(text="Revoke", action_id=TEAM_REVOKE_ACTION, value=value, style="danger",
                          confirm=ConfirmObject(
                              title="Revoke this key?",
                              text=confirm_text(f"*{shown(token.name, 80)}* of {shown(app, 80)} stops working at "
                                                "once, everywhere it is used. This cannot be undone."),
                              confirm="Revoke", deny="Keep it", style="danger")),
        ]))
    if len(tokens) > keys:
        more = f"`/apikey list {shown(app, 80)}` shows them all." if keys < KEYS_PER_PAGE else ""
        blocks.append(ContextBlock(elements=[_md(f"The first {keys} of {len(tokens)} keys. {more}".strip())]))
    if footer:
        blocks.append(ContextBlock(elements=[_md(REVEAL_NOTE)]))
    return blocks


def team_keys_message(team: Team, tokens: Sequence[Token], now: datetime) -> Message:
    built = [b.to_dict() for b in team_key_blocks(team, tokens, now)]
    return Message(f"Keys of {shown(team.app_user_id)} ({len(tokens)})", built)


@dataclass(frozen=True)
class TeamSection:
    """One application user in a person's list: its keys, or (None) the sentence saying why they are missing."""

    team: Team
    tokens: Sequence[Token] | None
    problem: str = ""


def team_lists(sections: Sequence[TeamSection], now: datetime, *, more: Sequence[str] = (),
               max_messages: int = TEAM_LIST_MESSAGES) -> list[Message]:
    """The keys of every team in `sections`, packed into at most `max_messages` messages that Slack takes
    (50 blocks, about 12,000 characters each): alone, a team shows `KEYS_PER_PAGE` keys, together
    `KEYS_PER_TEAM_TOGETHER` each. What does not fit, and the application users in `more` (not looked up),
    is named in a last line with `/apikey list <app-user>`, never dropped in silence."""
    keys = KEYS_PER_PAGE if len(sections) + len(more) == 1 else KEYS_PER_TEAM_TOGETHER
    messages: list[list[dict[str, Any]]] = []
    left: list[str] = []
    for i, section in enumerate(sections):
        built = _fitted(section, now, keys)
        if messages and _fits(messages[-1] + built):
            messages[-1] += built
        elif len(messages) < max_messages:
            messages.append(built)
        else:
            left = [s.team.app_user_id for s in sections[i:]]
            break
    left += list(more)
    if not messages:
        messages.append([])
    footer = ContextBlock(elements=[_md(REVEAL_NOTE)]).to_dict()
    for blocks in messages:
        if any(b.get("type") == "actions" for b in blocks):
            blocks.append(footer)
    if left:
        messages[-1].append(SectionBlock(text=_md(_more_line(left))).to_dict())
    return [Message(_summary(blocks), blocks) for blocks in messages if blocks]


def _fitted(section: TeamSection, now: datetime, keys: int) -> list[dict[str, Any]]:
    """A team's blocks within one message's budget: fewer keys shown when its own would not fit."""
    if section.tokens is None:
        return [SectionBlock(text=_md(clip_whole(f":x: {section.problem}", 2900))).to_dict()]
    tokens = sorted(section.tokens, key=lambda t: (t.expiration, t.name))
    while True:
        built = [b.to_dict() for b in team_key_blocks(section.team, tokens, now, keys=keys, footer=False)]
        if _fits(built) or keys <= 1:
            return built
        keys -= 1


def _fits(blocks: list[dict[str, Any]]) -> bool:
    return len(blocks) <= LIST_BLOCK_BUDGET and _text_size(blocks) <= LIST_TEXT_BUDGET


def _text_size(value: Any) -> int:
    if isinstance(value, list):
        return sum(_text_size(v) for v in value)
    if isinstance(value, dict):
        if value.get("type") in ("mrkdwn", "plain_text") and isinstance(value.get("text"), str):
            return len(value["text"])
        return sum(_text_size(v) for v in value.values())
    return 0


def _more_line(apps: Sequence[str]) -> str:
    """"…and N more application users you own: `a`, `b`…", the count exact however many names fit."""
    names: list[str] = []
    for app in apps:
        name = f"`{shown(app, 80)}`"
        if sum(len(n) + 2 for n in names) + len(name) > MORE_NAMES:
            names.append("…")
            break
        names.append(name)
    return (f"…and {len(apps)} more application user{'s' if len(apps) != 1 else ''} you own: {', '.join(names)}. "
            f"`/apikey list {APP_USER}` shows the keys of one.")


def _summary(blocks: list[dict[str, Any]]) -> str:
    teams = sum(1 for b in blocks if b.get("type") == "section" and "*Keys of " in str(b.get("text")))
    return f"Keys of {teams} application user{'s' if teams != 1 else ''} you own"


def for_options(person_label: str | None, teams: Sequence[Team]) -> list[Option]:
    """The "For" choices: the person (unless `person_label` is None), then each application user they own."""
    options = [Option(text=clip(person_label, 75), value=MYSELF)] if person_label is not None else []
    return options + [Option(text=clip(t.app_user_id, 75), value=clip(t.app_user_id, 150)) for t in teams]


def for_block(person_label: str | None, teams: Sequence[Team], selected: str | None) -> dict[str, Any]:
    """The create form's "For" select. Past Slack's 100 options it is an `external_select`: the person
    types, and the options come from the bot (`bot.slack.teams.for_select`), the owner check each time."""
    options = for_options(person_label, teams)
    initial = next((o for o in options if o.value == selected), options[0])
    hint = ("An application user's key is delivered to you only; its team channel is told that it was made, never "
            "the key.")
    if len(options) <= SELECT_OPTIONS:
        element: StaticSelectElement | ExternalDataSelectElement = StaticSelectElement(
            action_id=FOR_INPUT, options=options, initial_option=initial)
    else:
        element = ExternalDataSelectElement(action_id=FOR_INPUT, initial_option=initial, min_query_length=0,
                                            placeholder="Type an application user")
        hint = f"You own {len(teams)} application users: type part of a name to find one. {hint}"
    return InputBlock(block_id=FOR_BLOCK, label="For", element=element, hint=hint).to_dict()


def with_for(view: dict[str, Any], person_label: str | None, teams: Sequence[Team], selected: str | None,
             **meta: str) -> dict[str, Any]:
    """The create form (as `blocks.create_modal` draws it) with the "For" select first, and `meta` added
    to its private metadata (names and dates only)."""
    blocks = [b for b in view.get("blocks") or [] if str(b.get("block_id") or "") != FOR_BLOCK]
    data = json.loads(view.get("private_metadata") or "{}")
    data.update(meta)
    return dict(view, blocks=[for_block(person_label, teams, selected), *blocks],
                private_metadata=json.dumps(data, separators=(",", ":")))


def created_line(actor: str, name: str, app_user_id: str, expiration: datetime) -> str:
    return (f":key: <@{actor}> created `{shown(name)}` for {shown(app_user_id)}, valid until "
            f"{slack_date(expiration)}.")


def revealed_line(actor: str, name: str, app_user_id: str) -> str:
    return f":eyes: <@{actor}> revealed `{shown(name)}` of {shown(app_user_id)}."


def revoked_line(actor: str, name: str, app_user_id: str) -> str:
    return f":wastebasket: <@{actor}> revoked `{shown(name)}` of {shown(app_user_id)}."


def team_created_modal(app_user_id: str, token_name: str, expiration: datetime, now: datetime, *,
                       delivered: bool | None, told: bool | None = None) -> dict[str, Any]:
    """The result of creating an application user's key: like a personal key's, with a "Show the key
    here" that names the application user and the exact key (re-checked when pressed). `told`: whether
    its team channel took the line saying so (None: not known here, so not said)."""
    if delivered is None:
        where = "This form was submitted twice; only one key was made."
    elif delivered:
        where = "I sent it to you privately in your direct messages with me."
    else:
        where = "I could not deliver it to your direct messages with me: use the button below to see it here."
    channel = {True: "\nIts team channel was told, without the key.",
               False: "\n:warning: I could not tell its team channel (Slack refused my message there); tell the "
                      "team yourself. Nothing else changed.", None: ""}[told]
    text = (f":white_check_mark: Key *{shown(token_name)}* created for {shown(app_user_id)}, valid until "
            f"{slack_date(expiration)}.\n{where}{channel}")
    button = ButtonElement(text="Show the key here", action_id=TEAM_SHOW_HERE_ACTION,
                           value=exact_value(token_name, expiration, a=app_user_id),
                           style="primary" if delivered is False else None)
    blocks: list[Block] = [SectionBlock(text=_md(text)), ActionsBlock(block_id="info_actions", elements=[button])]
    return {"type": "modal", "callback_id": "apikey_info", "title": {"type": "plain_text", "text": "Key created"},
            "close": {"type": "plain_text", "text": "Close"}, "blocks": [b.to_dict() for b in blocks]}


def team_secret_message(token: Token, app_user_id: str, now: datetime) -> Message:
    """The ephemeral DM that carries a new application key to the owner who asked for it."""
    assert token.secret is not None
    return Message(f"New DataOS API key {shown(token.name)} of {shown(app_user_id)}", [
        SectionBlock(text=_md(f":key: New key *{shown(token.name)}* of application user {shown(app_user_id)}, "
                              f"valid until {slack_date(token.expiration)}:")).to_dict(),
        SectionBlock(text=_md(f"```{token.secret.get_secret_value()}```")).to_dict(),
        ContextBlock(elements=[_md("Only you can see this message and it disappears when Slack reloads: copy it "
                                   "now into where the service keeps its secrets.")]).to_dict(),
    ])

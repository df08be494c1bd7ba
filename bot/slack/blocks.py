"""Block Kit builders: pure functions from data to messages and views.

Everything is built with `slack_sdk.models`, whose `to_dict()` checks Slack's limits; messages are
also kept within 50 blocks (which slack_sdk does not check). Secrets appear in exactly two builders,
`secret_message` (ephemeral, in the owner's DM with the bot) and `secret_modal` (a modal only the
owner sees); nothing else receives a key's value.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.dataos import Token, User
from bot.domain.durations import humanize_hours
from bot.domain.keys import (
    NAME_MAX_LENGTH,
    KeyStatus,
    created_by,
    key_ref,
    key_status,
    mask_secret,
    relative,
)
from bot.domain.policy import ValidityPolicy
from bot.domain.reminders import step_words
from bot.identity import Denied, Identity, Mapped
from bot.store.pending import Scheduled, revoke_time
from bot.text import clip, shown

MAX_MESSAGE_BLOCKS = 50
KEYS_PER_PAGE = 20  # 2 blocks per key + header, context and paging stay well under 50
#: What a click on a button whose value does not parse gets (a value edited, or from an older version).
DAMAGED_BUTTON = "That button is damaged; nothing was changed."

# callback ids (views) and action ids (buttons); the listeners register exactly these
CREATE_VIEW = "create_key"
REVOKE_VIEW = "revoke_key"
LINK_VIEW = "link_identity"
INFO_VIEW = "apikey_info"
LIST_ACTION = "list_keys"
CREATE_ACTION = "open_create"
REVEAL_ACTION = "reveal_key"
REVOKE_ACTION = "revoke_key"
PAGE_ACTION = "keys_page"
SHOW_HERE_ACTION = "show_key_here"
RENEW_VIEW = "renew_key"
RENEW_ACTION = "reminder_renew"
REMINDER_REVOKE_ACTION = "reminder_revoke"
SNOOZE_ACTION = "reminder_snooze"
MUTE_ACTION = "reminder_mute"
OLD_BLOCK, OLD_INPUT = "old_key_block", "old_key"

#: A problem shown above a form's inputs (bad command arguments, a name DataOS refused): it is about
#: what the form was opened or last drawn with, so a submission draws the form again without it.
BANNER_BLOCK = "banner"
NAME_BLOCK, NAME_INPUT = "name_block", "name"
VALIDITY_BLOCK, VALIDITY_INPUT = "validity_block", "validity"
CUSTOM_BLOCK, CUSTOM_INPUT = "custom_block", "custom"
REVOKE_PICK_BLOCK, REVOKE_PICK_INPUT = "revoke_pick_block", "revoke_pick"
LINK_BLOCK, LINK_INPUT = "link_block", "pasted_key"
CUSTOM_VALUE = "custom"

STATUS_EMOJI = {KeyStatus.ACTIVE: ":large_green_circle:", KeyStatus.EXPIRING_SOON: ":large_yellow_circle:",
                KeyStatus.EXPIRED: ":red_circle:"}


@dataclass(frozen=True)
class Message:
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)

    def kwargs(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}


def _message(text: str, blocks: Sequence[Block]) -> Message:
    built = [b.to_dict() for b in blocks]
    if len(built) > MAX_MESSAGE_BLOCKS:
        raise ValueError(f"message has {len(built)} blocks; Slack allows {MAX_MESSAGE_BLOCKS}")
    return Message(text, built)


def _md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text)


def slack_date(moment: datetime) -> str:
    """A date Slack renders in each viewer's own time zone, with a UTC fallback."""
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"




# ---- messages --------------------------------------------------------------------------------

HELP_LINES = [
    "`/apikey list` — your DataOS API keys, with Reveal and Revoke",
    "`/apikey create [name] [validity]` — a new key, e.g. `/apikey create ci_loader 30d`",
    "`/apikey revoke &lt;name&gt;` — delete a key (asks first)",  # escaped: `<name>` is link markup
    "`/apikey whoami` — which DataOS user you are, and why",
    "`/apikey link` — prove your DataOS identity with one of your keys",
    "`/apikey reminders on|off` — expiry reminders in your DMs (on by default)",
]


@functools.lru_cache(maxsize=64)
def help_message(*, unknown: str | None = None, suggestion: str | None = None) -> Message:
    blocks: list[Block] = []
    if unknown is not None:
        hint = f" Did you mean `/apikey {suggestion}`?" if suggestion else ""
        blocks.append(SectionBlock(text=_md(f"I don't know `{shown(unknown[:40])}`.{hint}")))
    blocks += [
        SectionBlock(text=_md("*Your DataOS API keys, from Slack.* Keys reach you privately, "
                              "in your direct messages with me.")),
        SectionBlock(text=_md("\n".join(HELP_LINES))),
        ActionsBlock(block_id="help_actions", elements=[
            ButtonElement(text="List my keys", action_id=LIST_ACTION, value="list"),
            ButtonElement(text="Create a key", action_id=CREATE_ACTION, value="create", style="primary"),
        ]),
    ]
    return _message("DataOS API keys: /apikey list, create, revoke, whoami, link", blocks)


def text_message(text: str) -> Message:
    return _message(text, [SectionBlock(text=_md(text))])


def denied_message(denied: Denied) -> Message:
    return text_message(f":no_entry: {denied.message}")


def render_id() -> str:
    """A fresh suffix for the block ids of a message or view that is drawn again in place: Slack asks
    for new block ids per iteration, or it may keep the previous iteration's state."""
    return uuid.uuid4().hex[:8]


def exact_value(name: str, expiration: datetime, **extra: str | int) -> str:
    """The value of a button that changes a key: exactly which key it showed, name AND expiration (epoch
    seconds), never its secret. The listener re-reads the key and acts only if it is still that one."""
    return json.dumps({"k": key_ref(name), "e": int(expiration.timestamp()), **extra}, separators=(",", ":"))


def key_block_id(render: str, index: int, token: Token) -> str:
    """Distinct per key even if DataOS ever listed two keys of one name (Slack refuses a message whose
    block ids repeat); the name only makes the id readable."""
    return f"key:{render}:{index}:{key_ref(token.name)}"


def description_text(description: str) -> str:
    """A key's description for mrkdwn; the bot's own "created from Slack by U…" names the person by a
    mention, which Slack shows as their name."""
    creator = created_by(description)
    if creator is not None:
        return f"created from Slack by <@{creator}>"
    return shown(description[:200])


def _key_blocks(token: Token, now: datetime, block_id: str, revoke_at: datetime | None = None) -> list[Block]:
    status = key_status(token.expiration, now)
    when = "Expired" if status is KeyStatus.EXPIRED else "Expires"
    masked = mask_secret(token.secret.get_secret_value()) if token.secret else "…"
    lines = [
        f"*{shown(token.name)}*  {STATUS_EMOJI[status]} {status.value}",
        f"{when} {slack_date(token.expiration)} ({relative(token.expiration, now)})  ·  `{masked}`",
    ]
    if revoke_at is not None and now < revoke_at < token.expiration:
        lines.append(f":alarm_clock: Renewed: stops working {slack_date(revoke_at)} ({relative(revoke_at, now)}), "
                     "when I revoke it as you asked.")
    if token.description:
        lines.append(f"_{description_text(token.description)}_")
    return [
        SectionBlock(text=_md("\n".join(lines))),
        ActionsBlock(block_id=block_id, elements=[
            ButtonElement(text="Reveal", action_id=REVEAL_ACTION, value=key_ref(token.name)),
            ButtonElement(
                text="Revoke", action_id=REVOKE_ACTION, value=exact_value(token.name, token.expiration),
                style="danger",
                confirm=ConfirmObject(
                    title="Revoke this key?",
                    text=f"*{shown(token.name, 80)}* stops working at once, everywhere it is used. "
                         "This cannot be undone.",
                    confirm="Revoke", deny="Keep it", style="danger",
                ),
            ),
        ]),
    ]


def keys_message(identity: Identity, tokens: Sequence[Token], now: datetime, *, page: int = 0,
                 notice: str | None = None, scheduled: Scheduled | None = None) -> Message:
    blocks: list[Block] = []
    if notice:
        blocks.append(SectionBlock(text=_md(notice)))
    if not tokens:
        blocks += [
            SectionBlock(text=_md(f"You have no DataOS API keys (DataOS user `{shown(identity.dataos_user_id)}`).")),
            ActionsBlock(block_id="keys_create", elements=[
                ButtonElement(text="Create a key", action_id=CREATE_ACTION, value="create", style="primary")]),
        ]
        return _message("You have no DataOS API keys.", blocks)
    pages = max(1, -(-len(tokens) // KEYS_PER_PAGE))
    page = min(max(page, 0), pages - 1)
    on_page = tokens[page * KEYS_PER_PAGE:(page + 1) * KEYS_PER_PAGE]
    count = f"{len(tokens)} key{'s' if len(tokens) != 1 else ''}"
    where = f" — page {page + 1} of {pages}" if pages > 1 else ""
    blocks.append(SectionBlock(text=_md(
        f"*Your DataOS API keys* ({count}{where}) as DataOS user `{shown(identity.dataos_user_id)}`")))
    render = render_id()
    for i, token in enumerate(on_page):  # one message repeats Reveal and Revoke: each key its own block id
        blocks += _key_blocks(token, now, key_block_id(render, i, token),
                              revoke_time(scheduled or {}, token.name, token.expiration))
    nav: list[ButtonElement] = []
    if page > 0:
        nav.append(ButtonElement(text="Previous", action_id=f"{PAGE_ACTION}:prev", value=str(page - 1)))
    if page < pages - 1:
        nav.append(ButtonElement(text="Next", action_id=f"{PAGE_ACTION}:next", value=str(page + 1)))
    nav.append(ButtonElement(text="Create a key", action_id=CREATE_ACTION, value="create", style="primary"))
    blocks.append(ActionsBlock(block_id=f"keys_nav:{render}", elements=nav))
    blocks.append(ContextBlock(elements=[_md("Dates are shown in your time zone. Values are masked; "
                                             "Reveal shows one only to you.")]))
    return _message(f"Your DataOS API keys ({count})", blocks)


MAPPED_HOW = {"e-mail": "by e-mail", "self link": "linked themselves", "admin link": "linked by an admin"}


def whoami_message(identity: Identity, user: User | None, others: Sequence[Mapped] = ()) -> Message:
    who = f"`{shown(identity.dataos_user_id)}`"
    if user is not None and (user.name or user.email):
        who += f" ({shown(' · '.join(x for x in (user.name, user.email) if x), 240)})"
    how = {
        "e-mail": f"because your Slack e-mail {shown(identity.email)} matches that DataOS user",
        "self link": "because you linked yourself with `/apikey link`",
        "admin link": "because a platform admin linked you",
    }[identity.how]
    text = f"You are DataOS user {who}, {how}."
    if others:
        listed = ", ".join(f"<@{slack_id}> ({MAPPED_HOW[kind]})" for slack_id, kind in others[:10])
        text += (f"\n:warning: Also acting as this DataOS user: {listed}. If that is not right, "
                 "tell a platform admin.")
    return text_message(text)


def secret_message(token: Token, now: datetime) -> Message:
    """The ephemeral DM that carries a new key. Only for `chat.postEphemeral` in the owner's DM."""
    assert token.secret is not None
    value = token.secret.get_secret_value()
    lines = (f":key: Your new DataOS API key *{shown(token.name)}*, valid until "
             f"{slack_date(token.expiration)} ({relative(token.expiration, now)}):")
    return _message(
        f"Your new DataOS API key {shown(token.name)}",
        [
            SectionBlock(text=_md(lines)),
            SectionBlock(text=_md(f"```{value}```")),
            ContextBlock(elements=[_md(
                "Use it as the `apikey` header or `dataos-ctl login --apikey &lt;key&gt;`. Only you can see this "
                "message and it disappears when Slack reloads: copy it now. `/apikey list` can reveal it again."
            )]),
        ],
    )


# ---- modals ----------------------------------------------------------------------------------


def _meta(**values: str) -> str:
    text = json.dumps(values, separators=(",", ":"))
    if len(text) > 3000:
        raise ValueError("private_metadata too long")
    return text


def _preset_option(hours: int) -> Option:
    return Option(text=humanize_hours(hours), value=f"{hours}h")


def _key_inputs(policy: ValidityPolicy, *, name: str | None, validity_hours: int | None,
                validity_text: str | None, error: str | None, render: str = "") -> list[Block]:
    """Name and validity inputs, shared by the create and renew forms. `render` suffixes the block ids
    of a form drawn again, so Slack shows the new initial values instead of keeping the old input."""
    suffix = f"~{render}" if render else ""
    options = [_preset_option(h) for h in policy.presets]
    custom = Option(text="Custom…", value=CUSTOM_VALUE)
    options.append(custom)
    chosen = validity_hours if validity_hours is not None else (None if validity_text else policy.default)
    initial: Option | None = next((o for o in options if o.value == f"{chosen}h"), None)
    if validity_text and initial is None:
        initial = custom
    blocks: list[Block] = []
    if error:
        blocks.append(SectionBlock(block_id=BANNER_BLOCK + suffix, text=_md(f":warning: {error}")))
    blocks += [
        InputBlock(
            block_id=NAME_BLOCK + suffix, optional=True, label="Name",
            element=PlainTextInputElement(action_id=NAME_INPUT, initial_value=(name or "")[:NAME_MAX_LENGTH] or None,
                                          max_length=NAME_MAX_LENGTH,
                                          placeholder="e.g. ci_loader"),
            hint="Letters, digits and underscores. Leave empty and a name is made up for you.",
        ),
        InputBlock(
            block_id=VALIDITY_BLOCK + suffix, label="Valid for",
            element=StaticSelectElement(action_id=VALIDITY_INPUT, options=options, initial_option=initial),
            hint=f"At most {humanize_hours(policy.maximum)}.",
        ),
        InputBlock(
            block_id=CUSTOM_BLOCK + suffix, optional=True, label="Custom validity",
            element=PlainTextInputElement(action_id=CUSTOM_INPUT, max_length=16, placeholder="e.g. 36h, 45d or 2w",
                                          initial_value=validity_text[:16] if validity_text and initial is custom
                                          else None),
            hint="Only used with “Custom…”: hours (h), days (d) or weeks (w).",
        ),
    ]
    return blocks


@functools.lru_cache(maxsize=256)  # the same few forms are built over and over; callers never mutate them
def create_modal(policy: ValidityPolicy, *, name: str | None = None, validity_hours: int | None = None,
                 validity_text: str | None = None, error: str | None = None, channel_id: str = "",
                 render: str = "") -> dict[str, Any]:
    """The create form. `validity_text` prefills the custom field when it is not a preset."""
    blocks = _key_inputs(policy, name=name, validity_hours=validity_hours, validity_text=validity_text, error=error,
                         render=render)
    return View(type="modal", callback_id=CREATE_VIEW, title="Create a DataOS key", submit="Create",
                close="Cancel", blocks=blocks, private_metadata=_meta(channel_id=channel_id)).to_dict()


def validity_prefill(policy: ValidityPolicy, hours: int | None) -> dict[str, Any]:
    """Form arguments that select `hours` (a preset, or the custom field), capped by policy."""
    if not hours:
        return {"validity_hours": None, "validity_text": None}
    hours = min(hours, policy.maximum)
    if hours in policy.presets:
        return {"validity_hours": hours, "validity_text": None}
    text = f"{hours // 24}d" if hours % 24 == 0 else f"{hours}h"
    return {"validity_hours": None, "validity_text": text}


# ---- Home tab ---------------------------------------------------------------------------------

HOME_REMINDERS_ACTION = "home_reminders"


def home_view(identity: Identity | Denied, tokens: Sequence[Token], now: datetime, *, reminders_on: bool,
              notice: str | None = None, problem: str | None = None,
              scheduled: Scheduled | None = None) -> dict[str, Any]:
    """The Home tab: how the person is mapped, their keys with actions, their reminder setting."""
    home_blocks: list[Block] = [HeaderBlock(text="Your DataOS API keys")]
    if notice:
        home_blocks.append(SectionBlock(text=_md(notice)))
    if isinstance(identity, Denied):
        home_blocks.append(SectionBlock(text=_md(f":no_entry: {identity.message}")))
        return View(type="home", blocks=home_blocks).to_dict()
    how = {"e-mail": "by your Slack e-mail", "self link": "because you linked yourself",
           "admin link": "by a platform admin"}[identity.how]
    home_blocks.append(ContextBlock(elements=[_md(f"You are DataOS user `{shown(identity.dataos_user_id)}`, "
                                                  f"mapped {how}. Dates are in your time zone.")]))
    home_blocks.append(ActionsBlock(block_id="home_actions", elements=[
        ButtonElement(text="Create a key", action_id=CREATE_ACTION, value="create", style="primary"),
        ButtonElement(text="Turn reminders off" if reminders_on else "Turn reminders on",
                      action_id=HOME_REMINDERS_ACTION, value="off" if reminders_on else "on"),
    ]))
    home_blocks.append(SectionBlock(text=_md(
        f"Expiry reminders are *{'on' if reminders_on else 'off'}*.")))
    home_blocks.append(DividerBlock())
    if problem:
        home_blocks.append(SectionBlock(text=_md(f":x: {problem}")))
    elif not tokens:
        home_blocks.append(SectionBlock(text=_md("You have no DataOS API keys.")))
    render = render_id()
    for i, token in enumerate(tokens[:40]):  # 2 blocks each: within Home's 100
        key_blocks = _key_blocks(token, now, key_block_id(render, i, token),
                                 revoke_time(scheduled or {}, token.name, token.expiration))
        actions = key_blocks[1]
        assert isinstance(actions, ActionsBlock)
        actions.elements.append(ButtonElement(text="Renew", action_id=RENEW_ACTION,
                                              value=reminder_value(token.name, token.expiration, None)))
        home_blocks += key_blocks
    if len(tokens) > 40:
        home_blocks.append(ContextBlock(elements=[_md(f"And {len(tokens) - 40} more: `/apikey list` pages them.")]))
    return View(type="home", blocks=home_blocks).to_dict()


# ---- reminders -------------------------------------------------------------------------------


def _reminder_context(step: str) -> str:
    why = ("You asked me to remind you again." if step.startswith("snooze-")
           else f"The reminder {step_words(step)} before expiry.")
    return f"{why} Mute stops reminders for this key; `/apikey reminders off` stops them all."


def reminder_value(name: str, expiration: datetime, lifetime_hours: int | None) -> str:
    """A reminder button's value: which key (never its secret)."""
    return exact_value(name, expiration, h=lifetime_hours or 0)


def reminder_message(name: str, expiration: datetime, now: datetime, step: str, *, lifetime_hours: int | None,
                     snooze_words: str | None) -> Message:
    """The reminder DM; without `snooze_words` (a snooze would outlast the key) it has no snooze button.
    Plain dicts rather than `slack_sdk.models`, unlike the other builders: a tick or a
    discovery builds hundreds at once, and the models' validation cost 1.6 ms each. A unit test checks
    that this is exactly what the models build, and that it validates."""
    value = reminder_value(name, expiration, lifetime_hours)
    when = f"{slack_date(expiration)} ({relative(expiration, now)})"

    def plain(text: str) -> dict[str, Any]:
        return {"emoji": True, "text": text, "type": "plain_text"}

    def button(text: str, action_id: str, style: str | None = None, **extra: Any) -> dict[str, Any]:
        element: dict[str, Any] = {"action_id": action_id}
        element.update(extra)
        if style:
            element["style"] = style
        element.update({"text": plain(text), "type": "button", "value": value})
        return element

    confirm = {"title": plain("Revoke this key?"),
               "text": {"text": f"*{shown(name, 80)}* stops working at once, everywhere.", "type": "mrkdwn"},
               "confirm": plain("Revoke"), "deny": plain("Keep it"), "style": "danger"}
    section = (f":hourglass_flowing_sand: Your DataOS API key *{shown(name)}* expires {when}. "
               "After that, anything using it is refused by DataOS.")
    context = _reminder_context(step)
    return Message(f"Your DataOS API key {shown(name)} expires {relative(expiration, now)}", [
        {"text": {"text": section, "type": "mrkdwn"}, "type": "section"},
        {"block_id": "reminder", "elements": [
            button("Renew", RENEW_ACTION, "primary"),
            button("Revoke", REMINDER_REVOKE_ACTION, "danger", confirm=confirm),
            *([button(f"Remind me in {snooze_words}", SNOOZE_ACTION)] if snooze_words else []),
            button("Mute", MUTE_ACTION),
        ], "type": "actions"},
        {"elements": [{"text": context, "type": "mrkdwn"}], "type": "context"},
    ])


def reminder_message_from_models(name: str, expiration: datetime, now: datetime, step: str, *,
                                 lifetime_hours: int | None, snooze_words: str | None) -> Message:
    """`reminder_message` as `slack_sdk.models` build it: the reference the fast builder is tested against."""
    value = reminder_value(name, expiration, lifetime_hours)
    when = f"{slack_date(expiration)} ({relative(expiration, now)})"
    return _message(
        f"Your DataOS API key {shown(name)} expires {relative(expiration, now)}",
        [
            SectionBlock(text=_md(f":hourglass_flowing_sand: Your DataOS API key *{shown(name)}* expires {when}. "
                                  "After that, anything using it is refused by DataOS.")),
            ActionsBlock(block_id="reminder", elements=[
                ButtonElement(text="Renew", action_id=RENEW_ACTION, value=value, style="primary"),
                ButtonElement(text="Revoke", action_id=REMINDER_REVOKE_ACTION, value=value, style="danger",
                              confirm=ConfirmObject(title="Revoke this key?",
                                                    text=f"*{shown(name, 80)}* stops working at once, everywhere.",
                                                    confirm="Revoke", deny="Keep it", style="danger")),
                *([ButtonElement(text=f"Remind me in {snooze_words}", action_id=SNOOZE_ACTION, value=value)]
                  if snooze_words else []),
                ButtonElement(text="Mute", action_id=MUTE_ACTION, value=value),
            ]),
            ContextBlock(elements=[_md(_reminder_context(step))]),
        ],
    )


def bot_key_reminder_message(name: str, expiration: datetime, now: datetime, dataos_user: str) -> Message:
    return _message(
        f"The bot's own DataOS key expires {relative(expiration, now)}",
        [
            SectionBlock(text=_md(
                f":rotating_light: The bot's own DataOS API key *{shown(name)}* (user `{shown(dataos_user)}`) "
                f"expires {slack_date(expiration)} ({relative(expiration, now)}). When it does, the bot stops "
                "working for everyone.")),
            SectionBlock(text=_md("To rotate it: create a new key for that application user, put it in "
                                  "`DATAOS_APIKEY` (or the DataOS Secret), restart the bot, then revoke the old "
                                  "one. `apikey-bot doctor` shows the key in use.")),
        ],
    )


def reminder_done_message(name: str, expiration: datetime, outcome: str) -> Message:
    """What a reminder DM turns into once a button was used: no buttons left to press twice."""
    return _message(f"{shown(name)}: {outcome}", [
        SectionBlock(text=_md(f"Your DataOS API key *{shown(name)}* (expires {slack_date(expiration)}): {outcome}")),
    ])


def renew_modal(policy: ValidityPolicy, *, old_name: str, old_expiration: datetime, now: datetime,
                suggested_name: str, lifetime_hours: int | None, grace_hours: int, meta: dict[str, str],
                error: str | None = None, revoke_old: str | None = None) -> dict[str, Any]:
    intro = SectionBlock(text=_md(
        f"Renew *{shown(old_name)}* (expires {slack_date(old_expiration)}, {relative(old_expiration, now)}): "
        "a new key is made and sent to you privately."))
    inputs = _key_inputs(policy, name=suggested_name, error=error, **validity_prefill(policy, lifetime_hours))
    keep = Option(text="Leave it until it expires", value="keep")
    now_option = Option(text="Revoke it now", value="now")
    choices = [now_option, keep]
    # "Revoke it in 1 day" for a key that expires in 42 minutes would never happen: not offered.
    later = (Option(text=f"Revoke it in {humanize_hours(grace_hours)}", value=f"in:{grace_hours}")
             if old_expiration - now > timedelta(hours=grace_hours) else None)
    if later is not None:
        choices.insert(1, later)
    initial = now_option if revoke_old == "now" else later or keep
    old = InputBlock(block_id=OLD_BLOCK, label="And the old key?",
                     element=StaticSelectElement(action_id=OLD_INPUT, options=choices, initial_option=initial),
                     hint="Revoking later gives you time to switch everything to the new key.")
    return View(type="modal", callback_id=RENEW_VIEW, title="Renew a DataOS key", submit="Renew", close="Cancel",
                blocks=[intro, *inputs, old], private_metadata=_meta(**meta)).to_dict()


def info_modal(title: str, text: str, *, buttons: Sequence[ButtonElement] = (), context: str | None = None,
               close: str = "Close") -> dict[str, Any]:
    """A modal that only shows something (progress, a result, an error)."""
    blocks: list[Block] = [SectionBlock(text=_md(text))]
    if buttons:
        blocks.append(ActionsBlock(block_id="info_actions", elements=list(buttons)))
    if context:
        blocks.append(ContextBlock(elements=[_md(context)]))
    return View(type="modal", callback_id=INFO_VIEW, title=title[:24], close=close, blocks=blocks).to_dict()


@functools.lru_cache(maxsize=64)
def working_modal(title: str, text: str) -> dict[str, Any]:
    return info_modal(title, f":hourglass_flowing_sand: {text}")


def created_modal(name: str, expiration: datetime, now: datetime, *, delivered: bool | None,
                  note: str | None = None) -> dict[str, Any]:
    """The result of a create. `delivered` None: a repeated submit of a form that already made its key."""
    if delivered is None:
        where = "This form was submitted twice; only one key was made."
    elif delivered:
        where = "I sent it to you privately in your direct messages with me."
    else:
        where = "I could not deliver it to your direct messages with me: use the button below to see it here."
    text = (f":white_check_mark: Key *{shown(name)}* created, valid until "
            f"{slack_date(expiration)} ({relative(expiration, now)}).\n{where}")
    if note:
        text += f"\n{note}"
    button = ButtonElement(text="Show the key here", action_id=SHOW_HERE_ACTION, value=key_ref(name),
                           style="primary" if delivered is False else None)
    # Only when a message was sent can it have failed to arrive; otherwise the text above said it all.
    context = ("Did the message not arrive? “Show the key here” shows the key in this window, to you only."
               if delivered is not False else None)
    return info_modal("Key created", text, buttons=[button], context=context)


def secret_modal(token: Token, now: datetime) -> dict[str, Any]:
    """A key's value inside a modal that only its owner sees."""
    assert token.secret is not None
    return View(
        type="modal", callback_id=INFO_VIEW, title="Your DataOS key", close="Done",
        blocks=[
            SectionBlock(text=_md(f":key: *{shown(token.name)}*, valid until {slack_date(token.expiration)} "
                                  f"({relative(token.expiration, now)})")),
            SectionBlock(text=_md(f"```{token.secret.get_secret_value()}```")),
            ContextBlock(elements=[_md("Only you can see this window. Copy the key, then close it.")]),
        ],
    ).to_dict()


def revoke_modal(token: Token, now: datetime) -> dict[str, Any]:
    masked = mask_secret(token.secret.get_secret_value()) if token.secret else "…"
    text = (f"Revoke *{shown(token.name)}* (`{masked}`, expires {slack_date(token.expiration)})?\n"
            "It stops working at once, everywhere it is used. This cannot be undone.")
    return View(type="modal", callback_id=REVOKE_VIEW, title="Revoke a key", submit="Revoke", close="Keep it",
                blocks=[SectionBlock(text=_md(text))],
                private_metadata=_meta(name=key_ref(token.name), exp=str(int(token.expiration.timestamp())))).to_dict()


def option_value(token: Token) -> str:
    """A picker option naming one exact key, `<expiration epoch>:<key_ref>`, within Slack's 150 characters."""
    stamp = str(int(token.expiration.timestamp()))
    return f"{stamp}:{key_ref(token.name, 150 - len(stamp) - 1)}"


def revoke_picker_modal(tokens: Sequence[Token]) -> dict[str, Any]:
    options = [Option(text=clip(t.name, 75), value=option_value(t)) for t in tokens[:100]]
    return View(
        type="modal", callback_id=REVOKE_VIEW, title="Revoke a key", submit="Revoke", close="Keep it",
        blocks=[
            InputBlock(block_id=REVOKE_PICK_BLOCK, label="Which key?",
                       element=StaticSelectElement(action_id=REVOKE_PICK_INPUT, options=options,
                                                   placeholder="Choose a key")),
            ContextBlock(elements=[_md("The key stops working at once, everywhere it is used.")]),
        ],
        private_metadata=_meta(name=""),
    ).to_dict()


def link_modal() -> dict[str, Any]:
    return View(
        type="modal", callback_id=LINK_VIEW, title="Link your DataOS user", submit="Link", close="Cancel",
        blocks=[
            SectionBlock(text=_md("Paste one of your DataOS API keys. I ask DataOS who owns it and link you to "
                                  "that user. The key is checked once and never stored.")),
            InputBlock(block_id=LINK_BLOCK, label="A DataOS API key of yours",
                       element=PlainTextInputElement(action_id=LINK_INPUT, max_length=512,
                                                     placeholder="Paste the key")),
        ],
    ).to_dict()


def page_value(action_id: str) -> bool:
    return action_id.startswith(PAGE_ACTION)


def text_object(text: str) -> PlainTextObject:
    return PlainTextObject(text=text)

"""Keys and secrets: the key list with Reveal and Revoke, the revoke forms, and the two builders a
secret ever appears in, `secret_message` (ephemeral, in the owner's DM with the bot) and `secret_modal`
(a modal only the owner sees); nothing else receives a key's value."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    InputBlock,
    Option,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.dataos import Token
from bot.domain.keys import KeyStatus, created_by, key_ref, key_status, mask_secret, relative
from bot.identity import Identity
from bot.slack.blocks.common import (
    Message,
    confirm_text,
    exact_value,
    md,
    message_from,
    meta_json,
    render_id,
    slack_date,
)
from bot.slack.blocks.ids import (
    CREATE_ACTION,
    INFO_VIEW,
    PAGE_ACTION,
    REVEAL_ACTION,
    REVOKE_ACTION,
    REVOKE_PICK_BLOCK,
    REVOKE_PICK_INPUT,
    REVOKE_VIEW,
)
from bot.store.pending import Scheduled, revoke_time
from bot.text import clip, shown

KEYS_PER_PAGE = 20  # 2 blocks per key + header, context and paging stay well under 50


STATUS_EMOJI = {KeyStatus.ACTIVE: ":large_green_circle:", KeyStatus.EXPIRING_SOON: ":large_yellow_circle:",
                KeyStatus.EXPIRED: ":red_circle:"}


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


def key_row_blocks(token: Token, now: datetime, block_id: str, revoke_at: datetime | None = None) -> list[Block]:
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
        SectionBlock(text=md("\n".join(lines))),
        ActionsBlock(block_id=block_id, elements=[
            ButtonElement(text="Reveal", action_id=REVEAL_ACTION, value=key_ref(token.name)),
            ButtonElement(
                text="Revoke", action_id=REVOKE_ACTION, value=exact_value(token.name, token.expiration),
                style="danger",
                confirm=ConfirmObject(
                    title="Revoke this key?",
                    text=confirm_text(f"*{shown(token.name, 80)}* stops working at once, everywhere it is "
                                      "used. This cannot be undone."),
                    confirm="Revoke", deny="Keep it", style="danger",
                ),
            ),
        ]),
    ]


def keys_message(identity: Identity, tokens: Sequence[Token], now: datetime, *, page: int = 0,
                 notice: str | None = None, scheduled: Scheduled | None = None) -> Message:
    blocks: list[Block] = []
    if notice:
        blocks.append(SectionBlock(text=md(notice)))
    if not tokens:
        blocks += [
            SectionBlock(text=md(f"You have no DataOS API keys (DataOS user `{shown(identity.dataos_user_id)}`).")),
            ActionsBlock(block_id="keys_create", elements=[
                ButtonElement(text="Create a key", action_id=CREATE_ACTION, value="create", style="primary")]),
        ]
        return message_from("You have no DataOS API keys.", blocks)
    pages = max(1, -(-len(tokens) // KEYS_PER_PAGE))
    page = min(max(page, 0), pages - 1)
    on_page = tokens[page * KEYS_PER_PAGE:(page + 1) * KEYS_PER_PAGE]
    count = f"{len(tokens)} key{'s' if len(tokens) != 1 else ''}"
    where = f" — page {page + 1} of {pages}" if pages > 1 else ""
    blocks.append(SectionBlock(text=md(
        f"*Your DataOS API keys* ({count}{where}) as DataOS user `{shown(identity.dataos_user_id)}`")))
    render = render_id()
    for i, token in enumerate(on_page):  # one message repeats Reveal and Revoke: each key its own block id
        blocks += key_row_blocks(token, now, key_block_id(render, i, token),
                              revoke_time(scheduled or {}, token.name, token.expiration))
    nav: list[ButtonElement] = []
    if page > 0:
        nav.append(ButtonElement(text="Previous", action_id=f"{PAGE_ACTION}:prev", value=str(page - 1)))
    if page < pages - 1:
        nav.append(ButtonElement(text="Next", action_id=f"{PAGE_ACTION}:next", value=str(page + 1)))
    nav.append(ButtonElement(text="Create a key", action_id=CREATE_ACTION, value="create", style="primary"))
    blocks.append(ActionsBlock(block_id=f"keys_nav:{render}", elements=nav))
    blocks.append(ContextBlock(elements=[md("Dates are shown in your time zone. Values are masked; "
                                             "Reveal shows one only to you.")]))
    return message_from(f"Your DataOS API keys ({count})", blocks)


def secret_message(token: Token, now: datetime) -> Message:
    """The ephemeral DM that carries a new key. Only for `chat.postEphemeral` in the owner's DM."""
    assert token.secret is not None
    value = token.secret.get_secret_value()
    lines = (f":key: Your new DataOS API key *{shown(token.name)}*, valid until "
             f"{slack_date(token.expiration)} ({relative(token.expiration, now)}):")
    return message_from(
        f"Your new DataOS API key {shown(token.name)}",
        [
            SectionBlock(text=md(lines)),
            SectionBlock(text=md(f"```{value}```")),
            ContextBlock(elements=[md(
                "Use it as the `apikey` header or `dataos-ctl login --apikey &lt;key&gt;`. Only you can see this "
                "message and it disappears when Slack reloads: copy it now. `/apikey list` can reveal it again."
            )]),
        ],
    )


def secret_modal(token: Token, now: datetime, *, app_user_id: str | None = None) -> dict[str, Any]:
    """A key's value inside a modal that only its owner sees; with `app_user_id`, an application user's key
    shown to one of its team's owners (titled so: it is not theirs)."""
    assert token.secret is not None
    whose = f" of application user `{shown(app_user_id)}`" if app_user_id else ""
    return View(
        type="modal", callback_id=INFO_VIEW, title="Application key" if app_user_id else "Your DataOS key",
        close="Done",
        blocks=[
            SectionBlock(text=md(f":key: *{shown(token.name)}*{whose}, valid until {slack_date(token.expiration)} "
                                  f"({relative(token.expiration, now)})")),
            SectionBlock(text=md(f"```{token.secret.get_secret_value()}```")),
            ContextBlock(elements=[md("Only you can see this window. Copy the key, then close it.")]),
        ],
    ).to_dict()


def revoke_modal(token: Token, now: datetime) -> dict[str, Any]:
    masked = mask_secret(token.secret.get_secret_value()) if token.secret else "…"
    text = (f"Revoke *{shown(token.name)}* (`{masked}`, expires {slack_date(token.expiration)})?\n"
            "It stops working at once, everywhere it is used. This cannot be undone.")
    return View(type="modal", callback_id=REVOKE_VIEW, title="Revoke a key", submit="Revoke", close="Keep it",
                blocks=[SectionBlock(text=md(text))],
                private_metadata=meta_json(name=key_ref(token.name),
                                           exp=str(int(token.expiration.timestamp())))).to_dict()


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
            ContextBlock(elements=[md("The key stops working at once, everywhere it is used.")]),
        ],
        private_metadata=meta_json(name=""),
    ).to_dict()


def page_value(action_id: str) -> bool:
    return action_id.startswith(PAGE_ACTION)

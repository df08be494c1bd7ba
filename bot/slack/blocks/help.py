"""The `/apikey help` message (also the answer to an unknown subcommand)."""

from __future__ import annotations

import functools

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, SectionBlock

from bot.slack.blocks.common import Message, md, message_from
from bot.slack.blocks.ids import CREATE_ACTION, LIST_ACTION
from bot.text import shown

HELP_LINES = [
    "`/apikey list` — your DataOS API keys, with Reveal and Revoke",
    "`/apikey create [name] [validity]` — a new key, e.g. `/apikey create ci_loader 30d`",
    "`/apikey revoke &lt;name&gt;` — delete a key (asks first)",  # escaped: `<name>` is link markup
    "`/apikey whoami` — which DataOS user you are, and why",
    "`/apikey link` — prove your DataOS identity with one of your keys",
    "`/apikey reminders on|off` — expiry reminders in your DMs (on by default)",
    "`/apikey policy` — how long your keys may be valid, and when one needs approval; "
    "`/apikey requests` — your requests for approval (and those waiting for your decision)",
    "Own a team's application user? `/apikey list &lt;app-user&gt;`, `/apikey create --for &lt;app-user&gt;` "
    "and `/apikey revoke --for &lt;app-user&gt; &lt;name&gt;` act on its keys",
]


@functools.lru_cache(maxsize=64)
def help_message(*, unknown: str | None = None, suggestion: str | None = None) -> Message:
    blocks: list[Block] = []
    if unknown is not None:
        hint = f" Did you mean `/apikey {suggestion}`?" if suggestion else ""
        blocks.append(SectionBlock(text=md(f"I don't know `{shown(unknown[:40])}`.{hint}")))
    blocks += [
        SectionBlock(text=md("*Your DataOS API keys, from Slack.* Keys reach you privately, "
                              "in your direct messages with me.")),
        SectionBlock(text=md("\n".join(HELP_LINES))),
        ActionsBlock(block_id="help_actions", elements=[
            ButtonElement(text="List my keys", action_id=LIST_ACTION, value="list"),
            ButtonElement(text="Create a key", action_id=CREATE_ACTION, value="create", style="primary"),
        ]),
    ]
    return message_from("DataOS API keys: /apikey list, create, revoke, whoami, link", blocks)

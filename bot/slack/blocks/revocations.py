"""Block Kit of a scheduled revocation that did not happen: the message that tells a key's owners (its
team channel, or the people acting as that DataOS user) and the admins, with a Revoke now that names
the exact key (whose, name AND expiration; also under a rotation's old key that could not be revoked),
and what that message becomes once someone pressed it.

No message here carries a key's value; everything from DataOS or Slack goes through `shown`.
"""

from __future__ import annotations

from datetime import datetime

from slack_sdk.models.blocks import ActionsBlock, ButtonElement, ConfirmObject, ContextBlock, SectionBlock

from bot.slack.blocks.common import Message, exact_value, md, message_from, slack_date, text_object
from bot.text import shown

REVOKE_NOW_ACTION = "overdue_revoke_now"
#: Slack's limit on a button's value.
VALUE_MAX = 2000


def overdue_revocation_message(dataos_user: str, name: str, expiration: datetime | None, revoke_at: datetime,
                               requested_by: str, *, team: bool, attempts: int, error: str | None) -> Message:
    """A revocation a renewal scheduled failed `attempts` times: the key still works. Revoke now names
    the key exactly; without its expiration (a schedule from before exact keys) there is no button."""
    whose = f"of application user `{shown(dataos_user)}`" if team else f"of DataOS user `{shown(dataos_user)}`"
    why = f" (last: `{shown(error, 64)}`)" if error else ""
    until = f" or until it expires {slack_date(expiration)}" if expiration is not None else ""
    text = (f":warning: The DataOS API key *{shown(name)}* {whose} was to stop working {slack_date(revoke_at)} "
            f"(scheduled at a renewal by <@{shown(requested_by, 32)}>), but the bot could not revoke it: it tried "
            f"{attempts} time{'s' if attempts != 1 else ''}{why} and has stopped trying. *The key still works* "
            f"until someone revokes it{until}.")
    blocks: list[SectionBlock | ActionsBlock | ContextBlock] = [SectionBlock(block_id="overdue", text=md(text))]
    blocks += revoke_now_blocks(dataos_user, name, expiration)
    return message_from(f"The scheduled revocation of {shown(name)} did not happen; the key still works", blocks)


def revoke_now_blocks(dataos_user: str, name: str, expiration: datetime | None) -> list[ActionsBlock | ContextBlock]:
    """Revoke now on exactly that key (whose, name AND expiration), and who may press it; without its
    expiration, or with a value too long for a button, the sentence saying how to revoke it instead."""
    blocks: list[ActionsBlock | ContextBlock] = []
    value = exact_value(name, expiration, u=dataos_user) if expiration is not None else ""
    if expiration is not None and len(value) <= VALUE_MAX:
        confirm = (f"*{shown(name, 80)}* of `{shown(dataos_user, 80)}` (expires "
                   f"{expiration:%Y-%m-%d %H:%M} UTC) stops working at once, everywhere.")
        blocks.append(ActionsBlock(block_id="overdue_actions", elements=[ButtonElement(
            text="Revoke now", action_id=REVOKE_NOW_ACTION, style="danger", value=value,
            confirm=ConfirmObject(title="Revoke this key?", text=md(confirm), confirm="Revoke", deny="Not yet",
                                  style="danger"))]))
        how = "Revoke now is for the key's owners and the platform admins; it checks the key again first."
    elif expiration is not None:
        how = "Its DataOS user id is too long for a button: revoke it with `/apikey admin keys` or the DataOS UI."
    else:
        how = "The bot cannot tell exactly which key it was: revoke it with `/apikey revoke` once you have checked."
    blocks.append(ContextBlock(block_id="overdue_how", elements=[text_object(how)]))
    return blocks


def overdue_done_message(name: str, outcome: str) -> Message:
    """The message once someone acted on it: `outcome` is a sentence, already escaped."""
    return message_from(f"{shown(name)}: {outcome}", [SectionBlock(block_id="overdue_done", text=md(outcome))])

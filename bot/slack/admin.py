"""`/apikey admin …`: for the Slack users in ADMIN_SLACK_USER_IDS only, and every action audited.

People are named by mention (`<@U123|alice>`, which Slack sends for `@alice` because the command
escapes its text) or by a bare Slack user id.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block, SectionBlock

from bot.app import Runtime
from bot.audience import build_audience
from bot.audit import audit_line
from bot.dataos import DataOSError
from bot.delivery import SweepFailed
from bot.identity import Denied, slack_error
from bot.service import LinkRefused
from bot.slack import tracked
from bot.slack.blocks.chunks import section_blocks
from bot.slack.blocks.common import DAMAGED_BUTTON, Message, slack_date, text_message
from bot.slack.common import user_id
from bot.slack.errors import explain, unescaped_mention
from bot.slack.key_buttons import (
    ADMIN_REVOKE_ACTION,
    admin_keys_message,
    admin_revoked_message,
    gone_text,
    parse_exact,
    replaced_text,
)
from bot.slack.links import people_of, tell_others
from bot.slack.teams.admin import admin_team, admin_teams
from bot.store import Audit
from bot.text import shown

log = logging.getLogger(__name__)
#: Audit entries one answer shows (newest first); a line says when there are more.
AUDIT_ENTRIES = 40
_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$|^([UW][A-Z0-9]{2,})$")
USAGE = ("Admin commands: `/apikey admin link @user &lt;dataos-user-id&gt;`, `unlink @user`, `keys @user`, "
         "`audit [@user] [--days N]`, `sweep [--discover]`, `stats`, "
         "`team &lt;app-user&gt; #channel @owner… [@usergroup…]`, `team &lt;app-user&gt; [remove]`, `teams`.")


def slack_user(token: str) -> str | None:
    match = _MENTION.match(token.strip())
    return (match.group(1) or match.group(2)) if match else None


async def _audit(rt: Runtime, actor: str, action: str, outcome: str, *, dataos_user: str | None = None,
                 key_name: str | None = None, detail: str | None = None) -> None:
    await rt.keys.trail.record(Audit(at=rt.clock(), actor_slack_id=actor, action=f"admin {action}", outcome=outcome,
                               dataos_user_id=dataos_user, key_name=key_name, detail=detail))


async def admin_command(rt: Runtime, actor: str, args: list[str], respond: AsyncRespond) -> None:
    async def say(text: str | Message, extra: list[Block] | None = None) -> None:
        message = text if isinstance(text, Message) else text_message(text)
        payload = message.blocks + [b.to_dict() for b in (extra or [])]
        await respond(response_type="ephemeral", text=message.text, blocks=payload)

    if actor not in rt.admins:
        await say(":no_entry: `/apikey admin` is for platform admins. Nothing was done. "
                  "Ask one of them if you need help with someone's keys.")
        return
    sub = args[0].lower() if args else ""
    rest = args[1:]
    if sub == "link" and len(rest) == 2 and slack_user(rest[0]):
        target, dataos_id = slack_user(rest[0]) or "", rest[1]
        try:
            result = await rt.keys.admin_link(actor, target, dataos_id)
        except LinkRefused as exc:
            await say(f":no_entry: {exc}")
            return
        except DataOSError as exc:
            await say(":x: " + explain(exc, doing="looking up that DataOS user", read=True))
            return
        await say(f":link: <@{target}> is now linked to DataOS user `{shown(result.dataos_user_id)}`.")
        await tell_others(rt, result)
    elif sub == "unlink" and len(rest) == 1 and slack_user(rest[0]):
        target = slack_user(rest[0]) or ""
        removed = await rt.links.delete_link(target)
        rt.resolver.forget(target)
        await _audit(rt, actor, "unlink", "ok" if removed else "no-link", detail=f"slack user {target}")
        await say(f"<@{target}> is no longer linked; they are mapped by e-mail again, if it matches."
                  if removed else f"<@{target}> had no explicit link. Nothing was changed.")
    elif sub == "keys" and len(rest) == 1 and slack_user(rest[0]):
        await _keys(rt, actor, slack_user(rest[0]) or "", say)
    elif sub == "audit":
        await _audit_report(rt, actor, rest, say)
    elif sub == "sweep":
        try:
            if rt.sweep_now is None:  # (bot.compose sets it whenever it registers this command)
                raise SweepFailed("this process runs no reminder sweeps")
            summary = await rt.sweep_now("discovery" if rest[:1] == ["--discover"] else "auto")
        except SweepFailed as exc:
            await _audit(rt, actor, "sweep", "failed")
            await say(f":x: The sweep could not run: {shown(str(exc), 300)}")
            return
        await _audit(rt, actor, "sweep", "ok", detail=f"sent {summary.sent}")
        await say("Reminder sweep done:", section_blocks(
            (shown(line, 300) for line in summary.lines()),
            more="The rest of this summary is too long for Slack; the bot's log has the whole sweep."))
    elif sub == "stats":
        await _stats(rt, actor, say)
    elif sub == "team":
        await admin_team(rt, actor, rest, say)
    elif sub == "teams":
        await admin_teams(rt, actor, say)
    elif (unescaped := unescaped_mention(rest)) is not None:
        await say(f":no_entry: {unescaped}")
    else:
        await say(USAGE)


async def _keys(rt: Runtime, actor: str, target: str, say: Any) -> None:
    identity = await rt.keys.identify(target)
    if isinstance(identity, Denied):
        await say(f"<@{target}> is not mapped to a DataOS user: {identity.message}")
        return
    try:
        tokens = await rt.keys.list_keys(identity)
    except DataOSError as exc:
        await say(":x: " + explain(exc, doing="listing their keys", read=True))
        return
    await _audit(rt, actor, "keys", "ok", dataos_user=identity.dataos_user_id, detail=f"slack user {target}")
    if not tokens:
        await say(f"<@{target}> (DataOS user `{shown(identity.dataos_user_id)}`) has no keys.")
        return
    await say(admin_keys_message(target, identity, tokens))


async def _audit_report(rt: Runtime, actor: str, args: list[str], say: Any) -> None:
    days, target = 7, None
    for i, word in enumerate(args):
        if word == "--days" and i + 1 < len(args) and args[i + 1].isascii() and args[i + 1].isdigit():
            days = max(1, min(int(args[i + 1]), 365))
        elif slack_user(word):
            target = slack_user(word)
    entries = await rt.audit_log.recent_audit(since=rt.clock() - timedelta(days=days), actor_slack_id=target,
                                          limit=AUDIT_ENTRIES + 1)
    more_entries = len(entries) > AUDIT_ENTRIES
    entries = entries[:AUDIT_ENTRIES]
    await _audit(rt, actor, "audit", "ok", detail=f"slack user {target or 'all'}, {days} days")
    if not entries:
        await say(f"No audit entries in the last {days} days" + (f" for <@{target}>." if target else "."))
        return
    lines = [f"{slack_date(e.at)} {audit_line(e, icon=False)}" for e in entries]
    narrow = ("`/apikey admin audit @user` or a shorter `--days N` shows fewer at a time; the database keeps "
              "every entry.")
    extra = section_blocks(lines, more=f"Some entries are not shown here: {narrow}")
    if more_entries:
        extra.append(SectionBlock(text=f"These are the newest {AUDIT_ENTRIES} entries; there are more. {narrow}"))
    await say(f"Audit, last {days} days{' for <@' + target + '>' if target else ''} (newest first):", extra)


async def _stats(rt: Runtime, actor: str, say: Any) -> None:
    now = rt.clock()
    await rt.directory.ensure_loaded()
    members = await rt.slack_directory.members()
    state = await rt.sightings.load_reminder_state(since=now)
    audience = build_audience(rt.directory.persons(), members, await rt.links.links(), disabled=set())
    # From the bot's record of keys (kept by discoveries, ticks and people's own actions), not from a
    # DataOS call per person: stats must not cost what a discovery costs.
    mapped = {r.dataos_user_id for r in audience}
    live = [k for k in state.sightings if k[0] in mapped]
    soon = sum(1 for _, _, expiration in live if expiration - now <= timedelta(days=7))
    oldest = await rt.sightings.oldest_listing()
    week = await rt.ledger.ledger_states(since=now - timedelta(days=7))
    await _audit(rt, actor, "stats", "ok")
    age = f" (record as of {slack_date(oldest)} at the oldest)" if oldest is not None else " (no record yet)"
    await say(f"*Mapped users:* {len(audience)} ({len(state.disabled)} with reminders off)\n*Keys:* {len(live)}{age}\n"
              f"*Expiring in 7 days:* {soon}\n*Reminders sent in 7 days:* {week.get('sent', 0)}\n"
              f"*Undeliverable in 7 days:* {week.get('undeliverable', 0)} (Slack refused them for good; the next "
              f"step tries again)\n*Outcome unknown in 7 days:* {week.get('unknown', 0)} (Slack may have them; "
              "never sent twice)")


async def admin_revoke(rt: Runtime, body: dict[str, Any], respond: AsyncRespond) -> None:
    """Revoke exactly the key the admin saw (whose, name, expiration; re-read first), then tell its owner."""
    actor = user_id(body)

    async def say(text: str) -> None:
        await respond(response_type="ephemeral", replace_original=False, **text_message(text).kwargs())

    if actor not in rt.admins:  # the button could be replayed by anyone who saw it
        await say(":no_entry: Only platform admins can do that. Nothing was done.")
        return
    value = str((body.get("actions") or [{}])[0].get("value") or "")
    parsed = parse_exact(value, "u") or parse_exact(value, "t")
    if parsed is None:
        await say(DAMAGED_BUTTON)
        return
    key, fields = parsed
    if "u" in fields:
        dataos_user = fields["u"]
    else:  # the listing named them by Slack user: their DataOS user now (a key elsewhere simply does not match)
        identity = await rt.keys.identify(fields["t"])
        if isinstance(identity, Denied):
            await say(f"<@{shown(fields['t'], 32)}> is not mapped to a DataOS user any more. Nothing was revoked.")
            return
        dataos_user = identity.dataos_user_id
    try:
        done = await rt.keys.revoke_exact(dataos_user, key.name, key.expiration, actor=actor,
                                          detail="admin keys", action="admin revoke")
    except DataOSError as exc:
        await say(":x: " + explain(exc, doing="revoking the key", key_name=key.name))
        return
    whose = f"of DataOS user `{shown(dataos_user)}`"
    if done.outcome == "changed":
        await say(f":warning: {replaced_text(done.name)} The key {whose} that has that name now is a newer one; "
                  "run `/apikey admin keys` again to see it.")
    elif done.outcome == "gone":
        await say(gone_text(done.name, whose))
    else:
        told = await tell_owner(rt, actor, dataos_user, done.name)
        await say(f":wastebasket: Revoked *{shown(done.name)}* {whose}. {told}")


async def tell_owner(rt: Runtime, actor: str, dataos_user: str, name: str) -> str:
    """DM the Slack people acting as `dataos_user` that an admin revoked their key; what the admin is told.
    Each DM's outcome is audited once; a DM that failed is not tried again."""
    try:
        mapped = await people_of(rt, dataos_user)
    except Exception as exc:  # the key is revoked already: the admin must not read "nothing was changed"
        log.warning("could not find who acts as %s: %s", dataos_user, type(exc).__name__)
        return "I could not find out who uses that DataOS user, so nobody was told; please tell them yourself."
    people = [p for p in mapped if p != actor]  # an admin revoking a key of their own knows already
    if not mapped:
        return "Nobody in Slack is mapped to that DataOS user, so nobody was told."
    message = admin_revoked_message(actor, name, dataos_user, rt.clock())
    by_outcome: dict[str, list[str]] = {"told": [], "not told": [], "unknown": []}
    for person in people:
        try:
            await rt.slack.chat_postMessage(channel=person, **message.kwargs())
            outcome = "told"
        except SlackApiError as exc:
            log.warning("could not tell %s that an admin revoked their key: %s", person, slack_error(exc))
            outcome = "not told"
        except Exception as exc:  # no answer: it may have arrived, so it is not sent again
            log.warning("no answer telling %s that an admin revoked their key: %s", person, type(exc).__name__)
            outcome = "unknown"
        by_outcome[outcome].append(person)
        await _audit(rt, actor, "revoke notice", outcome, dataos_user=dataos_user, key_name=name,
                     detail=f"slack user {person}")

    def who(people: list[str]) -> str:
        return " and ".join(f"<@{p}>" for p in people)

    text = f"I told {who(by_outcome['told'])} in a DM." if by_outcome["told"] else ""
    if by_outcome["not told"]:
        text += f" I could not DM {who(by_outcome['not told'])}; please tell them yourself."
    if by_outcome["unknown"]:
        text += (f" Slack did not answer when I DMed {who(by_outcome['unknown'])}, so they may not know; "
                 "please check with them.")
    return text.strip()


def register(app: AsyncApp, rt: Runtime) -> None:
    @app.action(ADMIN_REVOKE_ACTION)
    @tracked(rt, "action", "admin_revoke")
    async def on_admin_revoke(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        await admin_revoke(rt, body, respond)

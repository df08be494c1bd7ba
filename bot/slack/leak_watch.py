"""Leak watch (LEAK_WATCH=true): a DataOS key pasted where others can read it is caught, and its owner
can revoke it in one click.

Every message in a channel the bot is in (new, edited, in threads, shared or forwarded, snippets) is
scanned for key-shaped text in memory (`bot.domain.leaks`); ordinary messages cost no call. An edit or
a link preview (`message_changed`) counts only for keys that were not in the previous version. Each
candidate is confirmed with DataOS `/authorize`, within a budget shared fairly by posters and channels
(`bot.leak_gate`); only a live key counts. The owner gets a DM with Revoke now, Renew and revoke,
and I know, keep it; the poster an ephemeral note where they posted; the audit log and channel one
line. A key whose owner is not a mapped person goes to the admins. A report counts as told only once a
DM was delivered (`bot.store.leaks`). Message text is never logged or stored, and a key is kept only
as a keyed hash (to recognise a repeat).
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError

from bot.app import Runtime
from bot.dataos import DataOSError, DataOSNotFound
from bot.domain.leaks import MAX_CANDIDATES, candidates, key_name_of
from bot.identity import Denied, slack_error
from bot.metrics import LEAKS
from bot.slack import tracked
from bot.slack.approvals.gate import person_form
from bot.slack.blocks.common import DAMAGED_BUTTON, text_message, working_modal
from bot.slack.common import clicked_message, open_view, tell, update_message, update_view, user_id
from bot.slack.errors import explain, explain_slack
from bot.slack.leak_dms import KEEP_ACTION, RENEW_ACTION, REPEAT_WITHIN, REVOKE_ACTION, append, deliver
from bot.slack.links import people_of
from bot.slack.owners import act_as, team_kind_problem
from bot.slack.reminder_buttons import KeyRef, renew_form
from bot.slack.teams.channel import admitted_owners, shared_now, tell_admins_shared
from bot.slack.teams.keys import renew_team_key
from bot.store import Audit
from bot.store.teams import Team
from bot.text import shown

log = logging.getLogger(__name__)
DAMAGED = f"{DAMAGED_BUTTON} Use `/apikey list` to manage your keys."
#: Messages the watch never reads: the bot's own, other bots', joins and deletions.
IGNORED_SUBTYPES = frozenset({"bot_message", "message_deleted", "channel_join", "channel_leave", "group_join",
                              "group_leave", "channel_topic", "channel_purpose", "channel_name", "pinned_item"})
#: Keys looked for in the previous version of an edited message: those are not new pastes.
PREVIOUS_LIMIT = 50


@dataclass(frozen=True)
class Paste:
    """Where a message with key-shaped text was posted, and by whom (its text stays in `on_message`)."""

    channel: str
    poster: str
    ts: str
    thread_ts: str | None = None


def _texts(message: dict[str, Any]) -> str:
    """All the text a message shows: its own, shared or forwarded messages in it, snippet previews."""
    parts = [message.get("text")]
    parts += [a.get("text") for a in message.get("attachments") or [] if isinstance(a, dict)]
    parts += [f.get("preview") for f in message.get("files") or [] if isinstance(f, dict)]
    return "\n".join(p for p in parts if isinstance(p, str))


def message_of(event: dict[str, Any]) -> tuple[str, str, Paste] | None:
    """(text, text of the previous version, where) of a message event worth scanning, else None."""
    subtype = event.get("subtype")
    channel = event.get("channel")
    if event.get("bot_id") or subtype in IGNORED_SUBTYPES or not isinstance(channel, str):
        return None
    message = event.get("message") if subtype == "message_changed" else event
    if not isinstance(message, dict) or message.get("bot_id"):
        return None
    previous = event.get("previous_message") if subtype == "message_changed" else None
    author, ts, thread_ts = message.get("user"), message.get("ts"), message.get("thread_ts")
    if not isinstance(author, str) or not isinstance(ts, str):
        return None
    before = _texts(previous) if isinstance(previous, dict) else ""
    thread = thread_ts if isinstance(thread_ts, str) and thread_ts != ts else None
    return _texts(message), before, Paste(channel, author, ts, thread)


async def on_message(rt: Runtime, event: dict[str, Any]) -> None:
    if not rt.settings.leak_watch:
        return
    found = message_of(event)
    if found is None:
        return
    text, before, paste = found
    if paste.poster == await rt.bot_user_id():
        return
    # An edit, or Slack adding a link preview: only a key the previous version did not hold is a new paste.
    old = set(candidates(before, limit=PREVIOUS_LIMIT)) if before else set()
    keys = [k for k in candidates(text, limit=MAX_CANDIDATES + len(old)) if k not in old][:MAX_CANDIDATES]
    del text, before  # the message itself goes no further than this function
    if not keys:
        return
    LEAKS.labels("candidate").inc(len(keys))
    outcomes = await asyncio.gather(*(rt.leak_gate.submit(paste.poster, paste.channel, _job(rt, key, paste))
                                      for key in keys))
    if dropped := outcomes.count("dropped"):
        log.warning("leak watch: the check queue is full (%d candidates waiting); %d candidate(s) in a message in "
                    "%s were not checked (%d since start)", rt.leak_gate.queued, dropped, paste.channel,
                    rt.leak_gate.dropped)
    if "queued" in outcomes and rt.leak_gate.first_wait(paste.poster):
        await _note(rt, paste, ":hourglass_flowing_sand: You have posted a lot of key-shaped text in a short time, "
                    "so the bot checks it a few strings at a time: its checks of your messages are delayed, "
                    "not skipped. If you pasted a real DataOS API key, delete the message now.")


def _job(rt: Runtime, candidate: str, paste: Paste) -> Any:
    async def check() -> None:
        async with rt.work():
            await _check(rt, candidate, paste)
    return check


async def _check(rt: Runtime, candidate: str, paste: Paste) -> None:
    async with rt.leak_gate.slots:
        try:
            owner = (await rt.dataos.authorize(candidate)).user_id
        except DataOSError as exc:
            LEAKS.labels("check failed").inc()
            log.warning("leak watch: DataOS could not check a candidate in %s: %s", paste.channel, exc)
            return
    if owner is None:
        LEAKS.labels("not live").inc()  # key-shaped, but not a live key: nobody hears of it
        return
    name = key_name_of(candidate)
    try:
        expiration = next((t.expiration for t in await rt.dataos.list_tokens(owner)
                           if t.secret is not None and t.secret.get_secret_value() == candidate), None)
    except DataOSError:
        expiration = None
    now = rt.clock()
    fp = await rt.self_links.fingerprint(candidate)  # keyed with what the database keeps: survives a rotation
    del candidate
    if fp is None:
        return
    await rt.self_links.key_leaked(fp, actor=paste.poster)  # a leaked key proves nobody: the links it made end
    people, to_admins = await _recipients(rt, owner)
    # The one place a live key's report is recorded.
    report = await rt.leak_reports.record(fp, dataos_user_id=owner, key_name=name, channel=paste.channel,
                                          poster=paste.poster, message_ts=paste.ts, key_expiration=expiration,
                                          to_admins=to_admins, now=now, within=REPEAT_WITHIN)
    earlier = [] if report.new else await rt.leak_reports.sent(fp)
    waiting = people if report.new else await rt.leak_reports.retryable(fp)
    await deliver(rt, report, await rt.leak_reports.claim(fp, waiting, now), now)
    delivered = [dm.recipient for dm in await rt.leak_reports.sent(fp)]
    told = bool(delivered)
    retrying = not told and bool(await rt.leak_reports.retryable(fp))
    to_team = any(p.startswith(("C", "G")) for p in people)  # (a team hears in its channel first)
    await _tell_poster(rt, paste, name, told=_told_whom(rt, delivered, report.to_admins, team=to_team),
                       retrying=retrying)
    if not report.new:
        LEAKS.labels("repeat").inc()
        note = (f":rotating_light: Posted again in <#{shown(paste.channel, 32)}> by <@{shown(paste.poster, 32)}> "
                f"({report.times} times so far).")
        for dm in earlier:
            await append(rt, dm.channel, dm.ts, note)
        await rt.keys.trail.record(Audit(at=now, actor_slack_id=paste.poster, action="leak", outcome="repeat",
                                         dataos_user_id=owner, key_name=name, detail=f"channel {paste.channel}"))
        return
    outcome = ("admins told" if to_admins else "owner told") if told else "not told yet"
    LEAKS.labels(outcome).inc()
    await rt.keys.trail.record(Audit(
        at=now, actor_slack_id=paste.poster, action="leak", outcome=outcome, dataos_user_id=owner, key_name=name,
        key_expiration=expiration, detail=f"channel {paste.channel}; told {' '.join(delivered) or 'nobody yet'}"))


async def _recipients(rt: Runtime, owner: str) -> tuple[list[str], bool]:
    """The team channel of an application user that has a team (its owners and the admins by DM when another
    organisation can read the channel); else the Slack people acting as DataOS user `owner`; the admins when there is
    none or it is not a person."""
    team = await _team(rt, owner)
    if team is not None:
        if await shared_now(rt, team):  # as when the channel refuses the bot: its owners and the admins, by DM
            await tell_admins_shared(rt, team)
            return sorted(set(await admitted_owners(rt, team)) | rt.admins), False
        return [team.channel_id], False
    people = await people_of(rt, owner)
    if people:
        return people, False
    return sorted(rt.admins), True


async def _note(rt: Runtime, paste: Paste, text: str) -> None:
    """An ephemeral note to the poster, in the thread they posted in."""
    try:
        await rt.slack.chat_postEphemeral(channel=paste.channel, user=paste.poster, thread_ts=paste.thread_ts,
                                          **text_message(text).kwargs())
    except SlackApiError as exc:
        log.warning("leak watch: could not tell %s: %s", paste.poster, slack_error(exc))


def _told_whom(rt: Runtime, delivered: list[str], to_admins: bool, *, team: bool) -> str | None:
    """Who has been told, as the poster reads it; None for nobody yet. True to what was delivered: a team
    channel that refused the bot means its owners and the admins heard by DM."""
    if not delivered:
        return None
    if to_admins:
        return "The platform admins have been told and can revoke it."
    if not team:
        return "Its owner has been told and can revoke it."
    if any(d.startswith(("C", "G")) for d in delivered):
        return "Its team has been told in its channel and can revoke it."
    owners = any(d not in rt.admins for d in delivered)
    admins = any(d in rt.admins for d in delivered)
    who = ("its owners and the platform admins have" if owners and admins else
           "its owners have" if owners else "the platform admins have")
    return f"Its team's channel does not take the bot's posts, so {who} been told by DM and can revoke it."


async def _tell_poster(rt: Runtime, paste: Paste, name: str, *, told: str | None, retrying: bool) -> None:
    if told is not None:
        status = told
    elif retrying:
        status = ("The bot could not tell its owner yet and will keep trying; until the key is revoked, anyone "
                  "who copied it can use it.")
    else:
        status = ("The bot could not tell its owner, so nobody has been asked to revoke it yet: please tell a "
                  "platform admin.")
    await _note(rt, paste, f":rotating_light: That message looks like it contains a live DataOS API key "
                f"(*{shown(name)}*). {status} Please delete the message: hover over it, open *More actions* (⋮) "
                "and choose *Delete message*. Share keys through a secret store, never in chat.")


# ---- the buttons -------------------------------------------------------------------------------


def _parse(body: dict[str, Any]) -> tuple[str, str, datetime | None] | None:
    try:
        data = json.loads(str((body.get("actions") or [{}])[0].get("value") or ""))
        owner, name, stamp = str(data["u"]), str(data["k"]), int(data["e"])
        expiration = datetime.fromtimestamp(stamp, UTC) if stamp > 0 else None
    except (ValueError, KeyError, TypeError, IndexError, AttributeError, OverflowError, OSError):
        return None  # not ours, or changed: a stamp out of any date's range included
    if not owner or not name:
        return None
    return owner, name, expiration


async def _team(rt: Runtime, owner: str) -> Team | None:
    """The team of DataOS user `owner`, unless that user is not an application user now (then its key is a
    person's, and the admins have been told)."""
    team = await rt.teams.team_of(owner)
    return team if team is not None and await team_kind_problem(rt, team) is None else None


async def _refusal(rt: Runtime, clicker: str, owner: str, action: str) -> str | None:
    """Why `clicker` may not use this button, or None: for a team's key the one owner check (platform admins
    may too); for anyone else's, the owner as mapped now (not as the button says) or an admin."""
    if await _team(rt, owner) is not None:
        acting = await act_as(rt, clicker, owner, f"leak {action}", admins_may=True)
        return f":no_entry: {acting}" if isinstance(acting, str) else None
    if clicker in rt.admins:
        return None
    identity = await rt.keys.identify(clicker)
    if not isinstance(identity, Denied) and identity.dataos_user_id == owner:
        return None
    return ":no_entry: Only the key's owner or a platform admin can do that. Nothing was changed."


async def _done(rt: Runtime, body: dict[str, Any], text: str) -> None:
    channel, ts = clicked_message(body)
    await update_message(rt.slack, channel, ts, text_message(text))


async def on_button(rt: Runtime, body: dict[str, Any], action: str) -> None:
    clicker = user_id(body)
    parsed = _parse(body)
    if parsed is None:
        await _done(rt, body, DAMAGED)
        return
    owner, name, expiration = parsed
    refused = await _refusal(rt, clicker, owner, "keep" if action == KEEP_ACTION else "revoke")
    if refused is not None:
        await _ephemeral(rt, body, refused)
        return
    real = await _real_name(rt, owner, name)
    shown_name = shown(real or name)
    if action == KEEP_ACTION:
        await rt.keys.trail.record(Audit(at=rt.clock(), actor_slack_id=clicker, action="leak keep", outcome="ok",
                                         dataos_user_id=owner, key_name=real or name))
        await _done(rt, body, f":ok_hand: <@{clicker}> chose to keep *{shown_name}*. It still works; anyone who "
                    "copied it from the channel can still use it.")
        return
    try:
        outcome = (await rt.keys.revoke_exact(owner, real or name, expiration, actor=clicker,
                                              detail="leak watch")).outcome
    except DataOSError as exc:
        await _ephemeral(rt, body, ":x: " + explain(exc, doing="revoking the key", key_name=real or name))
        return
    text = {"revoked": f":wastebasket: <@{clicker}> revoked *{shown_name}*. Anything still using it is now "
                       "refused by DataOS.",
            "gone": f"*{shown_name}* was already gone from DataOS; nothing was changed.",
            "changed": (f"*{shown_name}* now names a different key (the pasted one is gone); it was left alone."
                        if expiration is not None else
                        f"*{shown_name}* could not be matched to the pasted key exactly, so it was left alone. "
                        "Revoke it with `/apikey revoke` if it is the one.")}
    await _done(rt, body, text[outcome])


async def _real_name(rt: Runtime, owner: str, name: str) -> str | None:
    try:
        return await rt.keys.resolve(owner, name)
    except DataOSNotFound:
        return None
    except DataOSError:
        return None if name.startswith("#") else name


async def _ephemeral(rt: Runtime, body: dict[str, Any], text: str) -> None:
    await tell(rt.slack, clicked_message(body)[0], user_id(body), text)


def register(app: AsyncApp, rt: Runtime) -> None:
    @app.event("message")
    async def on_message_event(event: dict[str, Any]) -> None:
        async with rt.work():
            try:
                await on_message(rt, event)
            except Exception:
                log.exception("leak watch failed on a message")  # the text is not in this log line

    @app.action(REVOKE_ACTION)
    @tracked(rt, "action", "leak_revoke")
    async def on_revoke(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        await on_button(rt, body, REVOKE_ACTION)

    @app.action(KEEP_ACTION)
    @tracked(rt, "action", "leak_keep")
    async def on_keep(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        await on_button(rt, body, KEEP_ACTION)

    @app.action(RENEW_ACTION)
    @tracked(rt, "action", "leak_renew")
    async def on_renew(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        await renew_and_revoke(rt, body)


async def renew_and_revoke(rt: Runtime, body: dict[str, Any]) -> None:
    """The renew form, prefilled from the pasted key, with the old key revoked at once on submit. It opens
    at once in a loading state (a trigger lives 3 seconds): whose key it is, and whether the person may
    renew it, are found out after."""
    parsed = _parse(body)
    if parsed is None:
        await _done(rt, body, DAMAGED)
        return
    owner, name, expiration = parsed
    if expiration is None:
        await _ephemeral(rt, body, f"I could not tell exactly which key *{shown(name)}* was pasted, so I cannot "
                         "revoke it safely from here; nothing was changed. Make a new key with `/apikey create`, "
                         "then revoke the old one from `/apikey list`.")
        return
    try:
        view_id = await open_view(rt.slack, str(body.get("trigger_id") or ""),
                                  working_modal("Renew a key", "Checking which key this is…"))
    except SlackApiError as exc:
        await _ephemeral(rt, body, ":x: " + explain_slack(exc, doing="opening the renew form"))
        return
    if await _team(rt, owner) is not None:
        await renew_team_key(rt, body, view_id, owner, name, expiration)
        return
    policy = await person_form(rt, user_id(body), "personal")  # the key policy's validities for this person
    await update_view(rt.slack, view_id, renew_form(rt, body, KeyRef(name, expiration, None), revoke_old="now",
                                                    policy=policy))

"""Leak watch (LEAK_WATCH=true): a DataOS key pasted where others can read it is caught, and its owner
can revoke it in one click.

Every message in a channel the bot is in (new, edited, in threads) is scanned for key-shaped text in
memory (`bot.domain.leaks`); ordinary messages cost no call. Each candidate is confirmed with DataOS
`/authorize` (bounded in flight and per minute); only a live key counts. The owner gets a DM with
Revoke now, Renew and revoke, and I know, keep it; the poster an ephemeral note in the channel; the
audit log and channel one line. A key whose owner is not a mapped person goes to the admins. Message
text is never logged or stored, and a key is kept only as a keyed hash (to recognise a repeat).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import ActionsBlock, ButtonElement, ConfirmObject, ContextBlock, SectionBlock

from bot.app import Runtime
from bot.dataos import DataOSError, DataOSNotFound, Token
from bot.domain.keys import key_ref
from bot.domain.leaks import candidates, fingerprint, key_name_of
from bot.identity import Denied, slack_error
from bot.metrics import LEAKS
from bot.slack import blocks, tracked
from bot.slack.common import clicked_message, tell, update_message, user_id
from bot.store import Audit
from bot.text import shown

log = logging.getLogger(__name__)
REVOKE_ACTION = "leak_revoke"
RENEW_ACTION = "leak_renew"
KEEP_ACTION = "leak_keep"
#: The same key pasted again within this time updates the first DMs instead of sending new ones.
REPEAT_WITHIN = timedelta(days=1)
#: /authorize checks in flight at once.
IN_FLIGHT = 4
#: Messages the watch never reads: the bot's own, other bots', joins and deletions.
DAMAGED = f"{blocks.DAMAGED_BUTTON} Use `/apikey list` to manage your keys."
IGNORED_SUBTYPES = frozenset({"bot_message", "message_deleted", "channel_join", "channel_leave", "group_join",
                              "group_leave", "channel_topic", "channel_purpose", "channel_name", "pinned_item"})


class CheckGate:
    """At most `in_flight` /authorize checks at once and `per_minute` in any minute: a flood of pasted
    keys (or of key-shaped text) must not become a flood of DataOS calls."""

    def __init__(self, per_minute: int, in_flight: int = IN_FLIGHT, clock: Callable[[], float] = time.monotonic):
        self._per_minute = per_minute
        self._clock = clock
        self._recent: deque[float] = deque()
        self._slots = asyncio.Semaphore(in_flight)

    def admit(self) -> bool:
        now = self._clock()
        while self._recent and self._recent[0] <= now - 60:
            self._recent.popleft()
        if len(self._recent) >= self._per_minute:
            return False
        self._recent.append(now)
        return True

    @property
    def slots(self) -> asyncio.Semaphore:
        return self._slots


def message_of(event: dict[str, Any]) -> tuple[str, str, str] | None:
    """(text, author, ts) of a message event worth scanning, None for anything else."""
    subtype = event.get("subtype")
    if event.get("bot_id") or subtype in IGNORED_SUBTYPES:
        return None
    message = event.get("message") if subtype == "message_changed" else event
    if not isinstance(message, dict) or message.get("bot_id"):
        return None
    text, author, ts = message.get("text"), message.get("user"), message.get("ts")
    if not isinstance(text, str) or not isinstance(author, str) or not isinstance(ts, str):
        return None
    return text, author, ts


async def on_message(rt: Runtime, event: dict[str, Any]) -> None:
    if not rt.settings.leak_watch:
        return
    found = message_of(event)
    channel = event.get("channel")
    if found is None or not isinstance(channel, str):
        return
    text, author, ts = found
    if author == await rt.bot_user_id():
        return
    keys = candidates(text)
    del text  # the message itself goes no further than this function
    if not keys:
        return
    LEAKS.labels("candidate").inc(len(keys))
    await asyncio.gather(*(_check(rt, key, channel, author, ts) for key in keys))


async def _check(rt: Runtime, candidate: str, channel: str, poster: str, ts: str) -> None:
    if not rt.leak_gate.admit():
        LEAKS.labels("check skipped: rate limit").inc()
        log.warning("leak watch: more than %d key checks a minute; a candidate in %s was not checked",
                    rt.settings.leak_watch_checks_per_minute, channel)
        return
    async with rt.leak_gate.slots:
        try:
            owner = (await rt.dataos.authorize(candidate)).user_id
        except DataOSError as exc:
            LEAKS.labels("check failed").inc()
            log.warning("leak watch: DataOS could not check a candidate in %s: %s", channel, exc)
            return
    if owner is None:
        LEAKS.labels("not live").inc()  # key-shaped, but not a live key: nobody hears of it
        return
    name = key_name_of(candidate)
    try:
        token = next((t for t in await rt.dataos.list_tokens(owner)
                      if t.secret is not None and t.secret.get_secret_value() == candidate), None)
    except DataOSError:
        token = None
    now = rt.clock()
    fp = fingerprint(candidate, rt.leak_secret)
    del candidate
    seen = await rt.store.report_leak(fp, owner, name, channel, now, within=REPEAT_WITHIN)
    await rt.self_links.key_leaked(fp, actor=poster)  # a leaked key proves nobody: the links it made end
    await _tell_poster(rt, channel, poster, name)
    if seen is not None:
        LEAKS.labels("repeat").inc()
        note = (f":rotating_light: Posted again in <#{shown(channel, 32)}> by <@{shown(poster, 32)}> "
                f"({seen.times} times so far).")
        for where in seen.notified:
            dm_channel, _, dm_ts = where.partition(":")
            await _append(rt, dm_channel, dm_ts, note)
        await rt.keys.trail.record(Audit(at=now, actor_slack_id=poster, action="leak", outcome="repeat",
                                         dataos_user_id=owner, key_name=name, detail=f"channel {channel}"))
        return
    people, to_admins = await _recipients(rt, owner)
    link = await _permalink(rt, channel, ts)
    sent: list[str] = []
    for person in people:
        message = leak_message(name, owner, channel, poster, link, token, now, renew=not to_admins)
        try:
            response = await rt.slack.chat_postMessage(channel=person, **message.kwargs())
            sent.append(f"{response.get('channel')}:{response.get('ts')}")
        except SlackApiError as exc:
            log.warning("leak watch: could not DM %s: %s", person, slack_error(exc))
    await rt.store.leak_notified(fp, sent)
    LEAKS.labels("admins told" if to_admins else "owner told").inc()
    await rt.keys.trail.record(Audit(
        at=now, actor_slack_id=poster, action="leak", outcome="admins told" if to_admins else "owner told",
        dataos_user_id=owner, key_name=name, key_expiration=token.expiration if token else None,
        detail=f"channel {channel}; told {' '.join(people) or 'nobody'}"))


async def _recipients(rt: Runtime, owner: str) -> tuple[list[str], bool]:
    """The Slack people acting as DataOS user `owner`; the admins when there is none or it is not a person."""
    try:
        user = await rt.directory.get(owner)
        if user is None:
            user = await rt.dataos.get_user(owner)
    except DataOSError:
        user = None
    people: list[str] = []
    if user is not None and user.is_person:
        people = [slack_id for slack_id, _ in await rt.resolver.others_mapped(user, exclude="")]
    if people:
        return people, False
    return sorted(rt.admins), True


async def _tell_poster(rt: Runtime, channel: str, poster: str, name: str) -> None:
    await tell(rt.slack, channel, poster,
               f":rotating_light: That message looks like it contains a live DataOS API key (*{shown(name)}*). "
               "Its owner has been told and can revoke it. Please delete the message: hover over it, open "
               "*More actions* (⋮) and choose *Delete message*. Share keys through a secret store, never in chat.")


async def _permalink(rt: Runtime, channel: str, ts: str) -> str | None:
    try:
        response = await rt.slack.chat_getPermalink(channel=channel, message_ts=ts)
    except SlackApiError:
        return None
    link = response.get("permalink")
    return str(link) if isinstance(link, str) and link.startswith("https://") else None


async def _append(rt: Runtime, channel: str, ts: str, note: str) -> None:
    """Tell the recipient of a leak DM already sent, as a reply in its thread (its buttons stay)."""
    if not channel or not ts:
        return
    try:
        await rt.slack.chat_postMessage(channel=channel, thread_ts=ts, text=note)
    except SlackApiError as exc:
        log.warning("leak watch: could not update the DM %s/%s: %s", channel, ts, slack_error(exc))


def leak_value(owner: str, name: str, token: Token | None) -> str:
    expiration = int(token.expiration.timestamp()) if token else 0
    return json.dumps({"u": owner, "k": key_ref(name), "e": expiration}, separators=(",", ":"))


def leak_message(name: str, owner: str, channel: str, poster: str, link: str | None, token: Token | None,
                 now: datetime, *, renew: bool) -> blocks.Message:
    where = f"<#{shown(channel, 32)}>" + (f" (<{link}|the message>)" if link else "")
    expires = (f" It expires {blocks.slack_date(token.expiration)}." if token else "")
    whose = "Your DataOS API key" if renew else f"The DataOS API key of `{shown(owner)}`"
    text = (f":rotating_light: {whose} *{shown(name)}* was posted in {where} by <@{shown(poster, 32)}>, where "
            f"others can read it.{expires} Anyone who copied it can act as that DataOS user until it is revoked.")
    value = leak_value(owner, name, token)
    buttons = [ButtonElement(text="Revoke now", action_id=REVOKE_ACTION, value=value, style="danger",
                             confirm=ConfirmObject(title="Revoke this key?", text=f"*{shown(name, 80)}* stops "
                                                   "working at once, everywhere.", confirm="Revoke",
                                                   deny="Not yet", style="danger"))]
    if renew:
        buttons.append(ButtonElement(text="Renew and revoke", action_id=RENEW_ACTION, value=value, style="primary"))
    buttons.append(ButtonElement(text="I know, keep it", action_id=KEEP_ACTION, value=value))
    return blocks.Message(f"A DataOS API key ({shown(name)}) was posted where others can read it", [
        b.to_dict() for b in (
            SectionBlock(text=text),
            ActionsBlock(block_id=f"leak:{blocks.render_id()}", elements=buttons),
            ContextBlock(elements=[blocks.text_object("The key itself is not shown here or kept by the bot.")]),
        )])



# ---- the buttons -------------------------------------------------------------------------------


def _parse(body: dict[str, Any]) -> tuple[str, str, datetime | None] | None:
    try:
        data = json.loads(str((body.get("actions") or [{}])[0].get("value") or ""))
        owner, name, stamp = str(data["u"]), str(data["k"]), int(data["e"])
    except (ValueError, KeyError, TypeError):
        return None
    if not owner or not name:
        return None
    return owner, name, datetime.fromtimestamp(stamp, UTC) if stamp > 0 else None


async def _may_act(rt: Runtime, clicker: str, owner: str) -> bool:
    """The owner (as mapped now, not as the button says) or an admin."""
    if clicker in rt.admins:
        return True
    identity = await rt.keys.identify(clicker)
    return not isinstance(identity, Denied) and identity.dataos_user_id == owner


async def _done(rt: Runtime, body: dict[str, Any], text: str) -> None:
    channel, ts = clicked_message(body)
    await update_message(rt.slack, channel, ts, blocks.text_message(text))


async def on_button(rt: Runtime, body: dict[str, Any], action: str) -> None:
    clicker = user_id(body)
    parsed = _parse(body)
    if parsed is None:
        await _done(rt, body, DAMAGED)
        return
    owner, name, expiration = parsed
    if not await _may_act(rt, clicker, owner):
        await _ephemeral(rt, body, ":no_entry: Only the key's owner or a platform admin can do that. "
                         "Nothing was changed.")
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
        outcome = await rt.keys.revoke_exact(owner, real or name, expiration, actor=clicker,
                                             detail="leak watch")
    except DataOSError as exc:
        from bot.slack.errors import explain

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
    """The renew form, prefilled from the pasted key, with the old key revoked at once on submit."""
    from bot.slack.reminder_buttons import KeyRef, open_renew_form

    parsed = _parse(body)
    if parsed is None:
        await _done(rt, body, DAMAGED)
        return
    _owner, name, expiration = parsed
    await open_renew_form(rt, body, rt.slack, KeyRef(name, expiration or rt.clock(), None), revoke_old="now")

""""Was this you?" (issue #28): a key that a discovery finds and the bot did not make is told to whoever
answers for it. A person's key: a DM to them. An application user's key: its team channel (its owners
answer), or without a team the admins.

Whether the bot made a key is read from its own durable record, on whichever replica made it: the
idempotency claim of every create, and every rotation's row, name the key before DataOS makes it, and a
key the bot made is in the record with its creation time (`key_sightings.created_at`). They are read
again, fresh, for each key that looks new, after the listing that showed it: a create in flight on another
replica cannot be taken for a stranger's key.

An owner is watched from the first discovery that lists them with the notices on (`notice_owners`): the
keys they have then are the baseline (a row each, never told), so installing, upgrading or turning
NOTICE_NEW_KEYS back on brings no flood. Several new keys of one owner in one discovery are one message.
Each key's notice is claimed before its message is posted (replicas tell it once); a message Slack
refused for now is forgotten and told by the next discovery, one whose answer was lost is never posted
again. Notices nobody answered within NOTICE_ESCALATE_AFTER are one line each in the audit channel.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.dataos import DataOSError, Token
from bot.delivery import fate_of
from bot.domain.durations import parse_duration_hours
from bot.reminders.summary import SweepSummary
from bot.slack.blocks.notices import MAX_KEYS, escalation_line, notice_message
from bot.store import Audit, KeyId, ReminderState
from bot.store.notices import Notice

if TYPE_CHECKING:
    from bot.app import Runtime
    from bot.reminders.sweep import Sweeper

log = logging.getLogger(__name__)
ADMINS = "admins"
#: Application users no team owns have no reminders, so no record: every key of theirs is judged by its row.
_NO_RECORD = ReminderState({}, {}, set(), set(), set())


class NoticeWatch:
    """One discovery's notices: fed each owner's listing, then tells what is new (`finish`)."""

    def __init__(self, sweeper: Sweeper) -> None:
        self.sweeper = sweeper
        self.rt = sweeper.rt
        self.active = False
        self._watched: set[str] = set()
        self._known: set[KeyId] = set()
        self._to_watch: list[str] = []
        self._baseline: list[KeyId] = []
        self._candidates: list[Notice] = []
        self._listed: set[str] = set()

    async def begin(self, now: datetime) -> None:
        """At a discovery's start: the notices are on (the watched owners and the keys already judged are
        read), or they are off (and the owners' baseline is dropped, so that turning them on again starts
        from a new one)."""
        self.active = False
        if not self.rt.settings.notice_new_keys:
            if await self.rt.notices.unwatch_all():
                log.info("new-key notices are off (NOTICE_NEW_KEYS=false): the owners' baseline was dropped")
            return
        self._watched = set(await self.rt.notices.owners())
        self._known = await self.rt.notices.all_keys(now)
        self.active = True

    def saw(self, owner: str, tokens: list[Token], state: ReminderState, now: datetime, *, audience: str,
            app_user: bool = False) -> None:
        """One owner's complete listing in this discovery."""
        if not self.active or owner in self._listed:
            return
        self._listed.add(owner)
        live = [t for t in tokens if t.expiration > now]
        if owner not in self._watched:  # the first listing: what is there now is the baseline
            self._to_watch.append(owner)
            self._baseline += [(owner, t.name, t.expiration) for t in live]
            return
        for token in live:
            key: KeyId = (owner, token.name, token.expiration)
            if key in self._known:
                continue
            sighting = state.sightings.get(key)
            if sighting is not None and sighting.created_at is not None:
                continue  # the record says the bot made it
            first_seen = sighting.first_seen if sighting is not None else now
            self._candidates.append(Notice(owner, token.name, token.expiration, first_seen, audience, "",
                                           app_user=app_user))

    async def finish(self, now: datetime, teams: set[str], summary: SweepSummary) -> None:
        """After the listings: the application users no team owns, then tell what is new."""
        if not self.active:
            return
        await self._untied_apps(now, teams, summary)
        await self.rt.notices.settle(self._baseline, "baseline", now)
        await self.rt.notices.watch(self._to_watch, now)
        new = await self._not_the_bots(self._candidates, now)
        by_audience: dict[tuple[str, str], list[Notice]] = defaultdict(list)
        for notice in new:
            by_audience[notice.audience, notice.dataos_user_id].append(notice)
        for (audience, owner), notices in by_audience.items():
            notices.sort(key=lambda n: (n.expiration, n.key_name))
            for start in range(0, len(notices), MAX_KEYS):
                await self._tell(audience, owner, notices[start:start + MAX_KEYS], now, summary)

    async def _untied_apps(self, now: datetime, teams: set[str], summary: SweepSummary) -> None:
        """Application users no team owns are listed too, when there are admins to tell. Operators (the bot's
        own user among them) are left out: the bot's own key has its admins' reminders."""
        if not self.rt.admins:
            return
        for app in self.rt.directory.applications():
            if app.id in teams or app.is_operator or app.id in self._listed:
                continue
            try:
                tokens = await self.rt.dataos.list_tokens(app.id)
            except DataOSError as exc:
                summary.failures.append(f"{app.id}: listing keys for new-key notices failed ({exc})")
                continue
            self.saw(app.id, tokens, _NO_RECORD, now, audience=ADMINS, app_user=True)

    async def _not_the_bots(self, candidates: list[Notice], now: datetime) -> list[Notice]:
        """Drop the keys the bot made (its own record, read now: remembered as the bot's) and those told."""
        if not candidates:
            return []
        names = [(n.dataos_user_id, n.key_name) for n in candidates]
        made = await self.rt.idempotency.made_by_bot(names) | await self.rt.notices.rotated(names)
        told = await self.rt.notices.known([n.key for n in candidates])
        out, bots = [], []
        for notice in candidates:
            if notice.key in told:
                continue
            sighting = await self.rt.sightings.get_sighting(notice.key)
            if (notice.dataos_user_id, notice.key_name) in made or (sighting is not None and
                                                                    sighting.created_at is not None):
                bots.append(notice.key)
                continue
            out.append(notice)
        await self.rt.notices.settle(bots, "bot", now)
        return out

    async def _tell(self, audience: str, owner: str, notices: list[Notice], now: datetime,
                    summary: SweepSummary) -> None:
        group = uuid.uuid4().hex
        claimed = await self.rt.notices.claim([_in_group(n, group) for n in notices],
                                              worker=self.sweeper.worker, now=now)
        if not claimed:
            return
        message = notice_message(claimed, now)
        recipients = sorted(self.rt.admins) if audience == ADMINS else [audience.split(":", 1)[1]]
        places: list[tuple[str, str]] = []
        fates: list[str] = []
        for recipient in recipients:
            try:
                answer = await self.rt.slack.chat_postMessage(channel=recipient, unfurl_links=False,
                                                              **message.kwargs())
            except Exception as exc:
                fate, code = fate_of(exc)
                fates.append(fate)
                log.warning("could not tell %s about new keys of %s: %s", recipient, owner, code)
                continue
            places.append((str(answer["channel"]), str(answer["ts"])))
        if places:
            await self.rt.notices.posted(group, "sent", places)
            summary.notices += len(claimed)
        elif "unknown" in fates:
            await self.rt.notices.posted(group, "unknown", [])
        elif fates and all(f == "undeliverable" for f in fates):
            await self.rt.notices.posted(group, "undeliverable", [])
        else:  # refused for now (or nobody to tell): the next discovery tells it again
            await self.rt.notices.release(group)


def _in_group(notice: Notice, group: str) -> Notice:
    return Notice(notice.dataos_user_id, notice.key_name, notice.expiration, notice.first_seen, notice.audience,
                  group, notice.app_user)


async def escalate(rt: Runtime) -> int:
    """Notices nobody answered within NOTICE_ESCALATE_AFTER: one line each in the audit channel, once."""
    if not rt.settings.notice_new_keys:
        return 0
    now = rt.clock()
    after = timedelta(hours=parse_duration_hours(rt.settings.notice_escalate_after))
    told = 0
    for notice in await rt.notices.unanswered(told_before=now - after):
        if not await rt.notices.escalate(notice.key, now=now):
            continue
        await rt.keys.trail.record(Audit(at=now, actor_slack_id=_told(notice), action="notice unanswered",
                                         outcome="escalated", dataos_user_id=notice.dataos_user_id[:255],
                                         key_name=notice.key_name, key_expiration=notice.expiration,
                                         detail=f"told {notice.audience} {notice.claimed_at:%Y-%m-%d %H:%M} UTC"))
        rt.keys.trail.say(escalation_line(notice, after))
        told += 1
    return told


def _told(notice: Notice) -> str:
    """Who was told, as the audit trail's actor (a Slack user, or the bot's own name for a channel)."""
    return notice.audience.split(":", 1)[1][:32] if notice.audience.startswith("owner:") else "apikey-bot"

""""Was this you?" (issue #28): a key that a discovery finds and the bot did not make is told to whoever
answers for it. A person's key: a DM to them. An application user's key: its team channel (its owners
answer), or without a team the admins.

Whether the bot made a key is read from its own durable record, on whichever replica made it: the
idempotency claim of every create names the key before DataOS makes it, and a key the bot made is in the
record with its creation time (`key_sightings.created_at`). Both are read again, fresh, for each key
that looks new, after the listing that showed it: a create in flight on another replica cannot be taken
for a stranger's key.

An owner is watched from the first discovery that lists them with the notices on (`notice_owners`): the
keys they have then are the baseline and are never news, so installing, upgrading or turning
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
from bot.store import Audit, ReminderState, Sighting
from bot.store.notices import Notice

if TYPE_CHECKING:
    from bot.app import Runtime
    from bot.reminders.sweep import Sweeper

log = logging.getLogger(__name__)
ADMINS = "admins"


class NoticeWatch:
    """One discovery's notices: fed each owner's listing, then tells what is new (`finish`)."""

    def __init__(self, sweeper: Sweeper) -> None:
        self.sweeper = sweeper
        self.rt = sweeper.rt
        self.active = False
        self._since: dict[str, datetime] = {}
        self._to_watch: list[str] = []
        self._candidates: list[Notice] = []
        self._listed: set[str] = set()

    async def begin(self) -> None:
        """At a discovery's start: the notices are on (and the watched owners are read), or they are off
        (and the baseline is dropped, so that turning them on again starts from a new one)."""
        self.active = False
        if not self.rt.settings.notice_new_keys:
            if await self.rt.notices.unwatch_all():
                log.info("new-key notices are off (NOTICE_NEW_KEYS=false): the owners' baseline was dropped")
            return
        self._since = await self.rt.notices.owners()
        self.active = True

    def saw(self, owner: str, tokens: list[Token], state: ReminderState, now: datetime, *, audience: str,
            app_user: bool = False) -> None:
        """One owner's complete listing in this discovery (before the pass records new sightings)."""
        if not self.active or owner in self._listed:
            return
        self._listed.add(owner)
        since = self._since.get(owner)
        if since is None:
            self._to_watch.append(owner)  # the first listing: what is there now is the baseline
            return
        for token in tokens:
            if token.expiration <= now:
                continue
            sighting = state.sightings.get((owner, token.name, token.expiration))
            if sighting is not None and (sighting.created_at is not None or sighting.first_seen <= since):
                continue  # made by the bot, or there before the owner was watched
            first_seen = sighting.first_seen if sighting is not None else now
            self._candidates.append(Notice(owner, token.name, token.expiration, first_seen, audience, "",
                                           app_user=app_user))

    async def finish(self, now: datetime, teams: set[str], state: ReminderState, summary: SweepSummary) -> None:
        """After the listings: the application users no team owns, then tell what is new."""
        if not self.active:
            return
        await self._untied_apps(now, teams, state, summary)
        await self.rt.notices.watch(self._to_watch, now)
        new = await self._not_the_bots(self._candidates)
        by_audience: dict[tuple[str, str], list[Notice]] = defaultdict(list)
        for notice in new:
            by_audience[notice.audience, notice.dataos_user_id].append(notice)
        for (audience, owner), notices in by_audience.items():
            notices.sort(key=lambda n: (n.expiration, n.key_name))
            for start in range(0, len(notices), MAX_KEYS):
                await self._tell(audience, owner, notices[start:start + MAX_KEYS], now, summary)

    async def _untied_apps(self, now: datetime, teams: set[str], state: ReminderState,
                           summary: SweepSummary) -> None:
        """Application users no team owns are listed too (their new keys go to the admins); their keys go into
        the record, which is what tells the next discovery which of them are new."""
        operator = await self.rt.keys.operator_user_id()
        for app in self.rt.directory.applications():
            if app.id in teams or app.id == operator or app.id in self._listed:
                continue
            try:
                tokens = await self.rt.dataos.list_tokens(app.id)
            except DataOSError as exc:
                summary.failures.append(f"{app.id}: listing keys for new-key notices failed ({exc})")
                continue
            self.saw(app.id, tokens, state, now, audience=ADMINS, app_user=True)
            fresh = [Sighting(app.id, t.name, t.expiration, first_seen=now, preexisting=True) for t in tokens
                     if t.expiration > now and (app.id, t.name, t.expiration) not in state.sightings]
            await self.rt.sightings.save_sightings(fresh)

    async def _not_the_bots(self, candidates: list[Notice]) -> list[Notice]:
        """Drop the keys the bot made (its own record, read now) and those already told."""
        if not candidates:
            return []
        made = await self.rt.idempotency.made_by_bot([(n.dataos_user_id, n.key_name) for n in candidates])
        told = await self.rt.notices.known([n.key for n in candidates])
        out = []
        for notice in candidates:
            if (notice.dataos_user_id, notice.key_name) in made or notice.key in told:
                continue
            sighting = await self.rt.sightings.get_sighting(notice.key)
            if sighting is not None and sighting.created_at is not None:
                continue
            out.append(notice)
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

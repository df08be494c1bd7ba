"""Team reminders: the keys of application users a team owns are reminded in the team's channel, and
admins get one digest a day of the application keys no team owns.

The same ladder and half-lifetime rule as personal keys (`bot.domain.reminders`), the same ledger and
claims (`claim_reminders`), so two replicas post a channel reminder once: the step is recorded as
`team:<step>` with the channel as its recipient. When Slack refuses the channel for good (archived, the
bot removed, not found, or `restricted_action`: a workspace preference stops the bot posting there) the
step goes to each admitted owner by DM instead (each claimed on its own, `team:<step>:dm:<owner>`); an
owner Slack could not look up at that moment, or whose DM Slack refused for now, is tried again by later
passes. The admins are told once each time the channel becomes unreachable (a mark in `sweep_marks`,
cleared by the next post the channel takes). A channel another organisation can read (Slack Connect) is
never posted to: its steps go to the owners the same way, and the admins hear once per channel. A team
whose DataOS user is not an application user now gets nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bot.dataos import DataOSError, Token
from bot.delivery import CHANNEL_UNREACHABLE, fate_of, retry_after
from bot.domain.reminders import KeyFacts, due_step, may_send_now, zone_for
from bot.identity import SlackProfile
from bot.reminders.outbox import CLAIM_LEASE
from bot.reminders.summary import SweepSummary
from bot.slack.blocks.common import Message
from bot.slack.blocks.team_reminders import (
    UnownedKey,
    channel_unreachable_message,
    team_reminder_message,
    unowned_digest_message,
)
from bot.slack.common import active_admins
from bot.slack.owners import team_kind_problem
from bot.slack.teams.channel import shared_now, tell_admins_shared
from bot.store import KeyId, Outcome, ReminderState, Sighting
from bot.store.rotations import Target
from bot.store.teams import Team

if TYPE_CHECKING:
    from bot.reminders.sweep import Sweeper  # (which imports this module)

log = logging.getLogger(__name__)
STEP_PREFIX = "team:"
#: Slack's answers that mean the channel itself cannot take the reminder (`restricted_action` included).
CHANNEL_GONE = CHANNEL_UNREACHABLE
#: Not Slack's: the channel is shared with another organisation, so the bot does not post there.
SHARED = "shared_outside"
DIGEST_HORIZON = timedelta(days=7)
DIGEST_MARK = "unowned-digest"
GONE_MARK = "team-channel-gone"
#: A mark claimed once and never due again ("older than" a moment before anything was ever stored).
_NEVER = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class _Due:
    team: Team
    token: Token
    key: KeyId
    step: str
    lifetime: timedelta | None
    #: When the key rotates itself into the store (its team's rotation is on and watches this key).
    rotates_on: datetime | None = None


class TeamReminders:
    def __init__(self, sweeper: Sweeper) -> None:
        self.sweeper = sweeper
        self.rt = sweeper.rt
        self.owned: set[str] = set()  # the application users that have a team, once `run` has read them

    async def run(self, now: datetime, state: ReminderState, members: dict[str, SlackProfile],
                  summary: SweepSummary) -> None:
        """Each owned application user's keys are listed (teams are few), decided, claimed and posted."""
        try:
            teams = await self.rt.teams.all()
        except Exception as exc:  # the database: the personal reminders of this pass are out already
            summary.failures.append(f"teams could not be read ({type(exc).__name__}); team reminders wait")
            return
        self.owned = {t.app_user_id for t in teams}
        for team in teams:
            if await team_kind_problem(self.rt, team) is not None:  # no longer (or not now) an application user
                summary.skipped["team of a user that is not an application user now"] += 1
                continue
            try:
                tokens = await self.rt.dataos.list_tokens(team.app_user_id)
            except DataOSError as exc:
                summary.failures.append(f"{team.app_user_id}: listing the team's keys failed ({exc})")
                continue
            summary.users_checked += 1
            self.sweeper.notices.saw(team.app_user_id, tokens, state, now, audience=f"team:{team.channel_id}",
                                     app_user=True)
            try:
                for due in await self._decide(team, tokens, state, members, now, summary):
                    await self._post(due, now, summary)
                await self._retry_owner_dms(team, tokens, state, now, summary)
            except Exception as exc:  # one team's problem must not stop the others'
                log.exception("team reminders failed for %s", team.app_user_id)
                summary.failures.append(f"{team.app_user_id}: {type(exc).__name__}")
        await self._digest(now, {t.app_user_id for t in teams}, summary)

    async def _decide(self, team: Team, tokens: list[Token], state: ReminderState,
                      members: dict[str, SlackProfile], now: datetime, summary: SweepSummary) -> list[_Due]:
        uid = team.app_user_id
        first_sweep = uid not in state.swept
        new: list[Sighting] = []
        out: list[_Due] = []
        # The channel is read across zones: its reminders keep to the first owner's working time (UTC if
        # Slack does not know it), so a 3 a.m. mention never wakes them for a key that can wait.
        # Without a store (no VAULT_ADDR) a stored rotation never runs: the reminder asks for a renew.
        rotation = await self.rt.rotations.target(uid) if self.rt.vault is not None else None
        rotating = await self.rt.rotations.active(uid)  # its old key is revoked after the grace: no reminder
        owner = members.get(team.owner_users[0]) if team.owner_users else None
        zone = zone_for(owner.tz if owner else None, owner.tz_offset if owner else 0)
        for token in tokens:
            if token.expiration <= now:
                continue
            summary.keys_seen += 1
            if rotating is not None and rotating.old_name == token.name and rotating.step in ("grace", "announce"):
                summary.skipped["being rotated"] += 1
                continue
            key: KeyId = (uid, token.name, token.expiration)
            sighting = state.sightings.get(key)
            if sighting is None:
                sighting = Sighting(uid, token.name, token.expiration, first_seen=now, preexisting=first_sweep)
                new.append(sighting)
                state.sightings[key] = sighting
            lifetime = _lifetime(sighting)
            facts = KeyFacts(token.expiration, lifetime, sighting.muted, sighting.snoozed_until)
            sent = {s[len(STEP_PREFIX):] for s in state.sent.get(key, ()) if s.startswith(STEP_PREFIX)}
            step = due_step(facts, now, self.sweeper.ladder, {s for s in sent if ":" not in s})
            if step is None:
                summary.skipped["muted" if sighting.muted else "not due"] += 1
                continue
            if not may_send_now(now, zone, self.sweeper.working, token.expiration):
                summary.skipped["outside working hours"] += 1
                continue
            out.append(_Due(team, token, key, step, lifetime, _rotates_on(rotation, token)))
        if new:
            await self.rt.sightings.save_sweep_progress(new, [uid] if first_sweep else [], now)
            if first_sweep:
                state.swept.add(uid)
        return out

    def _message(self, due: _Due, now: datetime) -> Message:
        hours = int(due.lifetime.total_seconds() // 3600) if due.lifetime else None
        snooze = self.sweeper.snooze_words if due.token.expiration - now > self.sweeper.snooze else None
        return team_reminder_message(due.team.app_user_id, due.token.name, due.token.expiration, now, due.step,
                                     owners=self.rt.teams.describe(due.team), lifetime_hours=hours,
                                     snooze_words=snooze, rotates_on=due.rotates_on)

    async def _post(self, due: _Due, now: datetime, summary: SweepSummary) -> None:
        step = STEP_PREFIX + due.step
        message = self._message(due, now)
        # A channel another organisation can read (Slack Connect) gets no team posts: its owners do, by DM.
        shared = await shared_now(self.rt, due.team)
        code = SHARED if shared else await self._claim_and_send(due.key, step, due.team.channel_id, message, summary)
        if code not in CHANNEL_GONE and not shared:
            return
        # The channel cannot take it: each owner gets it by DM (each claimed on its own), admins hear once.
        for owner in await self.rt.teams.owners_of(due.team):
            await self._to_owner(due.key, f"{step}:dm:{owner}", owner, message, summary)
        if shared:
            await tell_admins_shared(self.rt, due.team)
        elif code is not None:
            await self._tell_admins(due.team, code, now)

    async def _to_owner(self, key: KeyId, step: str, owner: str, message: Message, summary: SweepSummary) -> None:
        denied = await self.rt.resolver.admission(owner, allow_guests=False)
        if denied is None:
            await self._claim_and_send(key, step, owner, message, summary)
        elif denied.reason == "unavailable":  # Slack could not say who they are just now: a later pass asks again
            await self._defer(key, step, owner, summary)
        # (a guest, an outsider, a deactivated account or a bot in an owning group: not told)

    async def _defer(self, key: KeyId, step: str, owner: str, summary: SweepSummary) -> None:
        """Put an owner's DM on record as refused for now, to be claimed again after the usual back-off."""
        claimed = await self.rt.ledger.claim_reminders([(key, step, owner)], now=self.rt.clock(),
                                                      worker=self.sweeper.worker, lease=CLAIM_LEASE)
        if (key, step) not in claimed:
            return
        summary.failures.append(f"{key[0]}/{key[1]}: Slack could not look up owner {owner}; tried again later")
        self.rt.outcomes.add([Outcome(key, step, "failed", error="lookup_failed",
                                      retry_at=retry_after(claimed[key, step], self.rt.clock()))])
        await self.rt.outcomes.flush(self.rt.ledger)

    async def _retry_owner_dms(self, team: Team, tokens: list[Token], state: ReminderState, now: datetime,
                               summary: SweepSummary) -> None:
        """Owner DMs of a channel-refused step that could not go out yet: tried again once their back-off
        has passed, while the key is the one listed now."""
        listed = {(t.name, t.expiration): t for t in tokens}
        for key, step, owner in await self.rt.ledger.retryable(team.app_user_id, f"{STEP_PREFIX}%:dm:%", now):
            token = listed.get((key[1], key[2]))
            sighting = state.sightings.get(key)
            base = step[len(STEP_PREFIX):].split(":dm:", 1)[0]
            if token is None or sighting is None or not owner:
                continue
            due = _Due(team, token, key, base, _lifetime(sighting))
            await self._to_owner(key, step, owner, self._message(due, now), summary)

    async def _claim_and_send(self, key: KeyId, step: str, to: str, message: Message,
                              summary: SweepSummary) -> str | None:
        """Claim (key, step) for `to` in the ledger and post once; the outcome is recorded on its own.
        Returns Slack's error code when it refused for good, else None."""
        if self.rt.slack_stopped is not None:  # Slack refuses the token: nothing is claimed in vain
            return None
        book = self.rt.outcomes
        claimed = await self.rt.ledger.claim_reminders([(key, step, to)], now=self.rt.clock(),
                                                      worker=self.sweeper.worker, lease=CLAIM_LEASE)
        if (key, step) not in claimed:
            summary.skipped["claimed by another sweep"] += 1
            return None
        try:
            response = await self.rt.slack.chat_postMessage(channel=to, **message.kwargs())
        except BaseException as exc:  # a shutdown too: what Slack may have is recorded, never posted twice
            fate, code = fate_of(exc)
            if fate == "undeliverable":
                summary.undeliverable[code] += 1
                book.add([Outcome(key, step, "undeliverable", error=code, at=self.rt.clock())])
            elif fate == "unknown":
                summary.unknown += 1
                book.add([Outcome(key, step, "unknown", error=code, at=self.rt.clock())])
            else:
                if fate == "token":
                    self.rt.stop_slack(f"{code} on chat.postMessage", code)
                summary.failures.append(f"{key[0]}/{key[1]}: Slack refused the team reminder ({code})")
                book.add([Outcome(key, step, "failed", error=code,
                                  retry_at=retry_after(claimed[key, step], self.rt.clock()))])
            await book.flush(self.rt.ledger)
            if not isinstance(exc, Exception):
                raise
            return code if fate == "undeliverable" else None
        book.add([Outcome(key, step, "sent", str(response.get("channel")), str(response.get("ts")),
                          at=self.rt.clock())])
        summary.team_sent += 1
        if not await book.flush(self.rt.ledger):
            summary.failures.append("a team reminder's outcome could not be recorded yet; it is kept")
        if not to.startswith(("U", "W")):
            await self._reachable(to)
        return None

    async def _reachable(self, channel: str) -> None:
        """The channel took a post: when it becomes unreachable again, the admins are told again."""
        try:
            await self.rt.marks.clear_mark(f"{GONE_MARK}:{channel}")
        except Exception as exc:  # at worst the admins are not told of the next outage; said in the log
            log.warning("could not note that team channel %s is reachable again: %s", channel, type(exc).__name__)

    async def _tell_admins(self, team: Team, code: str, now: datetime) -> None:
        """Once per outage of a channel (across passes and replicas): the mark is claimed before the DMs go
        out, and cleared when the channel takes a post again (`_reachable`)."""
        mark = f"{GONE_MARK}:{team.channel_id}"
        if await self.rt.marks.claim_mark(mark, now=now, older_than=_NEVER) is None:
            return
        message = channel_unreachable_message(team.app_user_id, team.channel_id, code)
        for admin in await active_admins(self.rt.profiles, self.rt.admins):
            await self._dm(admin, message)

    async def _digest(self, now: datetime, owned: set[str], summary: SweepSummary) -> None:
        """One message per admin per day: application keys that no team owns, expiring within 7 days."""
        if not self.rt.admins:
            return
        day = now.date().isoformat()
        if await self.rt.marks.get_mark(f"{DIGEST_MARK}:{day}") is not None:
            return  # cheap: no DataOS call on the day's later passes
        # The bot's own key has its admins' reminders already (`bot.reminders.bot_key`).
        operator = await self.rt.keys.operator_user_id()
        apps = [u for u in self.rt.directory.applications() if u.id not in owned and u.id != operator]
        keys: list[UnownedKey] = []
        for app in apps:
            try:
                tokens = await self.rt.dataos.list_tokens(app.id)
            except DataOSError as exc:
                summary.failures.append(f"{app.id}: listing keys for the admins' digest failed ({exc})")
                return  # incomplete: tried again next pass, not sent half-known
            keys += [UnownedKey(app.id, t.name, t.expiration) for t in tokens
                     if now < t.expiration <= now + DIGEST_HORIZON]
        if await self.rt.marks.claim_mark(f"{DIGEST_MARK}:{day}", now=now, older_than=_NEVER) is None:
            return  # another replica has it
        if not keys:
            return
        message = unowned_digest_message(sorted(keys, key=lambda k: (k.expiration, k.app_user_id, k.name)), now)
        for admin in sorted(self.rt.admins):
            if await self._dm(admin, message):
                summary.digests += 1

    async def _dm(self, slack_user_id: str, message: Message) -> bool:
        try:
            await self.rt.slack.chat_postMessage(channel=slack_user_id, **message.kwargs())
            return True
        except Exception as exc:
            log.warning("could not tell admin %s about team keys: %s", slack_user_id, fate_of(exc)[1])
            return False


def _rotates_on(rotation: Target | None, token: Token) -> datetime | None:
    """When `token` rotates itself, if its team's rotation is on (not failed: then the reminder asks for a
    renew, as usual) and it is the key the rotation watches, or newer."""
    if rotation is None or rotation.state != "on" or rotation.next_at is None:
        return None
    if rotation.key_name is not None and rotation.key_name != token.name:
        return None
    return rotation.next_at


def _lifetime(sighting: Sighting) -> timedelta | None:
    if sighting.created_at is not None:
        return sighting.expiration - sighting.created_at
    if sighting.preexisting:
        return None
    return sighting.expiration - sighting.first_seen

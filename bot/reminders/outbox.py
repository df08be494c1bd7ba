"""A reminder pass's DMs: claimed in the database in batches before they are posted, posted with
bounded concurrency, and each one's outcome recorded once, durably (through `rt.outcomes`, kept and
written later when the database is away), so no reminder is sent twice whatever replicas run."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from slack_sdk.errors import SlackApiError

from bot.delivery import fate_of, retry_after
from bot.identity import slack_error
from bot.reminders.summary import SlackStopped, SweepSummary
from bot.slack.blocks.common import Message
from bot.store import KeyId, Outcome

if TYPE_CHECKING:
    from bot.app import Runtime

log = logging.getLogger(__name__)
#: A claim not confirmed as sent within this time is taken over by a later sweep.
CLAIM_LEASE = timedelta(minutes=10)
#: Reminders claimed, sent and recorded together (two commits per batch instead of two per DM).
SEND_BATCH = 50


@dataclass(frozen=True, slots=True)
class Outgoing:
    key: KeyId
    step: str
    slack_user_id: str
    message: Message
    now: datetime


@dataclass
class Held:
    """The claims a batch holds, and when they were last stamped."""

    since: datetime
    mine: set[tuple[KeyId, str]]


class Outbox:
    """Sends what a pass's listers decided; one per pass, like the sweeper that owns it."""

    def __init__(self, rt: Runtime, worker: str) -> None:
        self.rt = rt
        self.worker = worker
        self._renewing = asyncio.Lock()
        self._token_checked: bool | None = None  # auth.test's word on the token, asked once per pass

    async def run(self, outbox: asyncio.Queue[Outgoing | None], summary: SweepSummary, parallel: int) -> None:
        """Send in batches: claim a batch in one transaction, post its DMs (`parallel` at a time), record
        the outcomes in one transaction."""
        done = False
        while not done:
            batch: list[Outgoing] = []
            item = await outbox.get()
            while item is not None:
                batch.append(item)
                if len(batch) >= SEND_BATCH or outbox.empty():
                    break
                item = outbox.get_nowait()
            done = item is None
            if batch:
                try:
                    await self.send_batch(batch, summary, parallel)
                except SlackStopped:
                    raise
                except Exception as exc:  # as in the sweep's listers: one failed batch must not stop the others
                    log.warning("could not claim %d reminders (%s); the next pass tries again", len(batch),
                                type(exc).__name__)
                    summary.failures += [f"{i.key[0]}/{i.key[1]}: not claimed ({type(exc).__name__}); "
                                         "the next pass tries again" for i in batch]

    async def send(self, key: KeyId, step: str, slack_user_id: str, message: Message, now: datetime,
                    summary: SweepSummary) -> None:
        await self.send_batch([Outgoing(key, step, slack_user_id, message, now)], summary, 1)

    async def send_batch(self, batch: list[Outgoing], summary: SweepSummary, parallel: int) -> None:
        """Claim a batch (stamped with the time of the claim), post each DM, and record each DM's own
        outcome as it comes (several in one write when they come together), through a database blip,
        and kept for later if it lasts."""
        if not await self.rt.outcomes.flush(self.rt.ledger):
            raise RuntimeError("earlier outcomes not recorded")
        claimed_at = self.rt.clock()
        claimed = await self.rt.ledger.claim_reminders([(i.key, i.step, i.slack_user_id) for i in batch],
                                                      now=claimed_at, worker=self.worker, lease=CLAIM_LEASE)
        mine = [i for i in batch if (i.key, i.step) in claimed]
        if len(mine) < len(batch):
            summary.skipped["claimed by another sweep"] += len(batch) - len(mine)
        gate = asyncio.Semaphore(parallel)
        book = self.rt.outcomes
        held = Held(claimed_at, {(i.key, i.step) for i in mine})

        async def post(item: Outgoing) -> None:
            attempted = False
            try:
                async with gate:
                    if not await self._still_held(item, held):
                        return
                    attempted = True
                    # Rate limits (429) are waited out by the client's retry handler; a 429 means "not posted".
                    response = await self.rt.slack.chat_postMessage(channel=item.slack_user_id,
                                                                    **item.message.kwargs())
            except BaseException as exc:
                if not attempted:  # never went out: free at once for the next pass
                    book.add([Outcome(item.key, item.step, "failed", error="not_attempted")])
                else:
                    book.add([await self._refused(item, exc, claimed[item.key, item.step], summary)])
                if not isinstance(exc, Exception):
                    raise  # cancelled (a shutdown): recorded below, and the cancellation goes on
            else:
                book.add([Outcome(item.key, item.step, "sent", str(response.get("channel")), str(response.get("ts")),
                                  at=self.rt.clock())])
                summary.sent += 1
            # On record within moments, not when the whole batch is done: a write under way (or the
            # batch's last one) takes this outcome along with the others that came meanwhile.
            if not book.busy:
                await book.flush(self.rt.ledger, attempts=1)

        try:
            await asyncio.gather(*(post(item) for item in mine))
        finally:
            # What Slack has is recorded even if this pass is being cancelled (a shutdown), or a later pass
            # would send it again once the claims' lease ran out.
            if not await book.flush(self.rt.ledger):
                summary.failures.append(f"{len(book.pending)} reminder outcome(s) could not be "
                                        "recorded yet (database unavailable); they are kept and written first "
                                        "by the next pass or at exit")
        if self.rt.slack_stopped is not None:
            raise SlackStopped(f"Slack refuses the bot's token ({self.rt.slack_stopped}); the pass stopped")

    async def _still_held(self, item: Outgoing, held: Held) -> bool:
        """True to post `item` now: Slack takes the token, and the claim is still this pass's (a batch held
        up past half its lease, e.g. by Slack's rate limits, renews its claims before going on)."""
        if self.rt.slack_stopped is not None:
            return False
        async with self._renewing:
            if self.rt.clock() - held.since > CLAIM_LEASE / 2:
                now = self.rt.clock()
                held.mine = await self.rt.ledger.renew_claims(sorted(held.mine), now=now, worker=self.worker)
                held.since = now
        return (item.key, item.step) in held.mine

    async def _refused(self, item: Outgoing, exc: BaseException, attempts: int, summary: SweepSummary) -> Outcome:
        """The outcome of a chat.postMessage that raised: refused for now, for good, unknown, or the token."""
        fate, code = fate_of(exc)
        if fate == "token" and code == "account_inactive" and await self._token_alive():
            fate = "undeliverable"  # the recipient's account, not the bot's
        who = f"{item.key[0]}/{item.key[1]}"
        if fate == "token":
            self.rt.stop_slack(f"{code} on chat.postMessage", code)
            summary.failures.append(f"Slack refused the bot's token ({code}); the pass stopped")
            return Outcome(item.key, item.step, "failed", error=code)
        if fate == "undeliverable":
            summary.undeliverable[code] += 1
            log.info("reminder %s step %s is undeliverable (%s); the next step tries again", who, item.step, code)
            return Outcome(item.key, item.step, "undeliverable", error=code, at=self.rt.clock())
        if fate == "unknown":
            summary.unknown += 1
            log.warning("reminder %s step %s: Slack's answer was lost (%s); recorded as unknown, not sent again",
                        who, item.step, code)
            return Outcome(item.key, item.step, "unknown", error=code, at=self.rt.clock())
        why = slack_error(exc) if isinstance(exc, SlackApiError) else code
        summary.failures.append(f"{who}: Slack refused the DM ({why}); tried again later")
        return Outcome(item.key, item.step, "failed", error=code, retry_at=retry_after(attempts, self.rt.clock()))

    async def _token_alive(self) -> bool:
        """auth.test's word: is the bot's token still taken? (`account_inactive` names either side.)"""
        if self._token_checked is None:
            try:
                await self.rt.slack.auth_test()
                self._token_checked = True
            except SlackApiError as exc:
                self._token_checked = fate_of(exc)[0] != "token"
            except Exception:
                self._token_checked = True  # cannot tell: treat as the recipient's, which stops nothing
        return self._token_checked

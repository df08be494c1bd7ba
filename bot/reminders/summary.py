"""What a reminder pass reports (`apikey-bot sweep`, `/apikey-admin sweep`, the scheduler's log), and how
it fails."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from bot.delivery import (
    SweepFailed as SweepFailed,  # defined below the Slack layer, where the admin listener catches it
)


class SlackStopped(Exception):
    """Slack refuses the bot's token: no DM can be sent, so the pass stops at once."""


@dataclass
class SweepSummary:
    kind: str = "tick"
    due_owners: int = 0
    users_checked: int = 0
    keys_seen: int = 0
    sent: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    revoked_later: int = 0
    seconds: float = 0.0
    #: Steps Slack refused for good, by Slack's reason: not tried again (the next step is).
    undeliverable: Counter[str] = field(default_factory=Counter)
    #: DMs Slack may or may not have taken (the answer was lost): recorded, never sent again.
    unknown: int = 0
    #: Team reminders (in team channels, or to owners by DM when the channel is gone) and admins' digests.
    team_sent: int = 0
    digests: int = 0
    #: Keys the bot did not make, told to whoever answers for them ("Was this you?").
    notices: int = 0
    #: A discovery over its share of DISCOVERY_LISTINGS_PER_DAY: people whose listing waits for the next one
    #: (those with a reminder due were checked as a tick checks them).
    deferred: int = 0
    #: What the rotation pass run by this sweep did (`bot.rotation.engine.RotationSummary.lines`).
    rotation: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [
            f"kind: {self.kind}" + (f" ({self.due_owners} owners with a key due)" if self.kind == "tick" else ""),
            f"users checked: {self.users_checked}",
        ]
        if self.deferred:
            out.append(f"listings left to the next discoveries (DISCOVERY_LISTINGS_PER_DAY): {self.deferred}")
        out += [
            f"keys seen: {self.keys_seen}",
            f"reminders sent: {self.sent}",
        ]
        if self.team_sent:
            out.append(f"team reminders posted: {self.team_sent}")
        if self.notices:
            out.append(f"new keys the bot did not make, told to their owners: {self.notices}")
        if self.digests:
            out.append(f"digests of keys no team owns sent to admins: {self.digests}")
        if self.skipped:
            out.append("skipped: " + ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items())))
        else:
            out.append("skipped: none")
        if self.undeliverable:
            out.append(f"undeliverable (not tried again before the next step): {sum(self.undeliverable.values())} ("
                       + ", ".join(f"{n} {why}" for why, n in sorted(self.undeliverable.items())) + ")")
        if self.unknown:
            out.append(f"outcome unknown (Slack may have them; never sent twice): {self.unknown}")
        if self.revoked_later:
            out.append(f"scheduled revocations carried out: {self.revoked_later}")
        out += self.rotation
        out.append(f"failures: {len(self.failures)}")
        out += [f"  - {f}" for f in self.failures[:20]]
        if len(self.failures) > 20:
            out.append(f"  … and {len(self.failures) - 20} more")
        out.append(f"took {self.seconds:.1f} s")
        return out

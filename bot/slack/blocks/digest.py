"""Block Kit of the security team's digest (issue #28): each finding as a count with the worst few named,
within Slack's limits (a section per finding, each well under 3,000 characters)."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, SectionBlock

from bot.domain.durations import humanize_hours
from bot.policy.digest import WORST, Digest
from bot.slack.blocks.common import Message, md, message_from, slack_date
from bot.text import shown


def _section(title: str, count: int, lines: Sequence[str], none: str) -> SectionBlock:
    if not count:
        return SectionBlock(text=md(f"*{title}:* none. {none}"))
    shown_lines = [f"• {line}" for line in lines[:WORST]]
    more = [f"… and {count - len(shown_lines)} more"] if count > len(shown_lines) else []
    return SectionBlock(text=md("\n".join([f"*{title}:* {count}", *shown_lines, *more])))


def digest_message(digest: Digest) -> Message:
    blocks: list[Block] = [
        HeaderBlock(text="Key governance digest"),
        ContextBlock(elements=[md(f"The week up to {slack_date(digest.now)}. Counts, with the worst "
                                  f"{WORST} of each named.")]),
        _section("Keys longer than their rule allows (made outside the bot)", len(digest.long_keys), [
            f"`{shown(k.name, 80)}` of `{shown(k.owner, 80)}`: at least {humanize_hours(k.at_least_hours)}, the rule "
            f"allows {humanize_hours(k.allowed_hours)} (expires {slack_date(k.expiration)})"
            for k in digest.long_keys], "Every key the bot knows is within its owner's rule."),
        _section("Application keys without a team", len(digest.untied), [
            f"`{shown(k.name, 80)}` of `{shown(k.app_user_id, 80)}`, expires {slack_date(k.expiration)}"
            for k in digest.untied], "Every application user with keys has a team (`/apikey admin team`)."),
        _section("Open approval requests", len(digest.open_requests), [
            f"<@{r.requester}> asks for `{shown(r.key_name, 80)}` ({humanize_hours(r.hours)}), expires "
            f"{slack_date(r.expires_at)}" for r in digest.open_requests], "Nobody is waiting."),
        _section("Requests denied this week", len(digest.denied), [
            f"<@{r.requester}>'s `{shown(r.key_name, 80)}` ({humanize_hours(r.hours)}) by <@{r.decided_by}>"
            + (f": “{shown(r.note, 120)}”" if r.note else "") for r in digest.denied], ""),
        _section("New-key notices nobody answered", digest.unanswered_count, [
            f"`{shown(n.key_name, 80)}` of `{shown(n.dataos_user_id, 80)}`, told {slack_date(n.claimed_at)}"
            if n.claimed_at else f"`{shown(n.key_name, 80)}` of `{shown(n.dataos_user_id, 80)}`"
            for n in digest.unanswered], "Every key made outside the bot was answered for."),
    ]
    if digest.problems:
        blocks.append(ContextBlock(elements=[md(":warning: " + "; ".join(shown(p, 200) for p in
                                                                          dict.fromkeys(digest.problems))[:1900])]))
    text = (f"Key governance digest: {len(digest.long_keys)} keys longer than their rule, {len(digest.untied)} "
            f"application keys without a team, {len(digest.open_requests)} open requests, {len(digest.denied)} "
            f"denied, {digest.unanswered_count} notices unanswered")
    return message_from(text, blocks)

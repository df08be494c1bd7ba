"""Long answers in Slack's sizes: lines of mrkdwn grouped into section texts of at most 3,000 characters,
split only between lines, so that no entity (`<!date^…>`, `<@U…>`, `&amp;`) is ever cut in half."""

from __future__ import annotations

import re
from collections.abc import Iterable

from slack_sdk.models.blocks import Block, MarkdownTextObject, SectionBlock

#: Slack refuses a section whose text is longer.
SECTION_LIMIT = 3000
#: Sections one answer may use: a message takes 50 blocks, and a few are kept for a header and a notice.
MAX_SECTIONS = 40
#: Characters all the sections of one answer may hold: Slack refuses a message whose blocks hold more than
#: about 12,000 (`msg_blocks_too_long`), and some are kept for the header and the closing line.
MAX_TEXT = 10_000
#: An entity or markup that must stay whole: `<…>` and `&…;`.
_ENTITY = re.compile(r"<[^<>]*>|&[a-z]+;")


def clip_whole(line: str, limit: int) -> str:
    """`line` cut to at most `limit` characters, never inside an entity; marked with … when cut."""
    if len(line) <= limit:
        return line
    cut = limit - 1
    for match in _ENTITY.finditer(line):
        if match.start() < cut < match.end():
            cut = match.start()
            break
    return line[:cut] + "…"


def sections(lines: Iterable[str], *, limit: int = SECTION_LIMIT) -> list[str]:
    """The lines joined by newlines into as few texts of at most `limit` characters as fit."""
    texts: list[str] = []
    current = ""
    for line in lines:
        line = clip_whole(line, limit)
        joined = f"{current}\n{line}" if current else line
        if len(joined) > limit:
            texts.append(current)
            joined = line
        current = joined
    if current:
        texts.append(current)
    return texts


def section_blocks(lines: Iterable[str], *, more: str, max_sections: int = MAX_SECTIONS,
                   max_text: int = MAX_TEXT) -> list[Block]:
    """Section blocks for the lines; past `max_sections` sections or `max_text` characters in all, the rest
    is replaced by the sentence `more` (how to see it), so nothing disappears without a word."""
    texts = sections(lines)
    shown: list[str] = []
    total = 0
    for text in texts[:max_sections]:
        if total + len(text) > max_text:
            break
        shown.append(text)
        total += len(text)
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=t)) for t in shown]
    if len(texts) > len(shown):
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip_whole(more, SECTION_LIMIT))))
    return blocks

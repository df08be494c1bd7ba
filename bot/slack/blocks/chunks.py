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


def section_blocks(lines: Iterable[str], *, more: str, max_sections: int = MAX_SECTIONS) -> list[Block]:
    """Section blocks for the lines; past `max_sections`, the rest is replaced by the sentence `more`
    (how to see it), so nothing disappears without a word."""
    texts = sections(lines)
    shown = texts[:max_sections]
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=t)) for t in shown]
    if len(texts) > len(shown):
        blocks.append(SectionBlock(text=MarkdownTextObject(text=more)))
    return blocks

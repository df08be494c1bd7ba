"""Long mrkdwn split for Slack: sections of at most 3,000 characters, cut only between lines, and a
line too long on its own clipped outside any entity."""

from __future__ import annotations

from bot.slack.blocks.chunks import clip_whole, section_blocks, sections


def test_lines_are_grouped_without_being_cut() -> None:
    lines = [f"<!date^{1700000000 + i}^{{date_short}}|2023-11-14> entry {i} " + "x" * 200 for i in range(40)]
    texts = sections(lines)
    assert all(len(t) <= 3000 for t in texts) and len(texts) > 1
    assert "\n".join(texts).split("\n") == lines


def test_a_line_longer_than_a_section_is_clipped_outside_entities() -> None:
    line = "a" * 2990 + "<!date^1700000000^{date_short}|2023-11-14> and &amp; more"
    clipped = clip_whole(line, 3000)
    assert clipped == "a" * 2990 + "…"
    assert clip_whole("b" * 2997 + "&amp;", 3000) == "b" * 2997 + "…"
    assert clip_whole("short", 3000) == "short"


def test_what_does_not_fit_is_replaced_by_a_sentence() -> None:
    blocks = section_blocks(["y" * 2500] * 5, more="The rest is in the log.", max_sections=3)
    texts = [b.to_dict()["text"]["text"] for b in blocks]
    assert texts[:3] == ["y" * 2500] * 3 and texts[3] == "The rest is in the log."

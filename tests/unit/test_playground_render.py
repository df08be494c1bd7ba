"""The playground's Block Kit renderer: every element the bot emits is drawn, and nothing in the bot's JSON
can become markup or script in the page."""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.playground import render
from bot.slack.blocks.common import Message
from tests.unit.test_foreign_text import builders

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
BERLIN = render.Viewer("U1", ZoneInfo("Europe/Berlin"), NOW, {"U1": "Ada", "U2": "Grace"}, {"C1": "general"})
HOSTILE = ('<script>alert(1)</script><img src=x onerror=alert(2)> "quoted" \'single\' &amp; &lt;b&gt; '
           "javascript:alert(3) <javascript:alert(4)|click> <https://ok.example|fine> `x` *b*")
#: Every tag the renderer may write; anything else in its output came from the input.
TAGS = {"div", "span", "b", "i", "s", "code", "pre", "a", "br", "time", "button", "template", "h2", "h3", "hr",
        "select", "option", "optgroup", "label", "input", "textarea", "details", "summary"}


class Markup(HTMLParser):
    """The tags and attributes a browser would build from the output."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(html: str) -> Markup:
    markup = Markup()
    markup.feed(html)
    return markup


def assert_inert(html: str) -> None:
    """Only the renderer's own tags; no event handlers, no script URLs, no other origins' resources."""
    for tag, attrs in parsed(html).tags:
        assert tag in TAGS, f"<{tag}> came from the input: {html[:300]}"
        for name, value in attrs.items():
            assert not name.startswith("on"), f"event handler {name} on <{tag}>"
            assert name not in ("src", "style", "srcdoc", "formaction")
            if name in ("href", "data-url"):
                assert value is not None and value.startswith(("https://", "http://", "mailto:")), value


def md(text: str, viewer: render.Viewer = BERLIN) -> str:
    return render.mrkdwn(text, viewer)


# ---- mrkdwn ------------------------------------------------------------------------------------


def test_mrkdwn_formatting() -> None:
    assert md("*bold* _italic_ ~gone~") == "<b>bold</b> <i>italic</i> <s>gone</s>"
    assert md("`a*b*c`") == '<code class="bk-code">a*b*c</code>'
    assert md("```line 1\n*not bold*```") == '<pre class="bk-pre">line 1\n*not bold*</pre>'
    assert md("one\ntwo") == "one<br>two"
    assert md("&gt; quoted") == '<span class="bk-quote">quoted</span>'
    assert md(":key: :x: :unknown_emoji:") == "🔑 ❌ :unknown_emoji:"


def test_underscores_inside_names_are_not_italics() -> None:
    assert md("ci_loader and my_key_name") == "ci_loader and my_key_name"
    assert md("*ci_loader*") == "<b>ci_loader</b>"


def test_links_mentions_and_channels() -> None:
    assert md("<https://example.com/a?b=1&amp;c=2|the docs>") == (
        '<a href="https://example.com/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">the docs</a>')
    assert 'class="bk-mention bk-me"' in md("<@U1>") and "@Ada" in md("<@U1>")
    assert "@Grace" in md("<@U2|grace>")
    assert "@someone" in md("<@U9|someone>")
    assert "#general" in md("<#C1>")
    assert "@here" in md("<!here>")


def test_a_link_to_anything_but_the_web_or_mail_stays_text() -> None:
    out = md("<javascript:alert(1)|click me>")
    assert "<a" not in out and "javascript:alert(1)" in out
    assert_inert(out)


def test_dates_in_the_viewers_time_zone_relative_to_the_viewers_clock() -> None:
    stamp = int(datetime(2026, 11, 28, 5, tzinfo=UTC).timestamp())
    token = f"<!date^{stamp}^{{date_short_pretty}} at {{time}}|2026-11-28 05:00 UTC>"
    assert ">tomorrow at 6:00 AM</time>" in md(token)
    pacific = render.Viewer("U2", ZoneInfo("America/Los_Angeles"), NOW)
    assert ">today at 9:00 PM</time>" in md(token, pacific)  # still the 27th in California
    far = int(datetime(2027, 6, 16, 5, tzinfo=UTC).timestamp())
    assert ">Jun 16, 2027</time>" in md(f"<!date^{far}^{{date_short}}|x>")
    assert ">2027-06-16" in md(f"<!date^{far}^{{date_num}}|x>")
    assert "Wednesday, June 16th, 2027" in md(f"<!date^{far}^{{date_long}}|x>")
    assert "in 6 months" in md(f"<!date^{far}^{{ago}}|x>")
    assert md("<!date^nonsense^{date}|the fallback>") == "the fallback"


def test_slack_entities_decode_once() -> None:
    assert md("a &lt;b&gt; &amp;lt;") == "a &lt;b&gt; &amp;lt;"
    assert parsed(md("a &lt;b&gt;")).text == ["a <b>"]


@pytest.mark.parametrize("text", [HOSTILE, "<@U1|<script>>", "*<img src=x onerror=alert(1)>*", "\x00<b>\x000\x00",
                                  "<!date^1^{date}|<script>>", "```</pre><script>x</script>```", "`</code><i>`"])
def test_mrkdwn_never_makes_markup_from_its_input(text: str) -> None:
    out = md(text)
    assert_inert(out)
    assert "<script" not in out and "<img" not in out


# ---- Block Kit ---------------------------------------------------------------------------------


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def mk(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def everything(text: str) -> list[dict[str, Any]]:
    """One of each block and element the renderer draws, with `text` wherever text goes."""
    confirm = {"title": plain(text), "text": mk(text), "confirm": plain(text), "deny": plain(text), "style": "danger"}
    options = [{"text": plain(text), "value": text, "description": plain(text)}, {"text": plain("two"), "value": "2"}]
    return [
        {"type": "header", "block_id": text, "text": plain(text)},
        {"type": "section", "block_id": text, "text": mk(text), "fields": [mk(text), plain(text)],
         "accessory": {"type": "overflow", "action_id": text, "options": options, "confirm": confirm}},
        {"type": "divider"},
        {"type": "context", "elements": [mk(text), plain(text), {"type": "image", "alt_text": text,
                                                                  "image_url": "https://evil.example/x.png"}]},
        {"type": "actions", "block_id": text, "elements": [
            {"type": "button", "action_id": "a", "text": plain(text), "value": text, "style": "primary"},
            {"type": "button", "action_id": "b", "text": plain(text), "value": text, "style": "danger",
             "confirm": confirm},
            {"type": "button", "action_id": "c", "text": plain(text), "url": "javascript:alert(1)"},
            {"type": "static_select", "action_id": "d", "placeholder": plain(text), "options": options,
             "initial_option": options[1]},
            {"type": "static_select", "action_id": "e", "option_groups": [{"label": plain(text), "options": options}]},
        ]},
        {"type": "input", "block_id": "name", "label": plain(text), "hint": plain(text), "optional": True,
         "element": {"type": "plain_text_input", "action_id": "v", "placeholder": plain(text), "initial_value": text,
                     "max_length": 64}},
        {"type": "input", "block_id": "long", "label": plain(text),
         "element": {"type": "plain_text_input", "action_id": "v", "multiline": True, "initial_value": text}},
        {"type": "input", "block_id": "pick", "label": plain(text),
         "element": {"type": "radio_buttons", "action_id": "v", "options": options, "initial_option": options[0]}},
        {"type": "input", "block_id": "boxes", "label": plain(text),
         "element": {"type": "checkboxes", "action_id": "v", "options": options}},
        {"type": "input", "block_id": "day", "label": plain(text),
         "element": {"type": "datepicker", "action_id": "v", "initial_date": "2026-12-01"}},
        {"type": "image", "image_url": "https://evil.example/x.png", "alt_text": text},
    ]


def test_every_element_is_drawn() -> None:
    out = render.blocks_html(everything("hello"), BERLIN, errors={"name": "That name is taken."})
    tags = parsed(out).tags
    assert "bk-unsupported" not in out
    found = {tag for tag, _ in tags}
    assert {"h2", "hr", "button", "select", "optgroup", "details", "textarea", "input", "template"} <= found
    assert '<button class="bk-button primary"' in out and '<button class="bk-button danger"' in out
    assert 'class="bk-error" role="alert">That name is taken.' in out
    assert "(optional)" in out
    radios = [a for t, a in tags if t == "input" and a.get("type") == "radio"]
    assert [r.get("checked") is not None or "checked" in r for r in radios] == [True, False]
    assert '<option value="2" data-text="two" selected>two</option>' in out
    assert out.count('class="bk-confirm"') == 2
    assert "[image: hello]" in out and "evil.example" not in out  # nothing is fetched from elsewhere
    assert 'data-url' not in out  # a javascript: URL button keeps no URL


def test_a_modal_has_its_title_buttons_and_errors() -> None:
    view = {"id": "V1", "type": "modal", "callback_id": "create", "title": plain("Create a key"),
            "submit": plain("Create"), "close": plain("Cancel"), "blocks": everything("x")}
    out = render.view_html(view, BERLIN, {"name": "Bad name"}, trouble="We had some trouble connecting.", depth=2)
    assert 'data-view-id="V1"' in out and "Create a key" in out and "bk-submit" in out and "Bad name" in out
    assert "We had some trouble connecting." in out and "bk-modal-back" in out
    no_submit = render.view_html(dict(view, submit=None), BERLIN)
    assert "bk-submit" not in no_submit


def test_hostile_text_in_every_slot_stays_text() -> None:
    out = render.blocks_html(everything(HOSTILE), BERLIN, errors={"name": HOSTILE})
    assert_inert(out)
    assert "<script" not in out
    text = "".join(parsed(out).text)
    assert "<script>alert(1)</script>" in text  # shown to the person, as text
    view = {"id": HOSTILE, "callback_id": HOSTILE, "title": plain(HOSTILE), "submit": plain(HOSTILE),
            "close": plain(HOSTILE), "blocks": everything(HOSTILE)}
    assert_inert(render.view_html(view, BERLIN, {"name": HOSTILE}, trouble=HOSTILE))
    assert_inert(render.message_html(HOSTILE, (HOSTILE, False), "1700000000.000100", HOSTILE, [], BERLIN,
                                     ephemeral=True, edited=True))


def test_unknown_blocks_say_so_instead_of_vanishing() -> None:
    out = render.blocks_html([{"type": "rich_text", "elements": []}], BERLIN)
    assert "[unsupported block: rich_text]" in out


def _built(name: str, text: str) -> Any:
    built = builders(text)[name]()
    if isinstance(built, Message):
        return built.blocks
    return built


@pytest.mark.parametrize("name", sorted(n for n, b in builders("x").items() if not isinstance(b(), str)))
def test_everything_the_bot_builds_is_drawn_and_inert(name: str) -> None:
    built = _built(name, "x")
    assert render.used_types(built) <= render.SUPPORTED, f"{name} uses {render.used_types(built) - render.SUPPORTED}"
    hostile = _built(name, HOSTILE)
    if isinstance(hostile, dict):
        out = render.view_html(dict(hostile, id="V1"), BERLIN)
    else:
        out = render.blocks_html(hostile, BERLIN)
    assert "bk-unsupported" not in out
    assert_inert(out)


def test_a_message_shows_its_author_time_and_privacy() -> None:
    out = render.message_html("M1", ("DataOS API keys", True), "1764331200.000100", "fallback", [], BERLIN,
                              ephemeral=True, edited=True)
    assert "Only visible to you" in out and "APP" in out and "(edited)" in out and "fallback" in out
    assert '<time class="msg-time">1:00 PM</time>' in out  # 12:00 UTC, in Berlin

"""mrkdwn and Slack's `<!date^…>` tokens to HTML, for the playground's page (see `render`): every piece of
text is escaped here, links keep http(s) and mailto targets only, and dates are drawn in the viewer's
time zone, relative to the viewer's clock."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo

EMOJI = {
    "x": "❌", "no_entry": "⛔", "wastebasket": "🗑️", "rotating_light": "🚨", "warning": "⚠️", "key": "🔑",
    "link": "🔗", "hourglass_flowing_sand": "⏳", "hourglass": "⌛", "recycle": "♻️", "no_bell": "🔕", "zzz": "💤",
    "white_check_mark": "✅", "red_circle": "🔴", "ok_hand": "👌", "memo": "📝", "large_yellow_circle": "🟡",
    "large_green_circle": "🟢", "eyes": "👀", "bust_in_silhouette": "👤", "bell": "🔔", "lock": "🔒",
    "wave": "👋", "tada": "🎉", "information_source": "ℹ️", "calendar": "📅", "clock3": "🕒", "mag": "🔍",
    "arrows_counterclockwise": "🔄", "busts_in_silhouette": "👥",
}
SAFE_URL = re.compile(r"^(?:https?://|mailto:)[^\s\"'<>]+$", re.IGNORECASE)
_ANGLE = re.compile(r"<([^<>\n]{1,3000})>")
_PLACEHOLDER = re.compile("\x00(\\d+)\x00")
_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]*?\S|\S)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?=\S)([^_\n]*?\S|\S)_(?![\w_])")
_STRIKE = re.compile(r"(?<![\w~])~(?=\S)([^~\n]*?\S|\S)~(?![\w~])")
_EMOJI = re.compile(r":([a-z0-9_+-]{1,40}):")
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_CODE_BLOCK = re.compile(r"```(.*?)```", re.DOTALL)


@dataclass
class Viewer:
    """Who is looking: mentions get their names, dates their time zone, "today" their clock."""

    user_id: str
    tz: tzinfo
    now: datetime
    names: Mapping[str, str] = field(default_factory=dict)
    channels: Mapping[str, str] = field(default_factory=dict)


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _unescape_slack(text: str) -> str:
    """Slack's three entities, in the order that cannot double-decode."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def emoji(escaped: str) -> str:
    return _EMOJI.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), escaped)


def plain(text: object) -> str:
    """A plain_text object's text: escaped, with :emoji: shortcodes drawn."""
    return emoji(esc(str(text)))


# ---- mrkdwn --------------------------------------------------------------------------------------


def mrkdwn(text: str, viewer: Viewer) -> str:
    def inline(part: str) -> str:
        return _code_or(_INLINE_CODE, part, "code", lambda rest: _formatted(rest, viewer)).replace("\n", "<br>")

    return _code_or(_CODE_BLOCK, str(text).replace("\x00", ""), "pre", inline)


def _code_or(pattern: re.Pattern[str], text: str, tag: str, otherwise: Callable[[str], str]) -> str:
    """Code spans (`pattern`'s group) verbatim in `<tag>`; the text between them through `otherwise`."""
    out: list[str] = []
    for i, part in enumerate(pattern.split(text)):
        if i % 2:
            code = part.strip("\n") if tag == "pre" else part
            out.append(f'<{tag} class="bk-{tag}">{esc(_unescape_slack(code))}</{tag}>')
        elif part:
            out.append(otherwise(part))
    return "".join(out)


def _formatted(text: str, viewer: Viewer) -> str:
    tokens: list[str] = []

    def hold(match: re.Match[str]) -> str:
        tokens.append(_angle(match.group(1), viewer))
        return f"\x00{len(tokens) - 1}\x00"

    held = _ANGLE.sub(hold, text)
    escaped = html.escape(_unescape_slack(held), quote=False)
    lines = []
    for line in escaped.split("\n"):
        line = _STRIKE.sub(r"<s>\1</s>", _ITALIC.sub(r"<i>\1</i>", _BOLD.sub(r"<b>\1</b>", line)))
        if line.startswith("&gt; "):
            line = f'<span class="bk-quote">{line[5:]}</span>'
        lines.append(emoji(line))
    return _PLACEHOLDER.sub(lambda m: tokens[int(m.group(1))], "\n".join(lines))


def _angle(inner: str, viewer: Viewer) -> str:
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        user = target[1:]
        name = viewer.names.get(user) or _unescape_slack(label) or user
        me = " bk-me" if user == viewer.user_id else ""
        return f'<span class="bk-mention{me}" data-user="{esc(user)}">@{esc(name)}</span>'
    if target.startswith("#"):
        channel = target[1:]
        name = viewer.channels.get(channel) or _unescape_slack(label) or channel
        return f'<span class="bk-mention">#{esc(name)}</span>'
    if target.startswith("!date^"):
        return _date(target, _unescape_slack(label), viewer)
    if target in ("!here", "!channel", "!everyone"):
        return f'<span class="bk-mention">@{esc(target[1:])}</span>'
    if target.startswith("!subteam^"):
        group = target[len("!subteam^"):]  # Slack shows a user group by its handle
        name = viewer.names.get(group) or _unescape_slack(label) or "group"
        return f'<span class="bk-mention">@{esc(name)}</span>'
    url = _unescape_slack(target)
    shown = _unescape_slack(label) if label else url
    if SAFE_URL.match(url):
        return f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer">{emoji(esc(shown))}</a>'
    return esc(f"<{_unescape_slack(inner)}>")


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _ago(moment: datetime, now: datetime) -> str:
    seconds = (moment - now).total_seconds()
    span = abs(seconds)
    for unit, size in (("year", 365 * 86400), ("month", 30 * 86400), ("day", 86400), ("hour", 3600),
                       ("minute", 60)):
        if span >= size:
            count = int(span // size)
            words = f"{count} {unit}{'s' if count != 1 else ''}"
            return f"in {words}" if seconds > 0 else f"{words} ago"
    return "just now"


def format_date(stamp: int, template: str, viewer: Viewer) -> str:
    """Slack's `<!date^…>` tokens, in the viewer's time zone, relative to the viewer's clock."""
    moment = datetime.fromtimestamp(stamp, viewer.tz)
    today = viewer.now.astimezone(viewer.tz).date()
    hour = moment.hour % 12 or 12
    ampm = "AM" if moment.hour < 12 else "PM"
    parts = {
        "date_num": moment.strftime("%Y-%m-%d"),
        "date": f"{moment:%B} {_ordinal(moment.day)}, {moment.year}",
        "date_short": f"{moment:%b} {moment.day}, {moment.year}",
        "date_long": f"{moment:%A}, {moment:%B} {_ordinal(moment.day)}, {moment.year}",
        "time": f"{hour}:{moment:%M} {ampm}",
        "time_secs": f"{hour}:{moment:%M:%S} {ampm}",
        "ago": _ago(moment, viewer.now),
    }
    relative = {today: "today", today - timedelta(days=1): "yesterday",
                today + timedelta(days=1): "tomorrow"}.get(moment.date())
    for kind in ("date", "date_short", "date_long"):
        parts[f"{kind}_pretty"] = (relative.capitalize() if kind == "date_long" and relative else relative) \
            or parts[kind]
    return re.sub(r"\{(\w+)\}", lambda m: parts.get(m.group(1), m.group(0)), template)


def _date(target: str, fallback: str, viewer: Viewer) -> str:
    pieces = target.split("^")
    stamp = pieces[1] if len(pieces) > 1 else ""
    if not (stamp.isascii() and stamp.lstrip("-").isdigit()) or len(pieces) < 3:
        return esc(fallback or target)
    try:
        shown = format_date(int(stamp), pieces[2], viewer)
        iso = datetime.fromtimestamp(int(stamp), viewer.tz).isoformat()
    except (OverflowError, OSError, ValueError):
        return esc(fallback or target)
    return f'<time datetime="{esc(iso)}" title="{esc(fallback)}">{esc(shown)}</time>'



def day_label(day: date, viewer: Viewer) -> str:
    """Slack's divider above a day's first message: "Today", "Yesterday", "Monday, December 7th"
    (with the year when it is not this year)."""
    today = viewer.now.astimezone(viewer.tz).date()
    if day == today:
        return "Today"
    if day == today - timedelta(days=1):
        return "Yesterday"
    label = f"{day:%A}, {day:%B} {_ordinal(day.day)}"
    return label if day.year == today.year else f"{label}, {day.year}"

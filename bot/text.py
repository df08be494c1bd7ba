"""The one rule for text that nobody in this project wrote (what a person typed, names and ids from
DataOS, Slack profiles, exception texts): unescaped once on the way in, escaped once on the way out,
before it enters mrkdwn or a notification `text`.

Slack's mrkdwn gives `<`, `>` and `&` their meaning (`<!channel>`, `<@U…>`, `<https://x|label>`);
escaping exactly those three keeps foreign text inert. Clipping comes first, so an entity is never cut
in half, and keeps Slack's per-field limits from turning a long DataOS name into an error.
"""

from __future__ import annotations

#: Longest foreign string shown in one place (a key name, a user id): Slack fields allow a few hundred.
SHOWN = 120


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """Slack's own escaping undone (slash command text arrives with `&amp; &lt; &gt;`): `&amp;` last,
    so `&amp;lt;` (a person typing `&lt;`) becomes `&lt;` and is not decoded twice."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def shown(text: str | None, limit: int = SHOWN) -> str:
    """Foreign text, clipped and escaped: what every builder puts into mrkdwn."""
    return escape(clip(text or "", limit))

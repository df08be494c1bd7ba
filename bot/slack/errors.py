"""Every failure as a sentence, in one voice: what happened, whether anything changed, what to do next.

"Nothing was changed." is said only of a request that could have changed something (a create, a
revoke), never of a read, where nobody wonders. "I cannot tell whether it was done" is said only when
DataOS may have applied a change whose answer was lost.
"""

from __future__ import annotations

from slack_sdk.errors import SlackApiError

from bot.dataos import (
    DataOSBadRequest,
    DataOSConflict,
    DataOSError,
    DataOSForbidden,
    DataOSNotFound,
    DataOSTooLarge,
    DataOSUnauthorized,
    DataOSUnavailable,
)
from bot.identity import slack_error
from bot.text import shown

TELL_ADMIN = "Please tell a platform admin (`apikey-bot doctor` shows the cause)."
UNKNOWN_OUTCOME = "so I cannot tell whether it was done. Run `/apikey list` in a minute to check before trying again."


def _changed(exc: DataOSError, read: bool) -> str:
    """The sentence about what changed, with its leading space; empty for a read."""
    if read:
        return ""
    return " Nothing was changed." if exc.changed is not None else ""


def explain(exc: DataOSError, *, doing: str, key_name: str | None = None, read: bool = False) -> str:
    """`doing` completes "while …", e.g. "creating your key"; `read` for a request that changes nothing."""
    ref = f" (reference `{shown(exc.correlation_id, 64)}`)" if exc.correlation_id else ""
    key = f"*{shown(key_name)}*" if key_name else "that key"
    if exc.changed is None and not read:
        # The request may have reached DataOS and been applied: never claim either way.
        what = "stopped answering" if isinstance(exc, DataOSUnavailable) else "answered with an error"
        return f"DataOS {what} while I was {doing}{ref}, {UNKNOWN_OUTCOME}"
    changed = _changed(exc, read)
    if isinstance(exc, DataOSConflict):
        return f"You already have a key named {key}.{changed} Choose another name."
    if isinstance(exc, DataOSNotFound):
        return (f"DataOS has no key named {key} for you (it may have been revoked already).{changed} "
                "Run `/apikey list` to see your keys.")
    if isinstance(exc, DataOSBadRequest):
        return (f"DataOS refused the request while I was {doing}{ref}.{changed} Check the name "
                "(letters, digits, underscores) and the validity, then try again.")
    if isinstance(exc, DataOSUnauthorized):
        return (f"DataOS did not accept the bot's own API key while I was {doing}{ref}; it may have expired."
                f"{changed} {TELL_ADMIN}")
    if isinstance(exc, DataOSForbidden):
        return (f"The bot is not allowed to manage keys for your DataOS user{ref}, so I could not finish "
                f"{doing}.{changed} {TELL_ADMIN}")
    if isinstance(exc, DataOSTooLarge):
        return (f"DataOS sent an answer larger than the bot accepts while I was {doing}{ref}, so it was not read."
                f"{changed} {TELL_ADMIN}")
    if isinstance(exc, DataOSUnavailable):
        return (f"DataOS is not answering right now, so I could not finish {doing}{ref}.{changed} "
                "Please try again in a few minutes.")
    return f"DataOS answered with an error while I was {doing}{ref}.{changed} Please try again later."


def explain_slack(exc: SlackApiError, *, doing: str) -> str:
    code = shown(slack_error(exc), 64)
    if code == "expired_trigger_id":
        return (f"Slack closed the window before it could open while I was {doing} (it took too long). "
                "Nothing was changed. Please run the command again.")
    if code in ("ratelimited", "http_429"):
        return (f"Slack is rate-limiting the bot right now, so I could not finish {doing}. Nothing was changed. "
                "Try again in a minute.")
    return (f"Slack answered `{code}` while I was {doing}. Nothing was changed. Please try again; if it keeps "
            "happening, tell a platform admin (`apikey-bot doctor` shows the cause).")


#: Slack's own name for the slash command setting that turns `#channel`, `@person` and `@group` into ids.
ESCAPE_SETTING = "Escape channels, users, and links sent to your app"


def unescaped_mention(words: list[str]) -> str | None:
    """When a command's text holds `#channel` or `@name` as typed, Slack did not turn it into its entity
    (`<#C…>`, `<@U…>`): the app was made by hand with the command's escaping off. The sentence naming the
    setting, or None."""
    word = next((w for w in words if len(w) > 1 and w[0] in "#@" and w[1] not in "<"), None)
    if word is None:
        return None
    what = "a channel" if word.startswith("#") else "a person or user group"
    return (f"Slack sent `{shown(word, 80)}` as typed, not as {what}: the `/apikey` command's “{ESCAPE_SETTING}” "
            "setting is off (an app set up by hand rather than from `apikey-bot manifest`). Turn it on in the "
            "app's settings under Slash Commands → /apikey, then run this again. Nothing was changed.")

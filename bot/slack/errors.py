"""Every failure as a sentence: what happened, whether anything changed, what to do next."""

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


def _nothing_changed(exc: DataOSError) -> str:
    if exc.changed is None:
        return "DataOS did not confirm whether it was done."
    return "Nothing was changed."


def explain(exc: DataOSError, *, doing: str, key_name: str | None = None) -> str:
    """`doing` completes "while …", e.g. "creating your key"."""
    ref = f" (reference `{shown(exc.correlation_id, 64)}`)" if exc.correlation_id else ""
    key = f"*{shown(key_name)}*" if key_name else "that key"
    if isinstance(exc, DataOSConflict):
        return f"You already have a key named {key}. Nothing was changed. Choose another name."
    if isinstance(exc, DataOSNotFound):
        return (f"DataOS has no key named {key} for you (it may have been revoked already). "
                f"Nothing was changed. Run `/apikey list` to see your keys.")
    if isinstance(exc, DataOSBadRequest):
        return (f"DataOS refused the request while {doing}{ref}. Nothing was changed. Check the name "
                "(letters, digits, underscores) and the validity, then try again.")
    if isinstance(exc, DataOSUnauthorized):
        return (f"DataOS did not accept the bot's own API key while {doing}{ref}; it may have expired. "
                f"Nothing was changed. {TELL_ADMIN}")
    if isinstance(exc, DataOSForbidden):
        return (f"The bot is not allowed to manage keys for your DataOS user{ref}. Nothing was changed. "
                f"{TELL_ADMIN}")
    if isinstance(exc, DataOSTooLarge):
        return (f"DataOS sent an answer larger than the bot accepts while {doing}{ref}, so it was not read. "
                f"{_nothing_changed(exc)} {TELL_ADMIN}")
    if isinstance(exc, DataOSUnavailable):
        if exc.changed is None:
            return (f"{shown(str(exc), 200).rstrip('.')} while {doing}{ref}, so I cannot tell whether it was done. "
                    "Run `/apikey list` in a minute to check before trying again.")
        return (f"DataOS is not answering right now{ref}. {_nothing_changed(exc)} "
                "Please try again in a few minutes.")
    return f"DataOS answered with an error while {doing}{ref}. {_nothing_changed(exc)} Please try again later."


def explain_slack(exc: SlackApiError, *, doing: str) -> str:
    code = shown(slack_error(exc), 64)
    if code == "expired_trigger_id":
        return (f"Slack closed the window before it could open while {doing} (it took too long). "
                "Nothing was changed. Please run the command again.")
    if code in ("ratelimited", "http_429"):
        return f"Slack is rate-limiting the bot right now while {doing}. Nothing was changed. Try again in a minute."
    return f"Slack answered `{code}` while {doing}. Nothing was changed. Please try again; if it persists, {TELL_ADMIN}"

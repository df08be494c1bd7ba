"""`/apikey <subcommand>`: one slash command, one dispatcher, one small function per subcommand.

Each handler acknowledges first (Slack's 3-second deadline) and opens any modal before the first
database or DataOS call (a trigger_id lives 3 seconds and works once); slow work follows.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import Runtime
from bot.dataos import DataOSError
from bot.domain.durations import DurationTooLong, InvalidDuration, humanize_hours, parse_duration_hours
from bot.domain.key_policy import Kind
from bot.domain.keys import InvalidKeyName, validate_key_name
from bot.identity import Denied, Mapped
from bot.slack import tracked
from bot.slack.admin import admin_command
from bot.slack.approvals.gate import fit_form
from bot.slack.approvals.requests import send_policy, send_requests
from bot.slack.blocks.common import Message, denied_message, info_modal, text_message, working_modal
from bot.slack.blocks.forms import create_modal
from bot.slack.blocks.help import help_message
from bot.slack.blocks.identity import link_modal, whoami_message
from bot.slack.blocks.keys import keys_message, revoke_modal, revoke_picker_modal
from bot.slack.common import OpenForm, open_form, open_view, scheduled_revocations, update_view, user_id
from bot.slack.errors import explain, explain_slack
from bot.slack.home import publish_home
from bot.slack.owners import owned_teams
from bot.slack.teams.keys import cmd_revoke_for, for_option, offer_for
from bot.slack.teams.lists import team_list_messages
from bot.text import shown, unescape

log = logging.getLogger(__name__)
COMMAND = "/apikey"

Handler = Callable[[Runtime, "Call"], Awaitable[None]]


class Call:
    """One invocation: the parsed arguments and the ways to answer."""

    def __init__(self, body: dict[str, Any], ack: AsyncAck, respond: AsyncRespond, client: AsyncWebClient,
                 args: list[str]) -> None:
        self.body = body
        self.ack = ack
        self.respond = respond
        self.client = client
        self.args = args
        self.user_id = user_id(body)
        self.trigger_id = str(body.get("trigger_id") or "")
        self.channel_id = str(body.get("channel_id") or "")

    async def reply(self, message: Message) -> None:
        await self.respond(response_type="ephemeral", **message.kwargs())


async def cmd_help(rt: Runtime, call: Call) -> None:
    await call.ack(**help_message().kwargs())


#: How long `/apikey list` may take before it says it is still looking. Said only then: a slash command's
#: answers cannot replace one another (Slack ignores `replace_original` on a command's response_url), so a
#: progress line shown at once would stay above the list for good.
PROGRESS_AFTER = 1.5
LOOKING_UP = text_message(":hourglass_flowing_sand: Looking up your keys…")


async def cmd_list(rt: Runtime, call: Call) -> None:
    await call.ack()  # nothing shown yet: the answer comes as it is, in at most 4 posts of Slack's 5
    answer = asyncio.ensure_future(list_messages(rt, call.user_id, call.args))
    await say_if_slow(rt, answer, call, LOOKING_UP)
    for message in await answer:
        await call.reply(message)


async def say_if_slow(rt: Runtime, work: asyncio.Future[Any], call: Call, progress: Message) -> None:
    """`progress` once `work` has taken PROGRESS_AFTER seconds (on the runtime's timer), else nothing."""
    timer = asyncio.ensure_future(rt.timer(PROGRESS_AFTER))
    try:
        await asyncio.wait({work, timer}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        timer.cancel()
    if not work.done():
        try:
            await call.reply(progress)
        except Exception as exc:  # the answer itself is still on its way
            log.warning("could not say that the list is on its way: %s", type(exc).__name__)


async def list_messages(rt: Runtime, slack_user_id: str, args: list[str]) -> list[Message]:
    """What `/apikey list [<app-user>]` answers: "Your keys", then the teams the person owns (at most two
    messages more), or one application user's keys for its owners."""
    if args:
        return await team_list_messages(rt, slack_user_id, only=args[0])
    owned = await owned_teams(rt, slack_user_id)  # the one owner check: no guest or outsider owns a team
    message, mapped = await key_list(rt, slack_user_id)
    if not mapped and not owned:  # an owner needs no DataOS user of their own
        return [message]
    return [message, *await team_list_messages(rt, slack_user_id, owned=owned)]


async def key_list(rt: Runtime, slack_user_id: str, *, page: int = 0,
                   notice: str | None = None) -> tuple[Message, bool]:
    """The person's list, or why not; and whether they are mapped (their list, or why DataOS could not give
    it, is the answer)."""
    identity = await rt.keys.identify(slack_user_id)
    if isinstance(identity, Denied):
        return denied_message(identity), False
    try:
        tokens = await rt.keys.list_keys(identity)
    except DataOSError as exc:
        return text_message(":x: " + explain(exc, doing="listing your keys", read=True)), True
    scheduled = await scheduled_revocations(rt.revocations, identity.dataos_user_id)
    return keys_message(identity, tokens, rt.clock(), page=page, notice=notice, scheduled=scheduled), True


async def send_key_list(rt: Runtime, slack_user_id: str, respond: AsyncRespond, *, page: int = 0,
                        notice: str | None = None, replace: bool = False) -> bool:
    """The list, or why not, from a button; `replace` puts it in place of the message the button is on.
    True when the person is mapped."""
    message, mapped = await key_list(rt, slack_user_id, page=page, notice=notice)
    await respond(response_type="ephemeral", replace_original=replace, **message.kwargs())
    return mapped


def create_prefill(rt: Runtime, args: list[str]) -> dict[str, Any]:
    """`/apikey create [name] [validity]` -> create_modal arguments; problems shown in the form."""
    name, validity = [*args, None, None][:2]
    if name is not None and validity is None and _looks_like_duration(name):
        name, validity = None, name  # `/apikey create 30d`
    problems: list[str] = []
    name_error: str | None = None  # under the name, where it follows what is typed
    try:
        validate_key_name(name)
    except InvalidKeyName as exc:
        name_error = str(exc)
    hours: int | None = None
    if validity is not None:
        try:
            hours = rt.policy.parse(validity)
        except InvalidDuration as exc:
            problems.append(shown(str(exc), 200))
    extra = args[2:]
    if extra:
        problems.append(f"I ignored the extra words: {shown(' '.join(extra), 60)}.")
    text = validity if validity is not None and (hours is None or hours not in rt.policy.presets) else None
    return {"name": name, "validity_hours": hours, "validity_text": text,
            "error": " ".join(problems) or None, "name_error": name_error}


def _looks_like_duration(text: str) -> bool:
    try:
        parse_duration_hours(text)
    except DurationTooLong:
        return True  # a validity, only far too long: said so as such
    except InvalidDuration:
        return False
    return True


async def open_create_form(rt: Runtime, client: AsyncWebClient, trigger_id: str, channel_id: str,
                           prefill: dict[str, Any]) -> OpenForm:
    view = create_modal(rt.governance.opening_form(), channel_id=channel_id, **prefill)
    return await open_form(client, trigger_id, view)


async def cmd_create(rt: Runtime, call: Call) -> None:
    await call.ack()
    wanted, args = for_option(call.args)
    prefill = create_prefill(rt, args)
    try:
        form = await open_create_form(rt, call.client, call.trigger_id, call.channel_id, prefill)
    except SlackApiError as exc:
        await call.reply(text_message(":x: " + explain_slack(exc, doing="opening the create form")))
        return
    # The form is open; now the slower check. A person who cannot be mapped learns it before typing, unless
    # they own a team (which needs no DataOS user of their own): the form then offers only its keys.
    identity = await rt.keys.identify(call.user_id)
    # The rule for the kind of key the form is for (team keys, for an owner who has no DataOS user of their own).
    kind: Kind = "team" if wanted or isinstance(identity, Denied) else "personal"
    policy = await fit_form(rt, call.client, form, call.user_id, kind,
                            lambda p: create_modal(p, channel_id=call.channel_id, **prefill))
    await offer_for(rt, call.client, form, create_modal(policy, channel_id=call.channel_id, **prefill), identity,
                    wanted)


async def cmd_revoke(rt: Runtime, call: Call) -> None:
    await call.ack()
    app_user, args = for_option(call.args)
    if app_user is not None:
        problem = await cmd_revoke_for(rt, call.client, call.trigger_id, call.user_id, app_user,
                                       args[0] if args else None)
        if problem:
            await call.reply(text_message(problem))
        return
    name = call.args[0] if call.args else None
    title = "Revoke a key"
    try:
        view_id = await open_view(call.client, call.trigger_id, working_modal(
            title, f"Looking up {'*' + shown(name) + '*' if name else 'your keys'}…"))
    except SlackApiError as exc:
        await call.reply(text_message(":x: " + explain_slack(exc, doing="opening the revoke dialog")))
        return
    identity = await rt.keys.identify(call.user_id)
    if isinstance(identity, Denied):
        await update_view(call.client, view_id, info_modal(title, f":no_entry: {identity.message}"))
        return
    try:
        if name:
            token = await rt.keys.get_key(identity, name)
            view = revoke_modal(token, rt.clock())
        else:
            tokens = await rt.keys.list_keys(identity)
            view = (revoke_picker_modal(tokens) if tokens else
                    info_modal(title, "You have no DataOS API keys to revoke."))
    except DataOSError as exc:
        view = info_modal(title, ":x: " + explain(exc, doing="looking up your key", key_name=name, read=True))
    await update_view(call.client, view_id, view)


async def cmd_whoami(rt: Runtime, call: Call) -> None:
    await call.ack()
    identity = await rt.keys.identify(call.user_id)
    if isinstance(identity, Denied):
        await call.reply(denied_message(identity))
        return
    others: list[Mapped] = []
    try:
        user = await rt.directory.get(identity.dataos_user_id)
    except DataOSError:
        user = None
    if user is not None:
        others = await rt.resolver.others_mapped(user, exclude=call.user_id)
    await call.reply(whoami_message(identity, user, others))


async def cmd_link(rt: Runtime, call: Call) -> None:
    await call.ack()
    try:
        await open_view(call.client, call.trigger_id, link_modal())
    except SlackApiError as exc:
        await call.reply(text_message(":x: " + explain_slack(exc, doing="opening the link form")))


async def cmd_reminders(rt: Runtime, call: Call) -> None:
    await call.ack()
    choice = call.args[0].lower() if call.args else ""
    now = rt.clock()
    if choice in ("on", "off"):
        await rt.prefs.set_reminders_enabled(call.user_id, choice == "on", now)
        text = (":bell: Expiry reminders are *on*: I will DM you before your keys expire."
                if choice == "on" else
                ":no_bell: Expiry reminders are *off* for all your keys. `/apikey reminders on` turns them back on.")
    else:
        enabled = await rt.prefs.reminders_enabled(call.user_id)
        state = "on" if enabled else "off"
        text = (f"Expiry reminders are *{state}* for you. `/apikey reminders {'off' if enabled else 'on'}` "
                f"turns them {'off' if enabled else 'on'}. Reminders come {ladder_words(rt.settings.ladder_hours)} "
                "before a key expires, in your working hours.")
    await call.reply(text_message(text))
    if choice in ("on", "off"):
        await publish_home(rt, call.user_id)


async def cmd_requests(rt: Runtime, call: Call) -> None:
    await call.ack()
    await send_requests(rt, call.user_id, call.respond)


async def cmd_policy(rt: Runtime, call: Call) -> None:
    await call.ack()
    await send_policy(rt, call.user_id, call.respond)


async def cmd_admin(rt: Runtime, call: Call) -> None:
    await call.ack()
    await admin_command(rt, call.user_id, call.args, call.respond)


SUBCOMMANDS: dict[str, Handler] = {
    "help": cmd_help,
    "list": cmd_list,
    "create": cmd_create,
    "revoke": cmd_revoke,
    "whoami": cmd_whoami,
    "link": cmd_link,
    "reminders": cmd_reminders,
    "requests": cmd_requests,
    "policy": cmd_policy,
    "admin": cmd_admin,
}
ALIASES = {"ls": "list", "new": "create", "delete": "revoke", "rm": "revoke", "?": "help"}


def ladder_words(hours: list[int]) -> str:
    """`[720, 168, 24]` -> `30 days, 7 days and 1 day`."""
    words = [humanize_hours(h) for h in hours]
    return f"{', '.join(words[:-1])} and {words[-1]}" if len(words) > 1 else "".join(words)


#: A word that is Slack's own markup in command text (`should_escape`): a mention, channel or group.
#: A person's own `<` arrives as `&lt;`, so a raw `<` can only be Slack's.
_ENTITY = re.compile(r"<[@#!][^<>\s]*>")


def words(text: str) -> list[str]:
    """The command's words, each unescaped once (Slack sends `&amp; &lt; &gt;`), except Slack's own
    entities, which are markup and stay as they came. Everything shown back is escaped once again."""
    return [w if _ENTITY.fullmatch(w) else unescape(w) for w in (text or "").split()]


def parse(text: str) -> tuple[str, list[str]]:
    split = words(text)
    if not split:
        return "help", []
    sub = split[0].lower()
    return ALIASES.get(sub, sub), split[1:]


async def dispatch(rt: Runtime, body: dict[str, Any], ack: AsyncAck, respond: AsyncRespond,
                   client: AsyncWebClient) -> None:
    sub, args = parse(str(body.get("text") or ""))
    call = Call(body, ack, respond, client, args)
    handler = SUBCOMMANDS.get(sub)
    if handler is None:
        close = difflib.get_close_matches(sub, list(SUBCOMMANDS), n=1, cutoff=0.5)
        await ack(**help_message(unknown=sub, suggestion=close[0] if close else None).kwargs())
        return
    await handler(rt, call)
    if call.user_id:
        # After the handler, which has acknowledged: "has used the bot" (REMINDER_AUDIENCE=active)
        # must not slow down Slack's 3-second acknowledgement, nor turn an answer into an error.
        try:
            await rt.prefs.touch_user(call.user_id, rt.clock())
        except Exception as exc:
            log.warning("could not record that %s used the bot: %s", call.user_id, type(exc).__name__)


def register(app: AsyncApp, rt: Runtime) -> None:
    @app.command(COMMAND)
    @tracked(rt, "command", lambda body: parse(str(body.get("text") or ""))[0])
    async def on_apikey(body: dict[str, Any], ack: AsyncAck, respond: AsyncRespond, client: AsyncWebClient) -> None:
        await dispatch(rt, body, ack, respond, client)

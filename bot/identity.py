"""Who is this Slack user in DataOS?

Order: an explicit link (admin or `/apikey link`), then e-mail (Slack profile e-mail equals a DataOS
*person*'s e-mail, case-insensitively, and exactly one person has it). Anything else is denied with
a sentence that says how to get linked. The decision is a pure function; the lookups around it are
cached: the DataOS directory with a TTL, refreshed in the background so requests never wait for it
after the first load; Slack profiles (e-mail, time zone) with a TTL.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.dataos import DataOSError, HeimdallClient, User
from bot.membership import GUEST as GUEST
from bot.membership import OTHER_ORG as OTHER_ORG
from bot.membership import SlackProfile as SlackProfile
from bot.membership import Standing as Standing
from bot.membership import Workspace as Workspace
from bot.membership import admitted as admitted
from bot.membership import profile_from_user as profile_from_user
from bot.membership import standing as standing
from bot.store import Link, Links, Proof
from bot.text import shown

if TYPE_CHECKING:  # a type only: bot.self_links records through bot.audit, which names failures from here
    from bot.self_links import SelfLinks

log = logging.getLogger(__name__)
Monotonic = Callable[[], float]


def how_to_link(admins: Sequence[str] = ()) -> str:
    """What an unmapped person can do. Most have no DataOS user at all (a self-link cannot help them),
    so an admin comes first, named when ADMIN_SLACK_USER_IDS is set."""
    named = [f"<@{a}>" for a in admins[:5]]
    who = "a platform admin"
    if named:
        who += f" ({', '.join(named[:-1])} or {named[-1]})" if len(named) > 1 else f" ({named[0]})"
    return (f"Ask {who} to link you to your DataOS user, or to get you one. If you already have a DataOS "
            "user, you can link yourself: run `/apikey link` and paste one of your DataOS API keys "
            "(it is checked, never stored).")


HOW_TO_LINK = how_to_link()


@dataclass(frozen=True)
class Identity:
    slack_user_id: str
    dataos_user_id: str
    how: Literal["admin link", "self link", "e-mail", "team owner", "admin"]  # the last two: for an app user
    email: str | None = None
    #: For a self-link: the key that proved it (what is minted through the link dies with that key).
    proof: Proof | None = None


DenialReason = Literal["no_email", "no_match", "ambiguous", "deactivated", "bot", "unavailable", "guest",
                       "other_org", "link_ended"]


@dataclass(frozen=True)
class Denied:
    slack_user_id: str
    reason: DenialReason
    message: str


def email_key(email: str) -> str:
    """How e-mails are compared: ASCII letters case-insensitively, anything else exactly.

    `str.lower()` folds look-alikes such as the Kelvin sign (U+212A) into `k`, so a Slack address
    `\u212aarl@example.com` would match DataOS user `karl@example.com`; an address with any non-ASCII
    character therefore matches only itself.
    """
    email = email.strip()
    return email.lower() if email.isascii() else email


def decide(slack_user_id: str, link: Link | None, profile: SlackProfile | None,
           candidates: Iterable[User], admins: Sequence[str] = (), *, home: Workspace | None = None,
           allow_guests: bool = False) -> Identity | Denied:
    """Pure: the mapping rule of design.md, given what the lookups found (and whom to ask for help)."""
    if profile is not None and profile.deleted:
        return Denied(slack_user_id, "deactivated",
                      "Your Slack account is deactivated, so the bot will not act for it.")
    if profile is not None and profile.is_bot:
        return Denied(slack_user_id, "bot", "Bots and apps cannot manage DataOS keys through this bot.")
    denial = refusal(slack_user_id, profile, home, allow_guests=allow_guests)
    if denial is not None:
        return denial
    if link is not None:
        how: Literal["admin link", "self link"] = "admin link" if link.method == "admin" else "self link"
        return Identity(slack_user_id, link.dataos_user_id, how, profile.email if profile else None,
                        proof=link.proof if how == "self link" else None)
    email = (profile.email or "").strip() if profile else ""
    if not email:
        return Denied(slack_user_id, "no_email",
                      "Your Slack profile shows no e-mail address to match with DataOS. " + how_to_link(admins))
    persons = [u for u in candidates if u.is_person and u.email and email_key(u.email) == email_key(email)]
    if len(persons) == 1:
        return Identity(slack_user_id, persons[0].id, "e-mail", email)
    if not persons:
        return Denied(slack_user_id, "no_match",
                      f"No DataOS user has the e-mail address {shown(email)}. " + how_to_link(admins))
    return Denied(slack_user_id, "ambiguous",
                  f"Several DataOS users share the e-mail address {shown(email)}, so the bot cannot tell which "
                  "one is you. " + how_to_link(admins))


def refusal(slack_user_id: str, profile: SlackProfile | None, home: Workspace | None, *,
            allow_guests: bool) -> Denied | None:
    """Pure: the denial for a guest (unless admitted) or someone from another organisation, else None."""
    if profile is None:
        return None
    found = standing(profile, home)
    if found == "other_org":
        return Denied(slack_user_id, "other_org", OTHER_ORG)
    if found == "guest" and not allow_guests:
        return Denied(slack_user_id, "guest", GUEST)
    return None


class DataOSDirectory:
    """DataOS persons by e-mail, loaded once and then refreshed in the background when stale."""

    def __init__(self, client: HeimdallClient, ttl: float, clock: Monotonic = time.monotonic, *,
                 limit: int = 100_000) -> None:
        self._client = client
        self._ttl = ttl
        self.limit = limit
        #: True when the last answer was exactly as long as the limit: people past it are missing.
        self.truncated = False
        self._clock = clock
        self._by_email: dict[str, list[User]] = {}
        self._by_id: dict[str, User] = {}
        self._loaded_at: float | None = None
        self._load_lock = asyncio.Lock()
        self._refreshing: asyncio.Task[None] | None = None

    @property
    def loaded(self) -> bool:
        return self._loaded_at is not None

    @property
    def size(self) -> int:
        return len(self._by_id)

    async def refresh(self, *, max_age: float = 0.0) -> None:
        """Load the directory afresh, unless it was loaded less than `max_age` seconds ago (a load in
        progress is waited for, not repeated)."""
        async with self._load_lock:
            if self._loaded_at is None or self._clock() - self._loaded_at >= max_age:
                await self._load()

    async def _load(self) -> None:
        users = await self._client.list_users(limit=self.limit)
        self.truncated = users.received >= self.limit
        if self.truncated:
            log.warning("the DataOS user directory answered exactly DATAOS_USERS_LIMIT=%d users: people past it "
                        "cannot be matched by e-mail and get no reminders; raise DATAOS_USERS_LIMIT", self.limit)
        by_email: dict[str, list[User]] = {}
        for user in users:
            if user.is_person and user.email:
                by_email.setdefault(email_key(user.email), []).append(user)
        self._by_email = by_email
        self._by_id = {u.id: u for u in users}
        self._loaded_at = self._clock()
        log.info("dataos directory loaded: %d users, %d with e-mail", len(users), len(by_email))

    async def ensure_loaded(self) -> None:
        if self._loaded_at is not None:
            self._maybe_refresh_in_background()
            return
        async with self._load_lock:
            if self._loaded_at is None:
                await self._load()

    def _maybe_refresh_in_background(self) -> None:
        assert self._loaded_at is not None
        if self._clock() - self._loaded_at < self._ttl:
            return
        if self._refreshing is not None and not self._refreshing.done():
            return
        self._refreshing = asyncio.create_task(self._background_refresh())

    async def _background_refresh(self) -> None:
        try:
            await self.refresh()
        except DataOSError as exc:
            # Keep serving the stale directory: a mapping that was right an hour ago still is.
            log.warning("dataos directory refresh failed, keeping the cached one: %s", exc)

    async def by_email(self, email: str) -> list[User]:
        await self.ensure_loaded()
        return list(self._by_email.get(email_key(email), []))

    async def get(self, user_id: str) -> User | None:
        await self.ensure_loaded()
        return self._by_id.get(user_id)

    def persons(self) -> list[User]:
        return [u for u in self._by_id.values() if u.is_person]

    def applications(self) -> list[User]:
        """Every user that is not a person (pipelines' and services' application users)."""
        return [u for u in self._by_id.values() if u.type == "application"]

    async def aclose(self) -> None:
        if self._refreshing is not None and not self._refreshing.done():
            self._refreshing.cancel()


class SlackProfiles:
    """`users.info` answers (e-mail, time zone), cached per user for a while."""

    def __init__(self, client: AsyncWebClient, ttl: float, clock: Monotonic = time.monotonic) -> None:
        self._client = client
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[str, tuple[float, SlackProfile]] = {}

    def remember(self, profile: SlackProfile) -> None:
        self._cache[profile.user_id] = (self._clock(), profile)

    async def get(self, user_id: str) -> SlackProfile | None:
        hit = self._cache.get(user_id)
        if hit is not None and self._clock() - hit[0] < self._ttl:
            return hit[1]
        try:
            response = await self._client.users_info(user=user_id)
        except SlackApiError as exc:
            if slack_error(exc) == "user_not_found":
                return None
            raise
        profile = profile_from_user(response["user"])
        self.remember(profile)
        return profile

    async def by_email(self, email: str) -> SlackProfile | None:
        """The active human member whose e-mail is `email` by the bot's rule (`email_key`), if any."""
        try:
            response = await self._client.users_lookupByEmail(email=email.strip())
        except SlackApiError as exc:
            if slack_error(exc) != "users_not_found":
                log.warning("users.lookupByEmail failed: %s", slack_error(exc))
            return None
        profile = profile_from_user(response["user"])
        if profile.deleted or profile.is_bot or not profile.email or email_key(profile.email) != email_key(email):
            return None
        self.remember(profile)
        return profile


Mapped = tuple[str, Literal["admin link", "self link", "e-mail"]]


class IdentityResolver:
    """Resolves and remembers mappings briefly: one person's create is a command and a submission
    seconds apart, and a burst of requests should not mean a database read each. A link made or
    removed here is seen at once; one made on another replica within `ttl` seconds."""

    def __init__(self, links: Links, directory: DataOSDirectory, profiles: SlackProfiles, *, ttl: float = 30.0,
                 clock: Monotonic = time.monotonic, admins: Sequence[str] = (), self_links: SelfLinks | None = None,
                 home: Callable[[], Awaitable[Workspace | None]] | None = None, allow_guests: bool = False) -> None:
        self.admins = tuple(admins)  # named to people who cannot be mapped: whom to ask
        self.links = links
        self.directory = directory
        self.profiles = profiles
        self.self_links = self_links
        self.allow_guests = allow_guests
        self._home = home
        self._ttl = ttl
        self._clock = clock
        self._known: dict[str, tuple[float, Identity]] = {}

    async def home(self) -> Workspace | None:
        return await self._home() if self._home is not None else None

    async def admission(self, slack_user_id: str, *, allow_guests: bool | None = None) -> Denied | None:
        """Why this Slack user may not be mapped or linked at all (a guest, another organisation, a
        deactivated account, a bot), or None. Fails closed when Slack cannot say. `allow_guests=False`
        refuses guests whatever ALLOW_GUESTS says (a team's keys are never a guest's)."""
        try:
            profile = await self.profiles.get(slack_user_id)
            home = await self.home()
        except SlackApiError as exc:
            log.warning("users.info failed for %s: %s", slack_user_id, slack_error(exc))
            profile, home = None, None
        if profile is None or (home is None and self._home is not None):
            return Denied(slack_user_id, "unavailable",
                          "Slack did not tell the bot who you are just now, so nothing was done. "
                          "Please try again in a minute.")
        guests = self.allow_guests if allow_guests is None else allow_guests
        denied = decide(slack_user_id, None, profile, (), home=home, allow_guests=guests)
        return denied if isinstance(denied, Denied) and denied.reason in ("deactivated", "bot", "guest",
                                                                            "other_org") else None

    def forget(self, slack_user_id: str) -> None:
        self._known.pop(slack_user_id, None)

    async def others_mapped(self, user: User, *, exclude: str) -> list[Mapped]:
        """Slack users other than `exclude` who act as DataOS user `user`: by an explicit link, or by
        e-mail (a member whose e-mail matches and who has no explicit link of their own)."""
        found: list[Mapped] = [(link.slack_user_id, "admin link" if link.method == "admin" else "self link")
                               for link in await self.links.links_to(user.id) if link.slack_user_id != exclude]
        if user.is_person and user.email:
            member = await self.profiles.by_email(user.email)
            if (member is not None and member.user_id != exclude and all(m[0] != member.user_id for m in found)
                    and admitted(member, await self.home(), allow_guests=self.allow_guests)
                    and await self.links.get_link(member.user_id) is None):
                found.append((member.user_id, "e-mail"))
        return found

    async def resolve(self, slack_user_id: str) -> Identity | Denied:
        hit = self._known.get(slack_user_id)
        if hit is not None and self._clock() - hit[0] < self._ttl:
            return hit[1]
        result = await self._resolve(slack_user_id)
        # A self-link is looked at on every use: it can end at any moment, with the key that proved it.
        if isinstance(result, Identity) and result.how != "self link":
            self._known[slack_user_id] = (self._clock(), result)
        return result

    async def _resolve(self, slack_user_id: str) -> Identity | Denied:
        try:
            link = await self.links.get_link(slack_user_id)
        except Exception as exc:  # the database is down or unreachable
            log.warning("identity links unavailable: %s", type(exc).__name__)
            return Denied(slack_user_id, "unavailable",
                          "The bot's database is not answering right now, so nothing was done. "
                          "Please try again in a minute.")
        try:
            profile = await self.profiles.get(slack_user_id)
            home = await self.home()
        except SlackApiError as exc:
            if link is not None:
                profile, home = None, None  # an explicit link does not need the profile
            else:
                log.warning("users.info failed for %s: %s", slack_user_id, slack_error(exc))
                return Denied(slack_user_id, "unavailable",
                              "Slack did not tell the bot who you are just now, so nothing was done. "
                              "Please try again in a minute.")
        if profile is not None and home is None and self._home is not None:
            # Whether this member is from another organisation cannot be told without the workspace's id.
            return Denied(slack_user_id, "unavailable",
                          "Slack did not tell the bot which workspace this is just now, so nothing was done. "
                          "Please try again in a minute.")
        denied = refusal(slack_user_id, profile, home, allow_guests=self.allow_guests)
        if denied is not None:
            return denied
        if link is not None and link.method == "self" and self.self_links is not None:
            try:
                # Told by DM as well: the one asking may be someone else (an admin looking up their keys).
                ended = await self.self_links.check(link, tell=True)
            except DataOSError:
                return Denied(slack_user_id, "unavailable",
                              "DataOS did not answer when the bot checked the key your link was made with, so "
                              "nothing was done. Please try again in a few minutes.")
            except Exception as exc:  # the database: the link stays, and nothing is done
                log.warning("could not check the self-link of %s: %s", slack_user_id, type(exc).__name__)
                return Denied(slack_user_id, "unavailable",
                              "The bot's database is not answering right now, so nothing was done. "
                              "Please try again in a minute.")
            if ended is not None:
                return Denied(slack_user_id, "link_ended", f"{ended.message} Nothing else was done.")
        candidates: list[User] = []
        if link is None and profile is not None and profile.email:
            try:
                candidates = await self.directory.by_email(profile.email)
            except DataOSError:
                return Denied(slack_user_id, "unavailable",
                              "DataOS's user directory is unavailable, so the bot cannot tell which DataOS "
                              "user you are. Nothing was changed; please try again in a few minutes.")
        return decide(slack_user_id, link, profile, candidates, self.admins, home=home,
                      allow_guests=self.allow_guests)


def failure(exc: BaseException) -> str:
    """What went wrong, for a log line: Slack's own error (`not_in_channel`), else the exception's type
    (never its text, which could carry request data)."""
    return slack_error(exc) if isinstance(exc, SlackApiError) else type(exc).__name__


def slack_error(exc: SlackApiError) -> str:
    """The `error` code of a failed Web API call, whatever shape the response body had."""
    data = getattr(exc.response, "data", None)
    if isinstance(data, dict):
        return str(data.get("error") or "unknown_error")
    status = getattr(exc.response, "status_code", None)
    return f"http_{status}" if status else "unknown_error"

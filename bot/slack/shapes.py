"""The shapes `bot.slack.guard` checks every payload against: only the fields the bot's code or Bolt's
context builders read are typed; the rest passes as is.

A module of its own so that start-up does not pay for defining these classes: the guard loads it with the
first request (or `guard.warm_up` once the bot is ready), and each validator is built on first use.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

Text = StrictStr

class Shape(BaseModel):
    # Built on first use (or by build_all): a few dozen ms of start-up otherwise, for requests that come later.
    model_config = ConfigDict(extra="allow", defer_build=True)


class _Ref(Shape):
    """`team`, `enterprise`, `authorizations[]`: Bolt reads ids from them."""

    id: Text | None = Field(default=None, max_length=64)
    team_id: Text | None = Field(default=None, max_length=64)
    enterprise_id: Text | None = Field(default=None, max_length=64)
    user_id: Text | None = Field(default=None, max_length=64)
    is_enterprise_install: StrictBool | Text | None = None


class _User(Shape):
    id: Text = Field(min_length=1, max_length=32)
    team_id: Text | None = Field(default=None, max_length=64)


class _Channel(Shape):
    id: Text = Field(min_length=1, max_length=32)


class _Nested(Shape):
    """Messages and items inside a payload: Bolt looks for a user, channel and thread in them."""

    user: Text | _User | None = None
    channel: Text | _Channel | None = None
    thread_ts: Text | None = Field(default=None, max_length=32)


class _ResponseUrl(Shape):
    response_url: Text | None = Field(default=None, max_length=1000)


class _Common(Shape):
    """What Bolt reads from any payload to build its context, whatever the kind."""

    team: Text | _Ref | None = None
    enterprise: Text | _Ref | None = None
    authorizations: list[_Ref] | None = Field(default=None, max_length=10)
    user: Text | _User | None = None
    channel: Text | _Channel | None = None
    message: _Nested | None = None
    previous_message: _Nested | None = None
    item: _Nested | None = None
    assistant_thread: _Nested | None = None
    function_data: Shape | None = None
    thread_ts: Text | None = Field(default=None, max_length=32)
    is_enterprise_install: StrictBool | Text | None = None
    is_ext_shared_channel: StrictBool | None = None
    team_id: Text | None = Field(default=None, max_length=64)
    enterprise_id: Text | None = Field(default=None, max_length=64)
    user_id: Text | None = Field(default=None, max_length=32)
    channel_id: Text | None = Field(default=None, max_length=32)
    response_url: Text | None = Field(default=None, max_length=1000)
    response_urls: list[_ResponseUrl] | None = Field(default=None, max_length=10)
    trigger_id: Text | None = Field(default=None, max_length=255)


class _Option(Shape):
    value: Text = Field(max_length=2000)


class _Action(Shape):
    action_id: Text = Field(min_length=1, max_length=255)
    block_id: Text | None = Field(default=None, max_length=255)
    type: Text | None = Field(default=None, max_length=64)
    value: Text | None = Field(default=None, max_length=2000)
    selected_option: _Option | None = None


class _Input(Shape):
    value: Text | None = Field(default=None, max_length=3000)
    selected_option: _Option | None = None


class _ViewState(Shape):
    values: dict[str, dict[str, _Input]]


class _ActionView(Shape):
    """The view a button sits in (a modal or the Home tab)."""

    id: Text = Field(min_length=1, max_length=64)
    type: Text = Field(max_length=32)
    callback_id: Text | None = Field(default=None, max_length=255)
    hash: Text | None = Field(default=None, max_length=255)
    private_metadata: Text | None = Field(default=None, max_length=3000)
    state: _ViewState | None = None
    app_installed_team_id: Text | None = Field(default=None, max_length=64)
    team_id: Text | None = Field(default=None, max_length=64)


class _SubmittedView(_ActionView):
    callback_id: Text = Field(min_length=1, max_length=255)
    state: _ViewState


class _Container(Shape):
    type: Text | None = Field(default=None, max_length=32)
    channel_id: Text | None = Field(default=None, max_length=32)
    message_ts: Text | None = Field(default=None, max_length=32)
    view_id: Text | None = Field(default=None, max_length=64)


class BlockActions(_Common):
    type: Literal["block_actions"]
    user: _User
    actions: list[_Action] = Field(min_length=1, max_length=5)
    container: _Container | None = None
    view: _ActionView | None = None


class ViewSubmission(_Common):
    type: Literal["view_submission"]
    user: _User
    view: _SubmittedView


class BlockSuggestion(_Common):
    """What an external select's typing sends (`block_suggestion`): the options load for the create form."""

    type: Literal["block_suggestion"]
    user: _User
    action_id: Text = Field(min_length=1, max_length=255)
    block_id: Text | None = Field(default=None, max_length=255)
    value: Text = Field(default="", max_length=200)
    view: _ActionView | None = None


class Command(_Common):
    command: Text = Field(min_length=2, max_length=32)
    user_id: Text = Field(min_length=1, max_length=32)
    text: Text = Field(default="", max_length=4000)
    trigger_id: Text = Field(default="", max_length=255)
    channel_id: Text = Field(default="", max_length=32)
    response_url: Text = Field(default="", max_length=1000)


class _Profile(Shape):
    email: Text | None = Field(default=None, max_length=320)
    real_name: Text | None = Field(default=None, max_length=500)


class _Member(Shape):
    """A Slack user object, as `user_change` and `team_join` carry it."""

    id: Text = Field(min_length=1, max_length=32)
    deleted: StrictBool | None = None
    is_bot: StrictBool | None = None
    tz: Text | None = Field(default=None, max_length=64)
    tz_offset: StrictInt | None = Field(default=None, ge=-86400, le=86400)
    name: Text | None = Field(default=None, max_length=500)
    real_name: Text | None = Field(default=None, max_length=500)
    profile: _Profile | None = None


class _Event(_Nested):
    type: Text = Field(min_length=1, max_length=64)
    tab: Text | None = Field(default=None, max_length=32)
    bot_id: Text | None = Field(default=None, max_length=32)
    subtype: Text | None = Field(default=None, max_length=64)


class _MemberEvent(_Event):
    user: _Member  # type: ignore[assignment]


class _HomeOpened(_Event):
    user: Text = Field(min_length=1, max_length=32)


class _Posted(Shape):
    """A message, as `message` events carry it (and, edited, inside `message_changed`)."""

    text: Text | None = Field(default=None, max_length=50_000)
    user: Text | None = Field(default=None, max_length=32)
    ts: Text | None = Field(default=None, max_length=32)
    bot_id: Text | None = Field(default=None, max_length=32)
    thread_ts: Text | None = Field(default=None, max_length=32)


class _MessageEvent(_Event):
    text: Text | None = Field(default=None, max_length=50_000)
    user: Text | None = Field(default=None, max_length=32)
    channel: Text | None = Field(default=None, max_length=32)
    ts: Text | None = Field(default=None, max_length=32)
    message: _Posted | None = None
    previous_message: _Posted | None = None


class EventCallback(_Common):
    type: Literal["event_callback"]
    event_id: Text = Field(min_length=1, max_length=64)
    event: _Event


class _Function(Shape):
    callback_id: Text = Field(min_length=1, max_length=64)


class _FunctionExecuted(_Event):
    """A Workflow Builder step to run (`bot.slack.workflows`): what Bolt and the step read."""

    function: _Function
    function_execution_id: Text = Field(min_length=1, max_length=64)
    inputs: dict[str, StrictStr | StrictInt | StrictBool | None] = Field(max_length=20)
    bot_access_token: Text = Field(min_length=1, max_length=255)


class _Tokens(Shape):
    oauth: list[Text] | None = Field(default=None, max_length=1000)
    bot: list[Text] | None = Field(default=None, max_length=1000)


class _TokensRevoked(_Event):
    tokens: _Tokens


class _TeamAccess(_Event):
    """Enterprise Grid: the org admin granted or took back workspaces (`team_ids`)."""

    team_ids: list[Text] = Field(max_length=10_000)


class AppRateLimited(Shape):
    """Slack's top-level callback when it drops this app's events (over 30,000 an hour)."""

    type: Literal["app_rate_limited"]
    team_id: Text | None = Field(default=None, max_length=64)
    api_app_id: Text | None = Field(default=None, max_length=64)
    minute_rate_limited: StrictInt | None = None


class UrlVerification(Shape):
    type: Literal["url_verification"]
    challenge: Text = Field(max_length=200)


EVENT_SHAPES: dict[str, type[Shape]] = {
    "user_change": _MemberEvent, "team_join": _MemberEvent, "app_home_opened": _HomeOpened,
    "message": _MessageEvent, "tokens_revoked": _TokensRevoked, "function_executed": _FunctionExecuted,
    "team_access_granted": _TeamAccess, "team_access_revoked": _TeamAccess,
}


def build_all() -> None:
    """Build every shape's validator now (each is otherwise built by its first request)."""
    top: list[type[Shape]] = [Command, BlockActions, ViewSubmission, BlockSuggestion, EventCallback, UrlVerification,
                              AppRateLimited]
    for shape in top + list(EVENT_SHAPES.values()):
        shape.model_rebuild()

"""Approvals across replicas and restarts (issue #28): two approvers clicking at once on two replicas over
one PostgreSQL make one key; a replica that goes away between the approval and the delivery leaves it to
the next one, which delivers it once (the key made once, even when DataOS made it and the answer was lost);
a delivery claimed by a process that died is taken over after its lease."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from bot.playground.heimdall import HeimdallEmulator
from bot.playground.slack import SlackCall, SlackFake
from bot.reminders.governance import governance_pass
from bot.store import create_engine
from bot.store.governance_schema import ApprovalRequest
from tests.conftest import TEST_DATABASE_URL, FakeClock
from tests.e2e.harness import BotServer, SlackUser, create_values, make_settings, running_bot, table_rows, text_of
from tests.e2e.test_approvals import APPROVALS, CAROL, GRACE, POLICY
from tests.e2e.test_team_reminders import pg_schema as pg_schema  # the fixture: a schema of one's own

D = 24


def world(slack: SlackFake, heimdall: HeimdallEmulator) -> None:
    slack.add_user(GRACE, "grace@example.com", name="Grace")
    heimdall.add_user("grace", "grace@example.com")  # (before the bot starts: it reads the directory then)
    slack.add_channel(APPROVALS, "apikey-approvals")
    slack.add_usergroup("S0APPROVERS", "approvers", [CAROL])
    slack.add_usergroup("S0CONTRACT", "contractors", [])


def settings_for(slack: SlackFake, heimdall: HeimdallEmulator, tmp_path: Path, **extra: Any) -> Any:
    (tmp_path / "policy.toml").write_text(POLICY)
    return make_settings(slack, heimdall, str(tmp_path / "bot.db"), policy_file=str(tmp_path / "policy.toml"),
                         approval_channel=APPROVALS, admin_slack_user_ids=GRACE,
                         validity_presets="1d,7d,30d,90d,180d", **extra)


def ask(server: BotServer, user: SlackUser, slack: SlackFake) -> SlackCall:
    opened = user.command_modal("create", user="U0ALICE")
    view_id = str(opened.result["view"]["id"])
    assert server.call(server.runtime.drain(10))
    values = create_values("etl_loader", f"{180 * D}h")
    values["reason_block"] = {"reason": {"type": "plain_text_input", "value": "nightly ETL"}}
    user.submit(view_id, values)
    assert server.call(server.runtime.drain(10))
    return slack.wait_for("chat.postMessage", where=lambda c: c.params.get("channel") == APPROVALS)[0]


def click(user: SlackUser, post: SlackCall, clicker: str) -> None:
    value = next(e["value"] for b in post.params["blocks"] if b["type"] == "actions" for e in b["elements"]
                 if e["action_id"] == "approval_approve")
    user.click("approval_approve", value, user=clicker, channel=str(post.result["channel"]),
               message_ts=str(post.result["ts"]), ephemeral=False)


def secrets_delivered(slack: SlackFake, key: str) -> list[SlackCall]:
    return [c for c in slack.delivered("chat.postEphemeral") if key in text_of(c)]


def test_two_approvers_clicking_at_once_on_two_replicas_make_one_key(
        slack: SlackFake, heimdall: HeimdallEmulator, clock: FakeClock, tmp_path: Path, pg_schema: str) -> None:
    world(slack, heimdall)
    url = make_url(TEST_DATABASE_URL).render_as_string(hide_password=False)
    settings = settings_for(slack, heimdall, tmp_path, database_url=url)

    def engine() -> Any:
        return create_engine(url, connect_args={"server_settings": {"search_path": pg_schema}})

    with running_bot(settings, clock, slack, engine=engine()) as (one, at_one), \
            running_bot(settings, clock, slack, engine=engine()) as (two, at_two):
        post = ask(one, at_one, slack)
        start = threading.Barrier(2)

        def approve(user: SlackUser, clicker: str) -> None:
            start.wait()
            click(user, post, clicker)

        threads = [threading.Thread(target=approve, args=(at_one, GRACE)),
                   threading.Thread(target=approve, args=(at_two, CAROL))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert one.call(one.runtime.drain(20)) and two.call(two.runtime.drain(20))
        assert list(heimdall.tokens["alice"]) == ["etl_loader"]
        key = heimdall.tokens["alice"]["etl_loader"]
        assert len(secrets_delivered(slack, key.apikey)) == 1
        creates = [c for c in heimdall.calls_to("POST", "/users/alice/tokens")]
        assert len(creates) == 1
        replies = [text_of(c) for c in slack.calls_to("response_url")]
        assert len([r for r in replies if "Approved; the key goes to" in r]) == 1
        assert len([r for r in replies if "already approved by" in r]) == 1
        winner = one.call(one.runtime.approval_requests.open_requests())
        assert winner == []


def test_a_replica_gone_between_approval_and_delivery_leaves_it_to_the_next_which_delivers_once(
        slack: SlackFake, heimdall: HeimdallEmulator, clock: FakeClock, tmp_path: Path) -> None:
    world(slack, heimdall)
    settings = settings_for(slack, heimdall, tmp_path)
    with running_bot(settings, clock, slack) as (one, user):
        post = ask(one, user, slack)
        # DataOS makes the key, and no answer reaches the bot: a 502 after the change, to the create and to
        # each of the client's own retries (which ask for the existing key)
        heimdall.fail_next(4, 502, after_effect=True, match="POST /heimdall/api/v1/users/alice/tokens")
        click(user, post, GRACE)
        assert one.call(one.runtime.drain(10))
        assert list(heimdall.tokens["alice"]) == ["etl_loader"]
        key = heimdall.tokens["alice"]["etl_loader"]
        assert secrets_delivered(slack, key.apikey) == []
        assert [(r["state"], r["delivery"]) for r in table_rows(one, ApprovalRequest)] == [("approved", None)]
    # the replica is gone; another one starts on the same database
    with running_bot(settings, clock, slack) as (two, _):
        two.call(governance_pass(two.runtime))  # (its scheduler's first pass may be the one that delivers)
        # the request's message says the key was made: the last step of a delivery, whichever pass did it
        slack.wait_for("chat.update", where=lambda c: c.params.get("ts") == post.result["ts"]
                       and "key `etl_loader` created" in text_of(c))
        two.call(governance_pass(two.runtime))
        assert two.call(two.runtime.drain(10))
        assert list(heimdall.tokens["alice"]) == ["etl_loader"]  # not made a second time
        assert len(secrets_delivered(slack, key.apikey)) == 1
        assert [(r["state"], r["delivery"]) for r in table_rows(two, ApprovalRequest)] == [("approved", "delivered")]


def test_a_delivery_claimed_by_a_process_that_died_is_taken_over_after_its_lease(
        slack: SlackFake, heimdall: HeimdallEmulator, clock: FakeClock, tmp_path: Path) -> None:
    world(slack, heimdall)
    settings = settings_for(slack, heimdall, tmp_path)
    with running_bot(settings, clock, slack) as (bot, user):
        ask(bot, user, slack)
        rt = bot.runtime
        (request,) = bot.call(rt.approval_requests.open_requests())
        # a replica recorded the approval and claimed the delivery, then died before making anything
        assert bot.call(rt.approval_requests.decide(request.id, "approved", by=GRACE, now=clock.now()))
        assert bot.call(rt.approval_requests.claim_delivery(request.id, worker="dead", now=clock.now(),
                                                            lease=rt.approvals.maker.lease))
        bot.call(governance_pass(rt))
        assert heimdall.tokens["alice"] == {}  # its lease has not run out: nobody else makes it yet
        clock.advance(minutes=11)
        bot.call(governance_pass(rt))
        slack.wait_for("chat.update", where=lambda c: "key `etl_loader` created" in text_of(c))
        bot.call(governance_pass(rt))
        assert bot.call(rt.drain(10))
        key = heimdall.tokens["alice"]["etl_loader"]
        assert len(secrets_delivered(slack, key.apikey)) == 1

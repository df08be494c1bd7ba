"""Team reminders in the playground (#22 item 7): `etl-ingest` belongs to the #data-eng team (Ada and
@data-eng-oncall, which has Grace). "+1 day, sweep" posts the reminder of its key in #data-eng; Bob, who
is no owner, is refused (in the form, which opens at once) when he presses Renew; Ada renews, gets the key
privately, and the channel message says who renewed. The screenshot of the end state is kept in the
test's tmp_path (the `page` fixture)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser.running import RunningPlayground
from tests.browser.test_playground import DM, act_as, open_dm

TEAM_PANE = ".nav-item[data-pane=C0DATAENG]"


def open_team_channel(page: Any) -> None:
    page.click(TEAM_PANE)
    expect(page.locator("#pane-title")).to_have_text("# data-eng")


def test_a_channel_reminder_refuses_bob_and_ada_renews_privately(page: Any, playground: RunningPlayground,
                                                                  tmp_path: Path) -> None:
    page.click("[data-days='1']")
    expect(page.locator("#clock")).to_contain_text("(1 day ahead)")
    page.click("#sweep")
    # nightly_ingest (1-day step) and ingest_writer (25 days left: its 30-day step)
    expect(page.locator("#sweep-result")).to_contain_text("team reminders posted: 2")
    open_team_channel(page)
    reminder = page.locator(f"{DM} .msg", has_text="nightly_ingest").filter(
        has=page.locator("button", has_text="Renew"))
    expect(reminder).to_contain_text("etl-ingest")
    expect(reminder).to_contain_text("@Ada Lovelace")
    expect(reminder).to_contain_text("@data-eng-oncall")
    expect(reminder).not_to_contain_text("Only visible to you")  # a channel message everyone there reads
    message_id = reminder.get_attribute("data-message-id")
    page.screenshot(path=str(tmp_path / "team-reminder.png"))

    act_as(page, "Bob Stone")
    open_team_channel(page)
    page.locator(f"{DM} .msg[data-message-id='{message_id}'] button", has_text="Renew").click()
    # the form opens at once (a trigger lives 3 s) and then says why not: Bob owns nothing here
    refusal = page.locator("#modal-layer .bk-modal")
    expect(refusal).to_contain_text("belong to its team")
    expect(refusal).to_contain_text("Nothing was changed")
    page.screenshot(path=str(tmp_path / "bob-refused.png"))
    refusal.locator(".bk-close").click()
    expect(page.locator("#modal-layer")).to_be_hidden()

    act_as(page, "Ada Lovelace")
    open_team_channel(page)
    page.locator(f"{DM} .msg[data-message-id='{message_id}'] button", has_text="Renew").click()
    modal = page.locator("#modal-layer .bk-modal")
    expect(modal.locator(".bk-modal-title")).to_have_text("Renew a team key")
    expect(modal.locator(".bk-submit")).to_be_visible()  # the form, once ownership is checked
    modal.locator(".bk-submit").click()
    expect(modal.locator(".bk-modal-title")).to_have_text("Key created")
    modal.locator(".bk-close").click()
    open_team_channel(page)
    updated = page.locator(f"{DM} .msg[data-message-id='{message_id}']")
    expect(updated).to_contain_text("renewed by @Ada Lovelace")
    expect(updated).to_contain_text("(edited)")
    expect(updated.locator("button")).to_have_count(0)
    names = playground.call(lambda: sorted(playground.pg.emu.tokens["etl-ingest"]))  # type: ignore[union-attr]
    new = [n for n in names if n.startswith("nightly_ingest_")]
    assert len(new) == 1
    secret = playground.call(lambda: playground.pg.emu.tokens["etl-ingest"][new[0]].apikey)  # type: ignore[union-attr]
    expect(page.locator(DM)).not_to_contain_text(secret)  # never in the channel
    open_dm(page)
    expect(page.locator(f"{DM} .msg", has_text="of application user etl-ingest")).to_contain_text("Only visible to you")


def test_the_readmes_admin_team_command_works_as_typed(page: Any, playground: RunningPlayground) -> None:
    """The README's own example, typed in the playground: Slack turns `#data-eng`, `@ada` and
    `@data-eng-oncall` into its entities (`should_escape`), and the bot reads them."""
    act_as(page, "Grace Hopper")
    page.fill("#composer", "/apikey admin team etl-ingest #data-eng @ada @data-eng-oncall")
    page.press("#composer", "Enter")
    answer = page.locator(f"{DM} .msg", has_text="Team replaced")
    expect(answer).to_contain_text("etl-ingest")
    expect(answer).to_contain_text("@Ada Lovelace")
    expect(answer).to_contain_text("@data-eng-oncall")
    expect(answer).to_contain_text("#data-eng")
    expect(page.locator(f"{DM} .msg", has_text="could not read")).to_have_count(0)
    sent = [row for row in playground.call(lambda: list(playground.pg.slack.inspector))  # type: ignore[union-attr]
            if row["route"] == "Slack → bot" and "admin team" in row["what"]]
    assert "<#C0DATAENG|data-eng> <@U0ADA|ada> <!subteam^S0DATAENG|@data-eng-oncall>" in sent[-1]["request"]


def test_an_owner_of_many_application_users_types_to_find_one_in_the_create_form(
        page: Any, playground: RunningPlayground) -> None:
    """Past Slack's 100 options the form's "For" is an external select: typing asks the bot for options
    (block_suggestion), and the one picked is the application user the key is made for."""
    import asyncio

    from bot.store.teams import Team

    pg = playground.pg
    assert pg is not None
    for i in range(120):
        app = f"svc-{i:03d}"
        playground.call(lambda a=app: pg.emu.add_user(a, None, type="application",  # type: ignore[misc]
                                                      tags=["roles:id:app-user", f"users:id:{a}"]))
        asyncio.run_coroutine_threadsafe(pg.runtime.teams.repo.put(  # type: ignore[union-attr]
            Team(app, "C0DATAENG", ("U0ADA",), (), "U0GRACE", pg.clock.now())), playground.loop).result(10)
    page.fill("#composer", "/apikey create")
    page.press("#composer", "Enter")
    modal = page.locator("#modal-layer .bk-modal")
    search = modal.locator("input.bk-typeahead")
    expect(search).to_be_visible()  # the "For" select, once the bot knows what Ada owns
    search.fill("svc-11")
    chooser = modal.locator("select.bk-select").first
    expect(chooser.locator("option", has_text="svc-119")).to_have_count(1)
    expect(chooser.locator("option", has_text="svc-010")).to_have_count(0)
    chooser.select_option(label="svc-117")
    modal.locator("input.bk-input:not(.bk-typeahead)").first.fill("typed_for_svc")
    modal.locator(".bk-submit").click()
    expect(modal.locator(".bk-modal-title")).to_have_text("Key created")
    assert playground.call(lambda: "typed_for_svc" in pg.emu.tokens.get("svc-117", {}))

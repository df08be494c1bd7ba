"""What a person sees in the playground, in a real browser: each test ends with a screenshot in tmp_path.

The page opens on #general: the app's Messages tab is read-only (as in Slack with this manifest), so
commands are typed in a channel, and what only the person may see (a new key) arrives in the DM."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser.running import RunningPlayground

DM = "#messages"  # the conversation shown: #general, or the DM with the bot after open_dm


def open_dm(page: Any) -> None:
    page.click("#nav .nav-item[data-pane=dm]")
    expect(page.locator("#pane-title")).to_have_text("🔑 DataOS API keys")


def send(page: Any, text: str) -> None:
    page.fill("#composer", text)
    page.press("#composer", "Enter")


def act_as(page: Any, name: str) -> None:
    page.select_option("#persona", label=name)


def set_fault(page: Any, name: str) -> None:
    """Tick a fault in Controls, and wait until the playground has it: a command sent at once must meet it."""
    with page.expect_response(lambda r: r.url.endswith("/pg/fault") and r.ok):
        page.check(f"[data-fault={name}]")


def move_clock(page: Any, days: int) -> None:
    """Move the clock forward, and wait until the playground has: a sweep run next must see the new time."""
    with page.expect_response(lambda r: r.url.endswith("/pg/clock") and r.ok):
        page.click(f"[data-days='{days}']")


def open_create_form(page: Any) -> Any:
    send(page, "/apikey create")
    modal = page.locator("#modal-layer .bk-modal")
    expect(modal.locator(".bk-modal-title")).to_have_text("Create a DataOS key")
    return modal


def test_create_a_key_shows_progress_then_delivers_it_privately(page: Any, tmp_path: Path) -> None:
    set_fault(page, "dataos_slow")  # DataOS takes 2 s: long enough to see the working state
    modal = open_create_form(page)
    modal.locator("input.bk-input").first.fill("ci_loader")
    modal.locator(".bk-submit").click()
    expect(modal).to_contain_text("Creating your key…")
    expect(modal.locator(".bk-modal-title")).to_have_text("Key created")
    expect(modal).to_contain_text("I sent it to you privately")
    page.screenshot(path=str(tmp_path / "create-modal.png"))
    keep = os.environ.get("PLAYGROUND_SCREENSHOT")
    if keep:  # `make screenshot`: the README's picture, made here rather than by hand
        shutil.copy(tmp_path / "create-modal.png", keep)
    modal.locator(".bk-close").click()
    expect(page.locator("#modal-layer")).to_be_hidden()
    open_dm(page)
    delivered = page.locator(f"{DM} .msg", has_text="Your new DataOS API key")
    expect(delivered).to_contain_text("Only visible to you")
    expect(delivered).to_contain_text("ci_loader")
    secret = delivered.locator("pre.bk-pre").inner_text().strip()
    assert len(secret) > 40
    # The inspector shows every call, the key's among them, but never the key itself.
    expect(page.locator("#calls")).to_contain_text("chat.postEphemeral")
    assert secret not in page.locator("#calls").text_content()
    assert f"{secret[:4]}…{secret[-4:]} (masked)" in page.locator("#calls").text_content()


def test_typing_goes_on_in_the_same_input_while_the_bot_adds_the_for_select_above_it(page: Any) -> None:
    set_fault(page, "dataos_slow")  # what Ada owns is known ~2 s after the form opens, then "For" is added first
    modal = open_create_form(page)
    name = modal.locator("input[data-block-id=name_block]")
    name.click()
    page.keyboard.type("ci_")
    for_select = modal.locator("select[data-action-id=for]")
    expect(for_select).to_be_visible()  # the form was drawn again, every input one place further down
    page.keyboard.type("loader")  # as Slack keeps focus and input by block_id and action_id, not by place
    expect(name).to_have_value("ci_loader")
    expect(for_select).to_have_value("-")  # "Me (ada)": nothing typed went into the select


def test_a_form_submitted_before_the_bot_finished_drawing_it_is_not_drawn_back(
        page: Any, playground: RunningPlayground) -> None:
    # DataOS answers each call after 3.5 s (within the bot's 5 s timeout): the "For" select would be ready 3.5 s
    # after the form opens, well after the submission below even on a loaded machine (the page's fault is 2 s).
    playground.call(lambda: setattr(playground.pg.emu, "latency", 3.5))  # type: ignore[union-attr]
    modal = open_create_form(page)
    modal.locator(".bk-submit").click()  # at once: a personal key, as the form said then
    expect(modal.locator(".bk-modal-title")).to_have_text("Key created")
    # The late redraw names the form as the bot drew it; Slack refuses it (the submission replaced the form).
    refused = page.locator("#calls .call", has_text="views.update").filter(has_text="hash_conflict")
    expect(refused).to_have_count(1)
    expect(modal.locator(".bk-modal-title")).to_have_text("Key created")
    expect(modal.locator(".bk-submit")).to_have_count(0)


def test_a_bad_name_is_answered_inline_and_what_was_typed_stays(page: Any) -> None:
    modal = open_create_form(page)
    name = modal.locator("input.bk-input").first
    name.fill("no spaces please")
    modal.locator(".bk-submit").click()
    error = modal.locator(".bk-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("letters, digits")
    expect(name).to_have_value("no spaces please")
    expect(modal.locator(".bk-modal-title")).to_have_text("Create a DataOS key")


def test_list_shows_expiries_and_revoke_asks_first(page: Any) -> None:
    send(page, "/apikey list")
    listing = page.locator(f"{DM} .msg", has_text="Your DataOS API keys")
    expect(listing).to_contain_text("Only visible to you")
    for name in ("nightly_loader", "ci_pipeline", "notebook_sandbox", "dashboard_reader"):
        expect(listing).to_contain_text(name)
    expect(listing).to_contain_text("tomorrow at")  # a <!date> token, in Ada's time zone
    expect(listing.locator("button", has_text="Reveal")).to_have_count(4)
    listing.locator("[data-block-id*='ci_pipeline'] button", has_text="Revoke").click()
    dialog = page.locator("#confirm-layer .bk-confirm-dialog")
    expect(dialog).to_contain_text("Revoke this key?")
    dialog.locator(".bk-deny").click()  # "Keep it": nothing is sent
    expect(page.locator("#confirm-layer")).to_be_hidden()
    listing.locator("[data-block-id*='ci_pipeline'] button", has_text="Revoke").click()
    page.locator("#confirm-layer .bk-ok").click()
    expect(page.locator(DM)).to_contain_text("revoked")
    send(page, "/apikey list")
    latest = page.locator(f"{DM} .msg", has_text="Your DataOS API keys").last
    expect(latest).to_contain_text("3 keys")
    expect(latest).not_to_contain_text("ci_pipeline")


def test_someone_without_a_dataos_user_is_told_what_to_do(page: Any) -> None:
    act_as(page, "Dan Okafor")
    expect(page.locator("#persona-note")).to_contain_text("has no DataOS user")
    send(page, "/apikey list")
    answer = page.locator(f"{DM} .msg").last
    expect(answer).to_contain_text("Only visible to you")
    expect(answer).to_contain_text("DataOS")
    expect(answer).to_contain_text("/apikey link")
    expect(answer).not_to_contain_text("Your DataOS API keys")


def test_the_reminder_ladder_after_moving_the_clock_then_snooze(page: Any) -> None:
    move_clock(page, 1)
    expect(page.locator("#clock")).to_contain_text("(1 day ahead)")
    page.click("#sweep")
    expect(page.locator("#sweep-result")).to_contain_text("reminders sent:")
    open_dm(page)
    # a reminder whose key outlives a snooze (one due within the day offers none)
    first = page.locator(f"{DM} .msg").filter(has=page.locator("button", has_text="Remind me in")).first
    expect(first).to_be_visible()
    reminder = page.locator(f"{DM} .msg[data-message-id='{first.get_attribute('data-message-id')}']")
    for label in ("Renew", "Revoke", "Remind me in"):
        expect(reminder.locator("button", has_text=label)).to_have_count(1)
    expect(reminder).not_to_contain_text("Only visible to you")  # a real DM: it stays
    reminder.locator("button", has_text="Remind me in").click()
    expect(reminder).to_contain_text("snoozed")
    expect(reminder).to_contain_text("(edited)")


def test_dataos_down_reads_as_a_sentence(page: Any) -> None:
    set_fault(page, "dataos_down")
    send(page, "/apikey list")
    answer = page.locator(f"{DM} .msg").last
    expect(answer).to_contain_text("DataOS is not answering right now")
    expect(answer).to_contain_text("Only visible to you")
    expect(page.locator("#calls .call.bad").first).to_contain_text("503")


def test_the_home_tab(page: Any) -> None:
    open_dm(page)
    page.click(".app-tab[data-pane=home]")
    home = page.locator("#home")
    expect(home).to_contain_text("nightly_loader")
    expect(home).to_contain_text("Expiry reminders are on")
    home.locator("button", has_text=re.compile("^Create a key$")).click()  # a click in a view: block_actions
    expect(page.locator("#modal-layer .bk-modal-title")).to_have_text("Create a DataOS key")
    page.keyboard.press("Escape")
    expect(page.locator("#modal-layer")).to_be_hidden()
    home.locator("button", has_text="Turn reminders off").click()
    expect(home).to_contain_text("Expiry reminders are off")


def test_suggestions_and_the_trigger_reach_the_bot(page: Any, playground: RunningPlayground) -> None:
    page.fill("#composer", "/api")
    page.dispatch_event("#composer", "input")
    suggestion = page.locator("#suggestions li")
    expect(suggestion).to_contain_text("/apikey")
    expect(suggestion).to_contain_text("List and create your DataOS API keys")
    page.press("#composer", "Tab")
    expect(page.locator("#composer")).to_have_value("/apikey ")
    page.fill("#composer", "/apikey create")
    page.press("#composer", "Enter")
    expect(page.locator("#modal-layer .bk-modal")).to_be_visible()
    command = next(r for r in playground.call(lambda: list(playground.pg.slack.inspector))  # type: ignore[union-attr]
                   if r["what"] == "/apikey create")
    assert '"trigger_id"' in command["request"] and '"response_url"' in command["request"]
    assert command["status"] == "200"


def test_renew_from_a_reminder(page: Any) -> None:
    move_clock(page, 1)
    page.click("#sweep")
    expect(page.locator("#sweep-result")).to_contain_text("reminders sent: 3")
    open_dm(page)
    reminder = page.locator(f"{DM} .msg", has_text="ci_pipeline").filter(has=page.locator("button", has_text="Renew"))
    reminder.locator("button", has_text="Renew").click()
    modal = page.locator("#modal-layer .bk-modal")
    expect(modal.locator(".bk-modal-title")).to_have_text("Renew a DataOS key")
    modal.locator(".bk-submit").click()
    expect(modal.locator(".bk-modal-title")).to_have_text("Key created")
    modal.locator(".bk-close").click()
    open_dm(page)
    expect(page.locator(f"{DM} .msg", has_text="Your new DataOS API key")).to_contain_text("Only visible to you")


def test_dm_refused_leaves_the_key_in_the_window(page: Any) -> None:
    set_fault(page, "dm_refused")
    modal = open_create_form(page)
    modal.locator(".bk-submit").click()
    expect(modal.locator(".bk-modal-title")).to_have_text("Key created")
    expect(modal).to_contain_text("I could not deliver it to your direct messages")
    modal.locator("button", has_text="Show the key here").click()
    expect(modal.locator("pre.bk-pre")).to_be_visible()
    expect(page.locator("#calls")).to_contain_text("messages_tab_disabled")
    modal.locator(".bk-close").click()
    open_dm(page)
    expect(page.locator(f"{DM} .msg")).to_have_count(0)  # nothing reached the DM


def test_a_key_pasted_in_a_channel_is_caught(page: Any) -> None:
    modal = open_create_form(page)
    modal.locator(".bk-submit").click()
    # Slack's client holds a submitted form until the app answers: closing it is for once the key is made.
    expect(modal.locator(".bk-modal-title")).to_have_text("Key created")
    modal.locator(".bk-close").click()
    open_dm(page)
    secret = page.locator(f"{DM} .msg pre.bk-pre").inner_text().strip()
    page.click(".nav-item[data-pane=C0GENERAL]")
    send(page, f"here you go: {secret}")
    expect(page.locator("#messages .msg", has_text="here you go")).to_have_count(1)
    open_dm(page)
    warning = page.locator(f"{DM} .msg", has_text="was posted in")
    expect(warning).to_contain_text("#general")  # the channel's name, from the <#C…> mention
    expect(warning.locator("button", has_text="Revoke now")).to_have_count(1)


def test_an_admin_looks_at_someone_elses_keys_and_cannot_link_to_an_application(page: Any) -> None:
    act_as(page, "Grace Hopper")
    send(page, "/apikey admin keys @ada")
    answer = page.locator(f"{DM} .msg").last
    expect(answer).to_contain_text("nightly_loader")
    send(page, "/apikey admin link @bob etl-ingest")
    refusal = page.locator(f"{DM} .msg").last
    expect(refusal).to_contain_text("application user")
    expect(refusal).to_contain_text("Nothing was linked")
    page.click(".nav-item[data-pane=C0AUDIT]")
    expect(page.locator("#messages")).to_contain_text("admin")  # the audit channel has the lines

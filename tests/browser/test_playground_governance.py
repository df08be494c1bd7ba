"""Governance in the playground (issue #28), in a real browser: Bob asks for a 180-day key, which the seeded
policy sends to Grace for approval in #apikey-approvals; Grace approves (in a tab of her own) and the key
reaches Bob's open page privately. Ada makes a key "in the DataOS UI", the sweep asks her "Was this you?",
and she answers That was me. Screenshots of the end states are kept in each test's tmp_path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser.running import RunningPlayground
from tests.browser.test_playground import DM, act_as, open_create_form, open_dm

APPROVALS_PANE = ".nav-item[data-pane=C0APPROVALS]"


def test_bob_asks_for_a_180_day_key_and_grace_approves_it(page: Any, browser: Any, playground: RunningPlayground,
                                                          tmp_path: Path) -> None:
    act_as(page, "Bob Stone")  # Bob's page stays open: the key arrives in his DM, for him only
    modal = open_create_form(page)
    validity = modal.locator("select.bk-select").first
    expect(validity.locator("option", has_text="180 days (needs approval)")).to_have_count(1)
    modal.locator("input.bk-input").first.fill("etl_loader")
    validity.select_option(label="180 days (needs approval)")
    modal.locator("textarea.bk-input").fill("nightly ETL into the warehouse")
    modal.locator(".bk-submit").click()
    expect(modal.locator(".bk-modal-title")).to_have_text("Approval requested")
    expect(modal).to_contain_text("#apikey-approvals")
    expect(modal).to_contain_text("arrives privately in your DM")
    page.screenshot(path=str(tmp_path / "bob-asked.png"))
    modal.locator(".bk-close").click()
    assert playground.call(lambda: dict(playground.pg.emu.tokens["bob"])) == {}  # type: ignore[union-attr]

    context = browser.new_context(viewport={"width": 1400, "height": 860}, timezone_id="America/Los_Angeles")
    grace = context.new_page()
    try:
        grace.goto(playground.url)
        grace.wait_for_selector("#banner", state="hidden")
        act_as(grace, "Grace Hopper")
        grace.click(APPROVALS_PANE)
        expect(grace.locator("#pane-title")).to_have_text("# apikey-approvals")
        request = grace.locator(f"{DM} .msg", has_text="etl_loader").filter(
            has=grace.locator("button", has_text="Approve"))
        expect(request).to_contain_text("nightly ETL into the warehouse")
        expect(request).to_contain_text("180 days")
        request.locator("button", has_text="Approve").click()
        grace.locator("#confirm-layer .bk-ok").click()
        updated = grace.locator(f"{DM} .msg", has_text="etl_loader").first
        expect(updated).to_contain_text("Approved by @Grace Hopper")
        expect(updated).to_contain_text("key etl_loader created")
        expect(updated.locator("button")).to_have_count(0)
        grace.screenshot(path=str(tmp_path / "grace-approved.png"))
    finally:
        context.close()

    open_dm(page)
    delivered = page.locator(f"{DM} .msg", has_text="Your new DataOS API key")
    expect(delivered).to_contain_text("Only visible to you")
    expect(delivered).to_contain_text("etl_loader")
    secret = delivered.locator("pre.bk-pre").inner_text().strip()
    key = playground.call(lambda: playground.pg.emu.tokens["bob"]["etl_loader"])  # type: ignore[union-attr]
    assert secret == key.apikey and (key.expiration - playground.pg.clock.now()).days in (179, 180)  # type: ignore[union-attr]
    expect(page.locator(f"{DM} .msg", has_text="approved your request")).to_have_count(1)
    page.click(APPROVALS_PANE)
    expect(page.locator(DM)).not_to_contain_text(secret)  # never in the channel


def test_ada_makes_a_key_in_the_dataos_ui_and_answers_that_was_me(page: Any, tmp_path: Path) -> None:
    page.click("#ui-key")
    expect(page.locator("#ui-key-result")).to_contain_text("in the DataOS UI")
    made = page.locator("#ui-key-result").inner_text().split(" made ", 1)[1].split(" ", 1)[0]
    page.click("#sweep")
    expect(page.locator("#sweep-result")).to_contain_text("new keys the bot did not make, told to their owners: 1")
    open_dm(page)
    notice = page.locator(f"{DM} .msg", has_text="Was this you?")
    expect(notice).to_contain_text(made)
    expect(notice).to_contain_text("was created outside Slack, first seen")
    expect(notice).not_to_contain_text("nightly_loader")  # the seeded keys are the baseline
    notice.locator("button", has_text="That was me").click()
    expect(notice).to_contain_text("said this key is theirs")
    expect(notice).to_contain_text("(edited)")
    page.screenshot(path=str(tmp_path / "that-was-me.png"))
    page.click("#sweep")  # told once
    expect(page.locator("#sweep-result")).not_to_contain_text("told to their owners")
    expect(page.locator(f"{DM} .msg", has_text="Was this you?")).to_have_count(1)

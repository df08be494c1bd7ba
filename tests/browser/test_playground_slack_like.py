"""The playground behaves as Slack does where a difference would mislead (#23, "The playground"): each
test drives the real bot through the page in Chromium; screenshots are kept in the test's tmp_path."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser.running import RunningPlayground
from tests.browser.test_playground import DM, act_as, open_create_form, open_dm, send


def in_view(page: Any, selector: str, within: str | None = None) -> bool:
    """Whether the element is wholly inside the window (and inside `within`'s visible box)."""
    return bool(page.evaluate("""([sel, within]) => {
        const box = document.querySelector(sel).getBoundingClientRect();
        const inside = (outer) => box.top >= outer.top - 1 && box.bottom <= outer.bottom + 1
                                 && box.left >= outer.left - 1 && box.right <= outer.right + 1;
        const win = { top: 0, left: 0, bottom: innerHeight, right: innerWidth };
        return inside(win) && (!within || inside(document.querySelector(within).getBoundingClientRect()));
    }""", [selector, within]))


def page_scrolls(page: Any) -> dict[str, int]:
    return dict(page.evaluate("""() => ({ x: scrollX, y: scrollY,
        wide: document.documentElement.scrollWidth - innerWidth,
        tall: document.documentElement.scrollHeight - innerHeight })"""))


def test_an_admins_revoke_removes_the_key_that_was_confirmed(page: Any, playground: RunningPlayground) -> None:
    act_as(page, "Grace Hopper")
    send(page, "/apikey admin keys @ada")
    answer = page.locator(f"{DM} .msg", has_text="Keys of")
    expect(answer).to_contain_text("notebook_sandbox")
    row = answer.locator(".bk-section", has_text="notebook_sandbox").locator("xpath=following-sibling::div[1]")
    row.locator("button", has_text="Revoke").click()
    dialog = page.locator("#confirm-layer .bk-confirm-dialog")
    expect(dialog).to_contain_text("notebook_sandbox")
    dialog.locator(".bk-ok").click()
    expect(page.locator(DM)).to_contain_text("Revoked notebook_sandbox")
    expect(page.locator(DM)).not_to_contain_text("Revoked nightly_loader")
    left = playground.call(lambda: sorted(playground.pg.emu.tokens["ada"]))  # type: ignore[union-attr]
    assert left == ["ci_pipeline", "dashboard_reader", "nightly_loader"]


def test_the_conversation_scrolls_in_its_pane_and_follows_new_messages(page: Any, tmp_path: Path) -> None:
    for n in range(1, 11):
        send(page, "/apikey list")
        expect(page.locator(f"{DM} .msg", has_text="Your DataOS API keys")).to_have_count(n)
    # Ada owns etl-ingest (#22): each list ends with her team's keys, right after her own
    expect(page.locator(f"{DM} .msg", has_text="Keys of etl-ingest")).to_have_count(10)
    expect(page.locator(f"{DM} .msg").last).to_contain_text("Keys of etl-ingest")
    page.screenshot(path=str(tmp_path / "ten-lists.png"))
    assert page_scrolls(page) == {"x": 0, "y": 0, "wide": 0, "tall": 0}  # the window itself never scrolls
    for fixed in ("#composer", "#persona", "#clock", "[data-fault=dataos_down]", "#calls li"):
        assert in_view(page, fixed), f"{fixed} left the screen"
    assert in_view(page, f"{DM} .msg:last-child", within=DM), "the newest message is not in view"
    assert page.evaluate(f"document.querySelector('{DM}').scrollTop") > 0  # the pane scrolled, not the page


def test_a_modal_keeps_focus_and_belongs_to_its_person(page: Any) -> None:
    modal = open_create_form(page)
    for _ in range(12):  # Tab never leaves the modal, as in Slack
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.closest('#modal-layer') !== null")
    assert page.evaluate("document.getElementById('app').inert")  # nothing behind it can be reached
    page.keyboard.press("Escape")
    expect(page.locator("#modal-layer")).to_be_hidden()
    open_create_form(page)
    # A script switches the persona anyway (the page behind the modal is inert to people):
    page.evaluate("""() => { const s = document.getElementById('persona'); s.value = 'U0DAN';
                             s.dispatchEvent(new Event('change')); }""")
    expect(page.locator("#persona-note")).to_contain_text("has no DataOS user")
    expect(page.locator("#modal-layer")).to_be_hidden()  # Ada's modal is not on Dan's screen
    assert not page.evaluate("document.getElementById('app').inert")
    send(page, "/apikey help")
    expect(page.locator(f"{DM} .msg").last).to_contain_text("/apikey")
    act_as(page, "Ada Lovelace")  # back on Ada's screen, her modal is still open, and works
    expect(modal.locator(".bk-modal-title")).to_have_text("Create a DataOS key")
    modal.locator(".bk-modal-x").click()
    expect(page.locator("#modal-layer")).to_be_hidden()


def test_usable_at_800_and_readable_at_480_pixels(page: Any, tmp_path: Path) -> None:
    send(page, "/apikey list")
    expect(page.locator(f"{DM} .msg", has_text="Your DataOS API keys")).to_have_count(1)
    for width in (1400, 800, 480):
        page.set_viewport_size({"width": width, "height": 860})
        page.screenshot(path=str(tmp_path / f"playground-{width}.png"))
        assert page_scrolls(page)["wide"] == 0, f"the page scrolls sideways at {width} px"
        assert in_view(page, "#composer") and in_view(page, "#pane-title")
    page.set_viewport_size({"width": 800, "height": 860})
    expect(page.locator("#controls")).to_be_hidden()  # a drawer now
    page.click("#open-controls")
    expect(page.locator("#clock")).to_be_visible()
    page.screenshot(path=str(tmp_path / "playground-800-controls.png"))
    page.click("[data-days='1']")
    expect(page.locator("#clock")).to_contain_text("(1 day ahead)")
    page.keyboard.press("Escape")
    expect(page.locator("#controls")).to_be_hidden()
    page.set_viewport_size({"width": 480, "height": 860})
    expect(page.locator("#sidebar")).to_be_hidden()
    page.click("#open-sidebar")
    page.screenshot(path=str(tmp_path / "playground-480-sidebar.png"))
    page.click(".nav-item[data-pane=C0GENERAL]")
    expect(page.locator("#sidebar")).to_be_hidden()
    expect(page.locator("#pane-title")).to_have_text("# general")


def test_a_reload_drops_ephemeral_messages(page: Any) -> None:
    send(page, "/apikey create")
    page.locator("#modal-layer .bk-submit").click()
    expect(page.locator("#modal-layer .bk-modal-title")).to_have_text("Key created")
    page.locator("#modal-layer .bk-close").click()
    open_dm(page)
    delivered = page.locator(f"{DM} .msg", has_text="Your new DataOS API key")
    expect(delivered).to_contain_text("Only visible to you")
    page.reload()
    page.wait_for_selector("#banner", state="hidden")
    expect(page.locator("#pane-title")).to_have_text("🔑 DataOS API keys")  # the same conversation
    expect(page.locator(f"{DM} .msg", has_text="Your new DataOS API key")).to_have_count(0)
    expect(page.locator(f"{DM} pre.bk-pre")).to_have_count(0)  # the key's value is gone with it


def test_deactivating_a_member_brings_the_admins_notice(page: Any) -> None:
    page.locator("#members li", has_text="Ada Lovelace").locator("button", has_text="Deactivate").click()
    expect(page.locator("#members li", has_text="Ada Lovelace")).to_contain_text("deactivated")
    act_as(page, "Grace Hopper")
    open_dm(page)
    notice = page.locator(f"{DM} .msg", has_text="was deactivated in Slack")
    expect(notice).to_contain_text("Ada Lovelace")
    expect(notice.locator("button", has_text="Revoke all 4")).to_have_count(1)
    page.locator("#members li", has_text="Ada Lovelace").locator("button", has_text="Reactivate").click()
    expect(page.locator("#members li", has_text="Ada Lovelace")).not_to_contain_text("deactivated")
    # the same notice, updated in place: no Revoke all left to press
    back = page.locator(f"{DM} .msg", has_text="was reactivated in Slack")
    expect(back).to_contain_text("Ada Lovelace")
    expect(back.locator("button", has_text="Revoke all")).to_have_count(0)
    expect(page.locator(f"{DM} .msg", has_text="was deactivated in Slack")).to_have_count(0)


def test_date_dividers_the_app_tabs_and_the_read_only_messages_tab(page: Any, playground: RunningPlayground) -> None:
    send(page, "/apikey list")
    revoke = page.locator(f"{DM} button", has_text="Revoke").first
    expect(revoke).to_have_css("background-color", "rgb(224, 30, 90)")  # Slack's danger buttons are solid
    expect(page.locator(f"{DM} .day-divider")).to_have_text(["Today"])
    page.click("[data-days='7']")
    expect(page.locator("#clock")).to_contain_text("7 days ahead")
    send(page, "/apikey help")
    dividers = page.locator(f"{DM} .day-divider")
    expect(dividers).to_have_count(2)
    expect(dividers.first).to_have_text(re.compile(r"^\w+day, \w+ \d+(st|nd|rd|th)$"))  # "Tuesday, December 1st"
    expect(dividers.last).to_have_text("Today")
    # The inspector's times are the playground's clock, a week ahead of the wall clock.
    ahead = playground.call(lambda: playground.pg.clock.now().strftime("%a %d %b"))  # type: ignore[union-attr]
    expect(page.locator("#calls li .at").first).to_contain_text(ahead)
    # The app is one sidebar item with Messages and Home tabs.
    expect(page.locator("#nav .nav-item", has_text="DataOS API keys")).to_have_count(1)
    open_dm(page)
    page.click(".app-tab[data-pane=home]")
    expect(page.locator("#home")).to_contain_text("Expiry reminders are")
    page.click(".app-tab[data-pane=dm]")
    # Its Messages tab is read-only, as the manifest says: no composer, Slack's sentence instead.
    expect(page.locator("#composer")).to_be_hidden()
    expect(page.locator("#read-only")).to_contain_text("Sending messages to this app has been turned off.")
    page.locator("#read-only button", has_text="general").click()
    expect(page.locator("#composer")).to_be_visible()


def test_the_leak_warnings_link_opens_the_message(page: Any) -> None:
    modal = open_create_form(page)
    modal.locator(".bk-submit").click()
    expect(modal.locator(".bk-modal-title")).to_have_text("Key created")  # closed once the key is made
    modal.locator(".bk-close").click()
    open_dm(page)
    secret = page.locator(f"{DM} .msg pre.bk-pre").inner_text().strip()
    page.click(".nav-item[data-pane=C0GENERAL]")
    send(page, f"here you go: {secret}")
    expect(page.locator("#messages .msg", has_text="here you go")).to_have_count(1)
    # A long word wraps, as in Slack: the conversation never scrolls sideways.
    assert page.evaluate("(() => { const m = document.querySelector('#messages');"
                         " return m.scrollWidth <= m.clientWidth; })()")
    open_dm(page)
    warning = page.locator(f"{DM} .msg", has_text="was posted in")
    warning.locator("a", has_text="the message").click()
    expect(page.locator("#pane-title")).to_have_text("# general")
    linked = page.locator("#messages .msg.linked")
    expect(linked).to_contain_text("here you go")
    expect(linked).to_be_in_viewport()

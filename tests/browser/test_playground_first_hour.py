"""A newcomer's first hour in the playground, in Chromium: the create form says what it will do with what
was typed (a custom validity, a name being fixed), and the page reads like Slack (date dividers, the
empty DM, a revoked key's buttons). Screenshots of the end state are kept in the test's tmp_path."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from playwright.sync_api import expect

from tests.browser.test_playground import DM, open_dm, send

VALIDITY = "select[data-action-id=validity]"


def ready_form(page: Any, command: str = "/apikey create") -> Any:
    """The create form, once the bot has drawn it whole (Ada owns a team: the "For" select comes first)."""
    send(page, command)
    modal = page.locator("#modal-layer .bk-modal")
    expect(modal.locator("select[data-action-id=for]")).to_be_visible()
    return modal


def test_a_custom_validity_typed_beside_the_untouched_preset_is_the_one_used(page: Any) -> None:
    modal = ready_form(page)
    expect(modal.locator(VALIDITY)).to_have_value("720h")  # "Valid for" still 30 days
    fields = modal.locator("input.bk-input")
    fields.nth(0).fill("longer")
    fields.nth(1).fill("45d")
    modal.locator(".bk-submit").click()
    expect(modal.locator(".bk-modal-title")).to_have_text("Key created")
    expect(modal).to_contain_text("in 45 days")


def test_a_custom_validity_beside_another_chosen_preset_is_asked_about(page: Any) -> None:
    modal = ready_form(page)
    modal.locator(VALIDITY).select_option("168h")
    modal.locator("input.bk-input").nth(1).fill("45d")
    modal.locator(".bk-submit").click()
    error = modal.locator(".bk-error")
    expect(error).to_have_text("“Valid for” says 7 days, and this says 45d: choose “Custom…” above to use 45d, "
                               "or clear this field to use 7 days.")
    modal.locator(VALIDITY).select_option("custom")
    modal.locator(".bk-submit").click()
    expect(modal.locator(".bk-modal-title")).to_have_text("Key created")
    expect(modal).to_contain_text("in 45 days")


def test_the_name_warning_goes_as_the_name_is_fixed(page: Any) -> None:
    modal = ready_form(page, "/apikey create my-key 7d")
    warning = modal.locator(".bk-context", has_text="may contain only letters")
    expect(warning).to_contain_text("not “-”")
    name = modal.locator("input.bk-input").first
    expect(name).to_have_value("my-key")
    name.click()
    name.press("End")
    for _ in range(3):
        name.press("ArrowLeft")
    name.press("Backspace")  # "mykey": nothing wrong any more
    expect(warning).to_have_count(0)
    name.press("_")  # typed where the caret was before the form was redrawn
    expect(name).to_have_value("my_key")
    expect(modal.locator(VALIDITY)).to_have_value("168h")  # the 7 days asked for stay
    name.press("End")
    name.press_sequentially(" v2")
    expect(modal.locator(".bk-context", has_text="not spaces")).to_be_visible()
    for _ in range(3):
        name.press("Backspace")
    expect(modal.locator(".bk-context")).to_have_count(0)
    modal.locator(".bk-submit").click()
    expect(modal.locator(".bk-modal-title")).to_have_text("Key created")
    expect(modal).to_contain_text("my_key")
    expect(modal).to_contain_text("in 7 days")
    modal.locator(".bk-close").click()
    open_dm(page)
    expect(page.locator(f"{DM} .msg", has_text="Your new DataOS API key")).to_contain_text("my_key")


DIVIDERS = """() => {
    const pane = document.querySelector('#messages').getBoundingClientRect();
    return [...document.querySelectorAll('#messages .day-divider')].map((d) => {
        const pill = d.querySelector('span').getBoundingClientRect();
        const day = d.closest('.day');
        const own = day ? day.getBoundingClientRect() : { top: 0, bottom: 0 };
        return { text: d.textContent, top: pill.top - pane.top, bottom: pill.bottom - pane.top,
                 day_top: own.top - pane.top, day_bottom: own.bottom - pane.top };
    });
}"""


def test_one_date_at_a_time_stays_above_the_messages_it_is_the_date_of(page: Any) -> None:
    for day in range(3):
        for _ in range(2):  # tall enough for each day to fill the pane
            send(page, "/apikey help")
        expect(page.locator(f"{DM} .msg", has_text="from Slack")).to_have_count(2 * day + 2)
        page.click("[data-days='1']")
        expect(page.locator("#clock")).to_contain_text(f"({day + 1} day")
    send(page, "/apikey help")
    expect(page.locator(f"{DM} .day-divider")).to_have_count(4)
    height = page.evaluate("(() => { const m = document.querySelector('#messages');"
                           " return m.scrollHeight - m.clientHeight; })()")
    assert height > 1000
    for fraction in (0.2, 0.5, 0.8, 1.0):
        page.evaluate(f"document.querySelector('#messages').scrollTop = {height * fraction}")
        seen = page.evaluate(DIVIDERS)
        # Never a pile of dates: at most one at the top of the pane...
        assert len([d for d in seen if d["bottom"] > 0 and d["top"] < 40]) <= 1, (fraction, seen)
        tops = sorted((d["top"], d["bottom"]) for d in seen)
        assert all(a[1] <= b[0] for a, b in pairwise(tops)), f"dates overlap: {seen}"
        # ...and each date stays over its own day's messages only (pushed away by the next day's).
        assert all(d["day_top"] - 20 <= d["top"] and d["bottom"] <= d["day_bottom"] + 1 for d in seen), [
            (d["text"], round(d["top"]), round(d["bottom"]), round(d["day_top"]), round(d["day_bottom"])) for d in seen]
    stuck = page.evaluate(DIVIDERS)[-2]  # at the bottom: yesterday's date over the end of yesterday's messages
    assert stuck["day_top"] < 0 < stuck["day_bottom"] and 0 <= stuck["top"] < 40, stuck


def test_the_empty_messages_tab_does_not_ask_to_type_where_nobody_can(page: Any) -> None:
    expect(page.locator("#messages .empty")).to_contain_text("Type /apikey below.")  # #general has a composer
    open_dm(page)
    empty = page.locator("#messages .empty")
    expect(empty).to_contain_text("This is the very beginning of your messages with DataOS API keys.")
    expect(empty).not_to_contain_text("below")
    expect(page.locator("#composer")).to_be_hidden()


def test_the_buttons_of_a_revoked_key_stay_and_answer_with_what_is_true_now(page: Any) -> None:
    for n in (1, 2):
        send(page, "/apikey list")
        expect(page.locator(f"{DM} .msg", has_text="Your DataOS API keys")).to_have_count(n)
    lists = page.locator(f"{DM} .msg", has_text="Your DataOS API keys")
    older, newer = lists.nth(0), lists.nth(1)
    newer.locator("[data-block-id*='ci_pipeline'] button", has_text="Revoke").click()
    page.locator("#confirm-layer .bk-ok").click()
    expect(newer).to_contain_text("Key ci_pipeline revoked.")
    expect(newer.locator("[data-block-id*='ci_pipeline']")).to_have_count(0)
    # The earlier list is as it was drawn: its buttons for the key stay, as in Slack...
    row = older.locator("[data-block-id*='ci_pipeline']")
    expect(row.locator("button")).to_have_text(["Reveal", "Revoke"])
    # ...and each answers with what is true now.
    row.locator("button", has_text="Reveal").click()
    modal = page.locator("#modal-layer .bk-modal")
    expect(modal).to_contain_text("DataOS has no key named ci_pipeline for you (it may have been revoked already).")
    expect(modal.locator("pre.bk-pre")).to_have_count(0)
    modal.locator(".bk-close").click()
    row.locator("button", has_text="Revoke").click()
    page.locator("#confirm-layer .bk-ok").click()
    expect(page.locator(f"{DM} .msg").last).to_contain_text(
        "DataOS has no key named ci_pipeline for you (it may have been revoked already). Nothing was changed.")
    expect(row.locator("button")).to_have_count(2)  # still there, still answering

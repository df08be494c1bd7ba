"""A newcomer's first hour in the playground, in Chromium: the create form says what it will do with what
was typed (a custom validity, a name being fixed), and the page reads like Slack (date dividers, the
empty DM, a revoked key's buttons). Screenshots of the end state are kept in the test's tmp_path."""

from __future__ import annotations

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
    expect(modal.locator(".bk-modal-title")).to_have_text("Key created", timeout=15_000)
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
    expect(modal.locator(".bk-modal-title")).to_have_text("Key created", timeout=15_000)
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
    expect(modal.locator(".bk-modal-title")).to_have_text("Key created", timeout=15_000)
    expect(modal).to_contain_text("my_key")
    expect(modal).to_contain_text("in 7 days")
    modal.locator(".bk-close").click()
    open_dm(page)
    expect(page.locator(f"{DM} .msg", has_text="Your new DataOS API key")).to_contain_text("my_key")

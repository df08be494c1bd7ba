"""Workflow Builder steps in the playground (issue #29), in a real browser: the Workflows control runs each
step for the chosen person and lists what its next steps would see. Ada runs "Create a DataOS API key",
confirms it in her DM (the step's own buttons) and gets the key there, privately, while the run shows only its
name and expiry; "List keys that expire soon" counts hers; as Ada, "Request a key for an application user"
for etl-ingest above 90 days waits until Grace approves it in #apikey-approvals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser.running import RunningPlayground
from tests.browser.test_playground import DM, act_as, open_dm

APPROVALS_PANE = ".nav-item[data-pane=C0APPROVALS]"


def run_step(page: Any, step: str, **fields: str) -> Any:
    """Run a step from the Workflows control; the list item of its run."""
    page.select_option("#wf-step", value=step)
    for field, value in fields.items():
        page.fill(f"#wf-{field.replace('_', '-')}", value)
    result = page.locator("#wf-result")
    previous = result.text_content() or ""  # the last run's line stays until this run's replaces it
    page.click("#wf-run")
    expect(result).to_contain_text("execution Fx")
    if previous.strip():
        expect(result).not_to_have_text(previous)
    execution = result.inner_text().rsplit("execution ", 1)[1].rstrip(".")
    return page.locator(f"#wf-runs li[data-execution={execution}]")


def test_ada_creates_a_key_from_a_workflow_and_lists_what_expires_soon(page: Any, playground: RunningPlayground,
                                                                       tmp_path: Path) -> None:
    run = run_step(page, "create_dataos_key", name="wf_onboarding", validity="30d")
    expect(run).to_contain_text("running: waiting for someone")
    open_dm(page)
    asked = page.locator(f"{DM} .msg", has_text="A workflow asks me to create a DataOS API key for you")
    expect(asked).to_contain_text("wf_onboarding")
    asked.locator("button", has_text="Create my key").click()
    expect(run).to_contain_text("completed", timeout=15_000)
    expect(run).to_contain_text("key_name: wf_onboarding")
    expect(run).to_contain_text("expires_at: ")
    delivered = page.locator(f"{DM} .msg", has_text="Your new DataOS API key")
    expect(delivered).to_contain_text("Only visible to you", timeout=15_000)
    secret = delivered.locator("pre.bk-pre").inner_text().strip()
    key = playground.call(lambda: playground.pg.emu.tokens["ada"]["wf_onboarding"])  # type: ignore[union-attr]
    assert secret == key.apikey
    expect(page.locator("#wf-runs")).not_to_contain_text(secret)  # the workflow never sees the key
    # her question became the answer: the buttons are gone
    answered = page.locator(f"{DM} .msg", has_text="Created wf_onboarding")
    expect(answered).to_have_count(1, timeout=15_000)
    expect(answered.locator("button")).to_have_count(0)
    page.screenshot(path=str(tmp_path / "created-from-a-workflow.png"))

    listed = run_step(page, "list_expiring_keys", within="7")
    expect(listed).to_contain_text("count: 2", timeout=15_000)  # nightly_loader (1 day), ci_pipeline (6 days)
    expect(listed).to_contain_text("nightly_loader")
    expect(listed).not_to_contain_text("wf_onboarding")


def test_a_workflows_request_for_etl_ingest_waits_for_grace(page: Any, browser: Any,
                                                            playground: RunningPlayground) -> None:
    run = run_step(page, "request_app_user_key", app_user="etl-ingest", validity="180d", reason="backfill 2025")
    expect(run).to_contain_text("running: waiting for someone")
    context = browser.new_context(viewport={"width": 1400, "height": 860}, timezone_id="America/Los_Angeles")
    grace = context.new_page()
    try:
        grace.goto(playground.url)
        grace.wait_for_selector("#banner", state="hidden")
        act_as(grace, "Grace Hopper")
        grace.click(APPROVALS_PANE)
        request = grace.locator(f"{DM} .msg", has_text="backfill 2025").filter(
            has=grace.locator("button", has_text="Approve"))
        request.locator("button", has_text="Approve").click()
        grace.locator("#confirm-layer .bk-ok").click()
        expect(grace.locator(f"{DM} .msg", has_text="backfill 2025").first).to_contain_text("Approved by",
                                                                                         timeout=15_000)
    finally:
        context.close()
    expect(run).to_contain_text("decision: approved", timeout=15_000)
    expect(run).to_contain_text("decided_by: U0GRACE")
    expect(run).to_contain_text("key_name: ")
    open_dm(page)
    expect(page.locator(f"{DM} .msg", has_text="etl-ingest").filter(has_text="Only visible to you")).to_have_count(
        1, timeout=15_000)

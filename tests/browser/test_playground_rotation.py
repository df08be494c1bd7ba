"""Rotation in the playground (#27 item 9): `etl-ingest`'s newest key rotates itself into
`secret/pipelines/etl-ingest`, whose versions the Controls show masked. A newcomer presses +7 days and runs
the sweep: the channel reads which key went where, Controls show version 2; a day later the sweep revokes
the old key after the grace, and the channel message says so in place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser.running import RunningPlayground
from tests.browser.test_playground import DM

TEAM_PANE = ".nav-item[data-pane=C0DATAENG]"


def test_plus_seven_days_the_sweep_rotates_into_the_store_and_the_old_key_goes_after_the_grace(
        page: Any, playground: RunningPlayground, tmp_path: Path) -> None:
    versions = page.locator("#vault-versions li")
    expect(page.locator("#vault-path")).to_have_text("vault:secret/pipelines/etl-ingest")
    expect(versions).to_have_count(1)
    expect(versions.first).to_contain_text("version 1")
    expect(versions.first).to_contain_text("key_name: ingest_writer")
    old = playground.call(lambda: playground.pg.emu.tokens["etl-ingest"]["ingest_writer"].apikey)  # type: ignore[union-attr]
    expect(page.locator("#vault-versions")).not_to_contain_text(old)  # masked

    page.click("[data-days='7']")
    expect(page.locator("#clock")).to_contain_text("(7 days ahead)")
    page.click("#sweep")
    expect(page.locator("#sweep-result")).to_contain_text("rotations started: 1")
    expect(versions).to_have_count(2)
    newest = versions.first
    expect(newest).to_contain_text("version 2")
    expect(newest).to_contain_text("key_name: ingest_writer_")
    expect(newest).to_contain_text("rotated_by: apikey-bot")
    page.click(TEAM_PANE)
    announced = page.locator(f"{DM} .msg", has_text="was rotated")
    expect(announced).to_contain_text("version 2 of secret/pipelines/etl-ingest")
    expect(announced).to_contain_text("stops working")
    # the key being rotated out is not reminded (nor asked to be renewed) during its grace
    expect(page.locator(f"{DM} .msg").filter(has=page.locator("button", has_text="Renew"))).to_have_count(0)
    page.screenshot(path=str(tmp_path / "rotated.png"))
    names = playground.call(lambda: sorted(playground.pg.emu.tokens["etl-ingest"]))  # type: ignore[union-attr]
    assert "ingest_writer" in names and any(n.startswith("ingest_writer_") for n in names)

    page.click("[data-days='1']")
    expect(page.locator("#clock")).to_contain_text("(8 days ahead)")  # the sweep must see the new time
    page.click("#sweep")
    expect(page.locator("#sweep-result")).to_contain_text("rotations done: 1")
    page.click(TEAM_PANE)
    expect(announced).to_contain_text("was revoked")
    expect(announced).to_contain_text("(edited)")
    names = playground.call(lambda: sorted(playground.pg.emu.tokens["etl-ingest"]))  # type: ignore[union-attr]
    assert "ingest_writer" not in names
    new = next(n for n in names if n.startswith("ingest_writer_"))
    secret = playground.call(lambda: playground.pg.emu.tokens["etl-ingest"][new].apikey)  # type: ignore[union-attr]
    expect(page.locator("body")).not_to_contain_text(secret)

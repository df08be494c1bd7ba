"""A credential derived from another dies with it: every key deletion goes through the one function that
also ends the self-links the key proved (`KeyService.delete_token`). A new call site that deletes a key
some other way would leave those links alive; this test finds it."""

from __future__ import annotations

import re
from pathlib import Path

BOT = Path(__file__).resolve().parents[2] / "bot"


def test_keys_are_deleted_only_through_key_service() -> None:
    direct = re.compile(r"\.dataos\.delete_token\(")
    offenders = [f"{path.relative_to(BOT.parent)}:{n}" for path in BOT.rglob("*.py") if "playground" not in path.parts
                 for n, line in enumerate(path.read_text().splitlines(), 1) if direct.search(line)]
    assert offenders == ["bot/service.py:" + str(_line_of("await self.dataos.delete_token("))]


def _line_of(text: str) -> int:
    lines = (BOT / "service.py").read_text().splitlines()
    return next(n for n, line in enumerate(lines, 1) if text in line)

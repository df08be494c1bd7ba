"""Every setting the bot reads is documented where a newcomer looks: `.env.example` and the configuration
reference. A setting added to `Settings` without both fails here."""

from __future__ import annotations

import re
from pathlib import Path

from bot.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def _settings() -> list[str]:
    return [name.upper() for name in Settings.model_fields]


def test_every_setting_is_in_env_example() -> None:
    example = (ROOT / ".env.example").read_text()
    present = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", example, flags=re.M))
    missing = [name for name in _settings() if name not in present]
    assert missing == [], f".env.example lacks {missing}"


def test_every_setting_is_in_the_configuration_reference() -> None:
    table = (ROOT / "docs" / "configuration.md").read_text()
    documented = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", table, flags=re.M))
    missing = [name for name in _settings() if name not in documented]
    assert missing == [], f"docs/configuration.md lacks {missing}"
    unknown = sorted(documented - set(_settings()))
    assert unknown == [], f"docs/configuration.md documents settings that do not exist: {unknown}"

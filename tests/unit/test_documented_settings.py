"""Every setting the bot reads is documented where a newcomer looks: `.env.example` and the configuration
reference. A setting added to `Settings` without both fails here."""

from __future__ import annotations

import re
from pathlib import Path

from bot.config import EXAMPLE_VALUES, Settings

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


def test_every_example_value_in_env_example_is_known_to_doctor() -> None:
    """A `KEY=value` line of `.env.example` (commented or not) either shows the default or is an example a
    person must replace, which `apikey-bot doctor` then names while it is still in place."""
    example = (ROOT / ".env.example").read_text()
    shown = dict(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=(.*)$", example, flags=re.M))
    required = {"slack_bot_token": "xoxb-1", "heimdall_url": "https://d.example/heimdall", "DATAOS_APIKEY": "a2V5"}
    defaults = Settings(_env_file=None, **required)  # type: ignore[call-arg]
    examples = {}
    for name, value in shown.items():
        if name in ("SLACK_BOT_TOKEN", "HEIMDALL_URL", "DATAOS_APIKEY"):
            examples[name] = value  # required: whatever .env.example holds is an example
            continue
        # a setting that needs a companion to be valid at all (an address without a login) gets one
        companion = {"vault_token": "t"} if name == "VAULT_ADDR" else {}
        parsed = Settings(_env_file=None, **{**required, **companion, name.lower(): value})  # type: ignore[call-arg]
        if getattr(parsed, name.lower()) != getattr(defaults, name.lower()):
            examples[name] = value
    assert examples == EXAMPLE_VALUES

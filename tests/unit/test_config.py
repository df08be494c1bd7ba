from __future__ import annotations

import pytest

from bot.config import ConfigError, load_settings, normalise_heimdall_url

BASE = {
    "SLACK_BOT_TOKEN": "xoxb-1-2-abc",
    "SLACK_SIGNING_SECRET": "s3cr3t",
    "HEIMDALL_URL": "https://dataos.example.com/heimdall",
    "DATAOS_APIKEY": "b3BlcmF0b3I=",
}
ALL_VARS = [
    "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_API_URL", "HEIMDALL_URL",
    "DATAOS_APIKEY", "DATAOS_RUN_AS_APIKEY", "DATABASE_URL", "PORT", "ADMIN_SLACK_USER_IDS", "LOG_FORMAT",
    "LOG_LEVEL", "VALIDITY_PRESETS", "DEFAULT_VALIDITY", "MAX_VALIDITY",
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    for name in ALL_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def _env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for k, v in {**BASE, **values}.items():
        if v is None:
            monkeypatch.delenv(k, raising=False)
        else:
            monkeypatch.setenv(k, v)


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch)
    s = load_settings()
    assert s.port == 3000
    assert s.database_url == "sqlite+aiosqlite:///./data/apikey-bot.db"
    assert s.slack_api_url == "https://slack.com/api/"
    assert s.admin_slack_user_ids == []
    assert s.preset_hours == [24, 168, 720, 2160]
    assert s.default_validity_hours == 720


@pytest.mark.parametrize("var", ["SLACK_BOT_TOKEN", "HEIMDALL_URL", "DATAOS_APIKEY"])
def test_missing_required_names_the_variable(monkeypatch: pytest.MonkeyPatch, var: str) -> None:
    _env(monkeypatch)
    monkeypatch.delenv(var)
    with pytest.raises(ConfigError) as err:
        load_settings()
    message = str(err.value)
    assert var in message and "missing" in message and "\n" not in message


@pytest.mark.parametrize(
    ("var", "value", "expect"),
    [
        ("PORT", "http", "PORT is invalid"),
        ("PORT", "70000", "PORT is invalid"),
        ("SLACK_BOT_TOKEN", "xoxp-user-token", "xoxb-"),
        ("HEIMDALL_URL", "dataos.example.com", "HEIMDALL_URL is invalid"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL is invalid"),
        ("ADMIN_SLACK_USER_IDS", "U012ABC,alice", "not Slack user ids: alice"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT is invalid"),
        ("VALIDITY_PRESETS", "7d,forever", "VALIDITY_PRESETS is invalid"),
        ("MAX_VALIDITY", "10y", "MAX_VALIDITY is invalid"),
    ],
)
def test_malformed_names_variable_and_expectation(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str, expect: str
) -> None:
    _env(monkeypatch, **{var: value})
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert expect in str(err.value)
    assert "expected" in str(err.value)


def test_malformed_secret_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, SLACK_BOT_TOKEN="xoxp-very-secret-user-token")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "very-secret" not in str(err.value)


def test_default_longer_than_max(monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, DEFAULT_VALIDITY="400d")
    with pytest.raises(ConfigError, match="DEFAULT_VALIDITY is longer than MAX_VALIDITY"):
        load_settings()


def test_run_as_apikey_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, DATAOS_APIKEY=None)  # type: ignore[arg-type]
    monkeypatch.setenv("DATAOS_RUN_AS_APIKEY", "cnVuYXM=")
    assert load_settings().dataos_apikey.get_secret_value() == "cnVuYXM="
    monkeypatch.setenv("DATAOS_APIKEY", "ZXhwbGljaXQ=")
    assert load_settings().dataos_apikey.get_secret_value() == "ZXhwbGljaXQ="


def test_dotenv_file(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    with open(".env", "w") as f:
        f.write("SLACK_BOT_TOKEN=xoxb-from-file\nHEIMDALL_URL=https://d.example.com/heimdall/api/v1/\n"
                "DATAOS_APIKEY=a2V5\nADMIN_SLACK_USER_IDS=U01, W02X\nPORT=8080\n")
    s = load_settings()
    assert s.slack_bot_token.get_secret_value() == "xoxb-from-file"
    assert s.heimdall_url == "https://d.example.com/heimdall"
    assert s.admin_slack_user_ids == ["U01", "W02X"]
    assert s.port == 8080


@pytest.mark.parametrize(
    "url",
    [
        "https://d.example.com/heimdall",
        "https://d.example.com/heimdall/",
        "https://d.example.com/heimdall/api/v1",
        "https://d.example.com/heimdall/api/v1/",
    ],
)
def test_heimdall_url_normalised(url: str) -> None:
    assert normalise_heimdall_url(url) == "https://d.example.com/heimdall"


def test_presets_above_max_are_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, VALIDITY_PRESETS="1d,30d,400d", MAX_VALIDITY="90d")
    assert load_settings().preset_hours == [24, 720]


def test_secrets_not_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch)
    text = repr(load_settings())
    assert "xoxb-1-2-abc" not in text and "b3BlcmF0b3I=" not in text and "s3cr3t" not in text


def test_more_presets_than_the_form_can_show_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, VALIDITY_PRESETS=",".join(f"{h}h" for h in range(1, 101)))
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "VALIDITY_PRESETS" in str(err.value) and "at most 99" in str(err.value)
    assert "\n" not in str(err.value)

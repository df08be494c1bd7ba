"""The pure rules of rotation (bot.domain.rotation) and the Vault settings: each refusal is one sentence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.config import ConfigError, load_settings
from bot.domain.rotation import (
    RotationRefused,
    check_allowed,
    is_due,
    missing_capabilities,
    parse_allowed_paths,
    parse_grace,
    parse_rotate,
    parse_target,
    policy_for,
    successor_name,
    validity_hours,
)

NOW = datetime(2026, 11, 25, 14, 30, tzinfo=UTC)


def test_a_target_names_mount_path_and_field() -> None:
    target = parse_target("vault:secret/pipelines/etl-ingest#apikey")
    assert (target.mount, target.path, target.field) == ("secret", "pipelines/etl-ingest", "apikey")
    assert target.location == "secret/pipelines/etl-ingest" and str(target).startswith("vault:")
    assert target.data_path == "secret/data/pipelines/etl-ingest"


@pytest.mark.parametrize("text", ["secret/x#a", "vault:secret#a", "vault:secret/x", "vault:secret/x#",
                                  "vault:secret//x#a", "vault:secret/../x#a", "vault:secret/data/x#a",
                                  "vault:secret/x#key_name", "vault:secret/x y#a", "vault:/x#a"])
def test_malformed_targets_are_refused(text: str) -> None:
    with pytest.raises(RotationRefused):
        parse_target(text)


def test_allowed_paths_are_folder_prefixes() -> None:
    allowed = parse_allowed_paths("secret/pipelines, kv/teams/")
    assert allowed == ("secret/pipelines/", "kv/teams/")
    check_allowed(parse_target("vault:secret/pipelines/etl#k"), allowed)
    for outside in ("vault:secret/pipelines-evil/x#k", "vault:secret/other/x#k", "vault:kv/teamsx/y#k",
                    "vault:secret/pipelines#k"):  # the folder's own name is a secret beside it, not under it
        with pytest.raises(RotationRefused, match="outside"):
            check_allowed(parse_target(outside), allowed)
    with pytest.raises(RotationRefused, match="VAULT_ALLOWED_PATHS"):
        check_allowed(parse_target("vault:secret/pipelines/etl#k"), ())
    with pytest.raises(ValueError):
        parse_allowed_paths("secret/../x")
    for sneaky in ("vault:secret/pipelines/etl\n/x#k", "vault:secret\n/pipelines/x#k"):
        with pytest.raises(RotationRefused):  # a line break is no letter, wherever it is
            parse_target(sneaky)


def test_options_and_their_defaults() -> None:
    options = parse_rotate(["vault:secret/p/x#k"], max_hours=8760)
    assert options.every_hours is None and options.before_hours == 168 and options.grace == timedelta(hours=1)
    options = parse_rotate(["vault:secret/p/x#k", "grace", "0", "every", "30d", "before", "2d"], max_hours=8760)
    assert (options.every_hours, options.before_hours, options.grace) == (720, 48, timedelta(0))
    assert parse_grace("30m") == timedelta(minutes=30)
    with pytest.raises(RotationRefused):
        parse_grace("8d")


def test_when_a_rotation_is_due_and_how_the_successor_is_named() -> None:
    expiration = NOW + timedelta(days=7)
    assert is_due(NOW, expiration, 168) and not is_due(NOW, expiration + timedelta(hours=1), 168)
    assert successor_name("nightly_ingest_20261001", NOW) == "nightly_ingest_20261125"
    assert successor_name("x", NOW, {"x_20261125"}) == "x_20261125_2"
    assert validity_hours(None, None, max_hours=100, fallback_hours=720) == 100
    assert validity_hours(48, None, max_hours=100, fallback_hours=720) == 48


def test_the_policy_a_path_needs_and_what_is_missing() -> None:
    target = parse_target("vault:secret/pipelines/etl#apikey")
    assert 'path "secret/data/pipelines/etl"' in policy_for(target) and '"update"' in policy_for(target)
    held = {"secret/data/pipelines/etl": ["read"], "secret/metadata/pipelines/etl": ["read"]}
    assert missing_capabilities(target, held) == {"secret/data/pipelines/etl": ("create", "update")}
    assert missing_capabilities(target, {"secret/data/pipelines/etl": ["root"],
                                         "secret/metadata/pipelines/etl": ["root"]}) == {}


BASE = {"slack_bot_token": "xoxb-1", "slack_signing_secret": "s", "heimdall_url": "https://d.example.com/heimdall",
        "_env_file": None}


@pytest.mark.parametrize(("values", "says"), [
    ({"DATAOS_APIKEY": "k", "vault_addr": "https://v:8200"}, "no way to log in"),
    ({"DATAOS_APIKEY": "k", "vault_token": "t"}, "VAULT_TOKEN is set but VAULT_ADDR is not"),
    ({"DATAOS_APIKEY": "k", "vault_addr": "https://v", "vault_role_id": "r"}, "go together"),
    ({"DATAOS_APIKEY": "k", "vault_addr": "https://v", "vault_token": "t", "vault_k8s_role": "r"}, "one Vault login"),
    ({"dataos_apikey_from": "vault:secret/x#k"}, "needs VAULT_ADDR"),
    ({"DATAOS_APIKEY": "k", "vault_addr": "https://v", "vault_token": "t", "dataos_apikey_from": "secret/x"},
     "DATAOS_APIKEY_FROM is invalid"),
    ({}, "DATAOS_APIKEY is missing"),
])
def test_vault_settings_that_cannot_work_stop_start_up_with_one_line(values: dict[str, str], says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(**BASE, **values)
    assert says in str(caught.value) and "\n" not in str(caught.value)


def test_the_operator_key_may_come_from_the_store_alone() -> None:
    settings = load_settings(**BASE, vault_addr="https://v:8200/", vault_role_id="r", vault_secret_id="s",
                             dataos_apikey_from="vault:secret/apikey-bot/operator#apikey")
    assert settings.dataos_apikey is None and settings.vault_addr == "https://v:8200"

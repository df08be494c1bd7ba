"""docs/rotation.md: its YAML parses, the fields the page names exist where the operators' tools read them,
each refresh is shorter than the default grace, and the policy it shows is the one the bot asks for."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from bot.domain.rotation import DEFAULT_GRACE, parse_target, policy_for

DOC = (Path(__file__).resolve().parents[2] / "docs" / "rotation.md").read_text()


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC, flags=re.S)


def documents() -> list[dict[str, Any]]:
    return [yaml.safe_load(b) for b in blocks("yaml")]


def duration(text: str) -> timedelta:
    amount, unit = int(text[:-1]), text[-1]
    return timedelta(**{{"s": "seconds", "m": "minutes", "h": "hours"}[unit]: amount})


def test_every_yaml_block_parses() -> None:
    assert len(blocks("yaml")) == 3
    assert all(isinstance(d, dict) for d in documents())


def test_the_external_secret_refreshes_within_the_grace_and_reads_the_field() -> None:
    [es] = [d for d in documents() if d.get("kind") == "ExternalSecret"]
    assert es["apiVersion"].startswith("external-secrets.io/")
    assert duration(es["spec"]["refreshInterval"]) < DEFAULT_GRACE
    ref = es["spec"]["data"][0]["remoteRef"]
    assert ref["key"] == "pipelines/etl-ingest" and ref["property"] == "apikey"
    assert es["spec"]["secretStoreRef"]["name"] and es["spec"]["target"]["name"]


def test_the_vault_secrets_operator_refreshes_within_the_grace_and_restarts_the_deployment() -> None:
    [vss] = [d for d in documents() if d.get("kind") == "VaultStaticSecret"]
    spec = vss["spec"]
    assert vss["apiVersion"].startswith("secrets.hashicorp.com/")
    assert spec["type"] == "kv-v2" and spec["mount"] == "secret" and spec["path"] == "pipelines/etl-ingest"
    assert duration(spec["refreshAfter"]) < DEFAULT_GRACE
    assert spec["rolloutRestartTargets"][0]["kind"] == "Deployment" and spec["destination"]["name"]


def test_the_agent_annotations_and_template_read_the_same_path() -> None:
    [agent] = [d for d in documents() if "annotations" in (d.get("metadata") or {})]
    notes = agent["metadata"]["annotations"]
    assert notes["vault.hashicorp.com/agent-inject"] == "true"
    assert notes["vault.hashicorp.com/agent-inject-secret-dataos-apikey"] == "secret/data/pipelines/etl-ingest"
    assert ".Data.data.apikey" in notes["vault.hashicorp.com/agent-inject-template-dataos-apikey"]
    [template] = [b for b in blocks("hcl") if "template" in b]
    assert 'secret \\"secret/data/pipelines/etl-ingest\\"' in template and ".Data.data.apikey" in template


def test_the_policy_shown_is_the_one_the_bot_needs() -> None:
    [policy] = [b for b in blocks("hcl") if "capabilities" in b]
    assert policy == policy_for(parse_target("vault:secret/pipelines/etl-ingest#apikey"))

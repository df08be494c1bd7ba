"""The Dockerfile and the deployment manifests agree with the code (there is no Docker engine here)."""

from __future__ import annotations

import os
import re
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import Settings
from bot.web import EVENTS_PATH, HEALTH_PATH, METRICS_PATH, READY_PATH

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PORT = Settings.model_fields["port"].default
ENV_NAMES = {name.upper() for name in Settings.model_fields} | {"DATAOS_RUN_AS_APIKEY"}


def dockerfile() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text()
    text = re.sub(r"\\\n", " ", text)
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile()
    last_from = max(i for i, (op, _) in enumerate(instructions) if op == "FROM")
    return instructions[last_from:]


def test_dockerfile_is_multi_stage_slim_and_non_root() -> None:
    froms = [arg for op, arg in dockerfile() if op == "FROM"]
    assert len(froms) == 2 and all("slim" in f for f in froms)
    final = final_stage()
    users = [arg for op, arg in final if op == "USER"]
    assert users and users[-1] not in ("root", "0")
    runs = " ".join(arg for op, arg in final if op == "RUN")
    assert "--no-cache-dir" in runs and "apt-get" not in runs and "gcc" not in runs
    assert "--no-index" in runs  # the image installs only the wheels built in the first stage


def test_dockerfile_entrypoint_port_healthcheck_and_volume_match_the_app() -> None:
    final = dict(final_stage())
    assert final["ENTRYPOINT"] == '["apikey-bot"]' and final["CMD"] == '["serve"]'
    assert final["EXPOSE"] == str(DEFAULT_PORT)
    assert HEALTH_PATH in final["HEALTHCHECK"]
    assert final["VOLUME"] == '["/data"]'
    env = final["ENV"]
    assert f"PORT={DEFAULT_PORT}" in env and "DATABASE_URL=sqlite+aiosqlite:////data/" in env
    name = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"]
    assert name in final["RUN"]


def test_dockerignore_keeps_tests_and_local_state_out() -> None:
    lines = (ROOT / ".dockerignore").read_text().split()
    assert lines[lines.index("*")] == "*" and "!bot/" in lines and "!pyproject.toml" in lines
    assert not any(line.startswith("!tests") or line.startswith("!.env") for line in lines)


def load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_every_yaml_manifest_parses() -> None:
    files = sorted(ROOT.glob("manifests/**/*.yaml"))
    assert len(files) >= 7
    for path in files:
        assert load_all(path), path


def _k8s(kind: str) -> dict[str, Any]:
    for path in (ROOT / "manifests" / "kubernetes").glob("*.yaml"):
        for doc in load_all(path):
            if doc["kind"] == kind:
                return doc
    raise AssertionError(kind)


def test_kubernetes_deployment_agrees_with_the_code() -> None:
    pod = _k8s("Deployment")["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert set(env) <= ENV_NAMES
    assert container["ports"][0]["containerPort"] == DEFAULT_PORT == int(env["PORT"])
    assert container["readinessProbe"]["httpGet"]["path"] == READY_PATH
    assert container["livenessProbe"]["httpGet"]["path"] == HEALTH_PATH
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert env["DATABASE_URL"].split("////", 1)[1].startswith("data/") and "/data" in mounts
    annotations = _k8s("Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/path"] == METRICS_PATH
    assert set(_k8s("Secret")["stringData"]) <= ENV_NAMES
    service = _k8s("Service")["spec"]["ports"][0]
    assert service["targetPort"] == container["ports"][0]["name"]


@pytest.mark.parametrize(("filename", "socket_mode"), [("service.yaml", False), ("service-socket.yaml", True)])
def test_dataos_services_agree_with_the_code(filename: str, socket_mode: bool) -> None:
    doc = load_all(ROOT / "manifests" / "dataos" / filename)[0]
    assert doc["type"] == "service"
    svc = doc["service"]
    assert set(svc["envs"]) <= ENV_NAMES
    assert svc["servicePort"] == DEFAULT_PORT == int(svc["envs"]["PORT"])
    assert svc["dataosSecrets"][0]["consumptionType"] == "envVars"
    secret = load_all(ROOT / "manifests" / "dataos" / "secret.yaml")[0]
    assert svc["dataosSecrets"][0]["name"] == secret["name"]
    assert svc["stack"] == "container" and svc["stackSpec"]["command"] == ["apikey-bot"]
    if socket_mode:
        assert "ingress" not in svc and "--socket-mode" in svc["stackSpec"]["arguments"]
    else:
        ingress = svc["ingress"]
        assert ingress["enabled"] is True and ingress["noAuthentication"] is True and ingress["path"]
        assert svc["stackSpec"]["arguments"] == ["serve"]


def test_dataos_secret_is_key_value_with_known_names() -> None:
    secret = load_all(ROOT / "manifests" / "dataos" / "secret.yaml")[0]
    assert secret["type"] == "secret" and secret["secret"]["type"] == "key-value"
    assert set(secret["secret"]["data"]) <= ENV_NAMES
    assert {"SLACK_BOT_TOKEN", "DATAOS_APIKEY"} <= set(secret["secret"]["data"])


def test_slack_manifest_points_at_the_events_route() -> None:
    text = (ROOT / "manifests" / "slack-app.yaml").read_text()
    assert f"{EVENTS_PATH}\n" in text


def test_built_wheel_carries_the_migrations() -> None:
    """`make test` builds the wheel the image installs (into build/wheel) before running the tests."""
    wheel_dir = os.environ.get("BOT_WHEEL_DIR")
    if not wheel_dir:
        pytest.skip("BOT_WHEEL_DIR is not set: run through `make test`, which builds the wheel first")
    wheels = sorted(Path(wheel_dir).glob("dataos_apikey_bot-*.whl"))
    assert wheels, f"no wheel in {wheel_dir}"
    names = set(zipfile.ZipFile(wheels[-1]).namelist())
    assert "bot/store/migrations/env.py" in names
    assert {"bot/store/migrations/versions/0001_initial.py", "bot/store/migrations/versions/0002_reminders.py"} <= names
    assert "bot/py.typed" in names and not any(n.startswith("tests/") for n in names)

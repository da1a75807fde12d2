"""docker-compose.yml cannot run here (no Docker engine): check what can be checked."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema  # type: ignore[import-untyped, unused-ignore]
import pytest
import yaml

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def test_images_are_pinned(compose: dict[str, Any]) -> None:
    for name, svc in compose["services"].items():
        image = svc.get("image")
        if "build" in svc:
            continue
        assert image, f"{name}: no image"
        assert re.fullmatch(r"[\w./-]+:[\w.-]+", image), f"{name}: image {image!r} not pinned"
        assert not image.endswith(":latest"), name


def test_long_running_services_have_healthchecks(compose: dict[str, Any]) -> None:
    for name, svc in compose["services"].items():
        if svc.get("restart") == "no":
            continue
        assert "healthcheck" in svc, f"{name}: no healthcheck"


def test_dependencies_wait_for_health(compose: dict[str, Any]) -> None:
    """A service waits for a long-running one to be healthy, for a one-shot to succeed."""
    services = compose["services"]
    for name, svc in services.items():
        for dep, cond in (svc.get("depends_on") or {}).items():
            assert dep in services, f"{name}: depends on unknown service {dep}"
            one_shot = services[dep].get("restart") == "no"
            expected = "service_completed_successfully" if one_shot else "service_healthy"
            assert cond["condition"] == expected, f"{name} -> {dep}"
            assert not services[dep].get("profiles"), f"{name} depends on optional {dep}"


def test_every_variable_is_documented_and_no_secret_is_inline(compose: dict[str, Any]) -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    documented = {
        line.split("=", 1)[0].lstrip("# ").strip()
        for line in (ROOT / ".env.example").read_text().splitlines()
        if "=" in line
    }
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", text))
    assert used <= documented, f"undocumented in .env.example: {used - documented}"
    for svc in compose["services"].values():
        for key, value in (svc.get("environment") or {}).items():
            if "PASSWORD" in key:
                assert str(value).startswith("${"), f"{key} must come from the environment"


def test_mounted_files_exist(compose: dict[str, Any]) -> None:
    for svc in compose["services"].values():
        for volume in svc.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), source


def test_image_contains_every_package() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in ("gateway", "ingestor", "analytics", "sql"):
        assert f"COPY {package} ./{package}" in dockerfile


# --- issue 7: the whole stack -------------------------------------------------------


def _schema() -> dict[str, Any]:
    """The Compose Specification JSON schema as vendored by check-jsonschema (PyPI)."""
    from importlib.resources import files

    path = files("check_jsonschema") / "builtin_schemas" / "vendor" / "compose-spec.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(schema, dict)
    return schema


def _errors(doc: dict[str, Any]) -> list[str]:
    validator_cls = jsonschema.validators.validator_for(_schema())
    validator = validator_cls(_schema(), format_checker=validator_cls.FORMAT_CHECKER)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)
    ]


def test_compose_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    assert _errors(compose) == []


def test_schema_check_catches_mistakes(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["gateway"]["restart_policy"] = "always"  # not a service key
    broken["services"]["grafana"]["depends_on"]["timescaledb"]["condition"] = "healthy"
    errors = _errors(broken)
    assert any("restart_policy" in e for e in errors)
    assert any("depends_on" in e for e in errors)


def test_stack_services_and_profiles(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {
        "timescaledb", "mosquitto-init", "mosquitto", "migrate", "simulator",
        "gateway", "ingestor", "analytics", "analytics-api", "grafana", "mailpit",
    }  # fmt: skip
    profiles = {n: s.get("profiles") for n, s in services.items() if s.get("profiles")}
    assert profiles == {"simulator": ["sim"], "mailpit": ["dev"]}
    env_example = (ROOT / ".env.example").read_text()
    assert re.search(r"^COMPOSE_PROFILES=sim$", env_example, re.M)  # the simulator by default
    for name in ("timescaledb", "mosquitto", "grafana"):
        assert services[name]["image"].split(":")[1][0].isdigit(), name  # a version tag


def test_one_image_for_the_python_services(compose: dict[str, Any]) -> None:
    own = {n: s for n, s in compose["services"].items() if s.get("image") == "emusa-energy:local"}
    assert set(own) == {"migrate", "simulator", "gateway", "ingestor", "analytics", "analytics-api"}
    for name, svc in own.items():
        assert svc["build"] == ".", name


@pytest.mark.parametrize(
    "service", ["migrate", "simulator", "gateway", "ingestor", "analytics", "analytics-api"]
)
def test_service_commands_exist(compose: dict[str, Any], service: str) -> None:
    """Each command is a real subcommand of our console scripts (its --help answers)."""
    command = compose["services"][service]["command"]
    script = Path(sys.executable).parent / command[0]
    proc = subprocess.run(
        [str(script), command[1], "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr


def _acl_users() -> set[str]:
    """Users of the ACL template: plain ``user`` lines and account kinds (``#@kind user``)."""
    text = (ROOT / "mosquitto" / "acl").read_text()
    return set(re.findall(r"^user (\S+)$", text, re.M)) | set(
        re.findall(r"^#@(\w+) user <user>$", text, re.M)
    )


def test_each_service_uses_its_own_broker_user_and_database_role(compose: dict[str, Any]) -> None:
    services = compose["services"]
    init_env = services["mosquitto-init"]["environment"]
    expected_role = {"ingestor": "emusa_ingestor", "analytics": "emusa_analytics"}
    # the gateway's account is gw-<site>-<gateway id>, from the variables init-passwd.sh gets
    login = {"gateway": "gw-${EMUSA_SITE:-plant}-${EMUSA_GATEWAY_ID:-compose}"}
    assert {"EMUSA_SITE", "EMUSA_GATEWAY_ID"} <= set(init_env)
    assert (
        "gateway_id: ${EMUSA_GATEWAY_ID:-compose}"
        in compose["configs"]["gateway-simulator"]["content"]
    )
    for name in ("gateway", "ingestor", "analytics"):
        env = services[name]["environment"]
        password_var = f"EMUSA_MQTT_{name.upper()}_PASSWORD"
        expected = f"mqtt://{login.get(name, name)}:${{{password_var}}}@mosquitto:1883"
        assert env["EMUSA_MQTT_URL"] == expected
        assert name in _acl_users()
        assert password_var in init_env
        if name in expected_role:
            db = urlsplit(env["EMUSA_DATABASE_URL"])
            assert db.username == expected_role[name] and db.hostname == "timescaledb"
    assert "${EMUSA_INGESTOR_SHARED_GROUP" in str(services["ingestor"]["environment"])


def test_grafana_gets_the_provisioning_and_every_datasource_variable(
    compose: dict[str, Any],
) -> None:
    grafana = compose["services"]["grafana"]
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in grafana["volumes"]
    env = grafana["environment"]
    assert env["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?")
    datasource = (ROOT / "grafana/provisioning/datasources/emusa-timescaledb.yaml").read_text()
    needed = set(re.findall(r"\$\{(\w+)\}", datasource))
    assert needed and needed <= set(env), needed - set(env)
    home = env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (ROOT / "grafana/provisioning" / home.split("/provisioning/", 1)[1]).exists()


def test_default_gateway_config_polls_the_simulator(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    from gateway.config import TcpBusConfig, load

    gateway = compose["services"]["gateway"]
    default = re.fullmatch(
        r"\$\{EMUSA_GATEWAY_CONFIG:-(.+)\}", gateway["environment"]["EMUSA_GATEWAY_CONFIG"]
    )
    assert default
    (mount,) = gateway["configs"]
    assert mount["target"] == default.group(1)
    content = compose["configs"][mount["source"]]["content"]
    content = re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", content)  # compose's defaults
    path = tmp_path / "gateway.yaml"
    path.write_text(content)
    config = load(path, env={})
    (bus,) = config.buses
    assert isinstance(bus, TcpBusConfig)
    sim = compose["services"]["simulator"]["command"]
    assert bus.host == "simulator" and f"0.0.0.0:{bus.port}" in sim
    assert sorted(m.unit for m in bus.meters) == sorted(
        int(u) for u in sim[sim.index("--unit") + 1 :: 2]
    )
    assert str(config.queue.path).startswith("/var/lib/emusa/")
    assert "gateway-queue:/var/lib/emusa" in gateway["volumes"]
    assert "# devices:" in (ROOT / "docker-compose.yml").read_text()  # serial pass-through example


def test_named_volumes_are_declared_and_used(compose: dict[str, Any]) -> None:
    used = {
        v.split(":", 1)[0]
        for svc in compose["services"].values()
        for v in svc.get("volumes", [])
        if not v.startswith(("./", "$", "/"))
    }
    assert used == set(compose["volumes"])


def test_env_example_holds_no_secret() -> None:
    for line in (ROOT / ".env.example").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            if any(word in key for word in ("PASSWORD", "TOKEN", "API_KEY")):
                assert value == "", f"{key} has a value in .env.example"


def test_dockerignore_keeps_secrets_and_bulk_out_of_the_image() -> None:
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    for entry in (".env", ".git", ".venv", "tests"):
        assert entry in ignored

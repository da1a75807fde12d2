"""docker-compose.yml cannot run here (no Docker engine): check what can be checked."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

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
    services = compose["services"]
    for name, svc in services.items():
        for dep, cond in (svc.get("depends_on") or {}).items():
            assert dep in services, f"{name}: depends on unknown service {dep}"
            assert cond["condition"] == "service_healthy", name


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

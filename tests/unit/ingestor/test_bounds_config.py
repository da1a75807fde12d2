"""Registration limits and dead-letter budget from the environment (issue 13, item 4)."""

from __future__ import annotations

import pytest

from ingestor.bounds import Limits
from ingestor.config import load
from ingestor.errors import ConfigError

pytestmark = pytest.mark.unit

BASE = {"EMUSA_DATABASE_URL": "postgresql://u@h/db", "EMUSA_MQTT_URL": "mqtt://h:1883"}


def test_defaults_fit_a_plant() -> None:
    assert load(env=BASE).limits == Limits(max_sites=20, max_meters=500, rejects_per_reason=10_000)


def test_limits_from_the_environment_and_empty_means_default() -> None:
    env = {
        **BASE,
        "EMUSA_INGESTOR_MAX_METERS": "64",
        "EMUSA_INGESTOR_MAX_SITES": "",
        "EMUSA_INGESTOR_REJECTS_PER_REASON": "300",
    }
    assert load(env=env).limits == Limits(max_sites=20, max_meters=64, rejects_per_reason=300)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("EMUSA_INGESTOR_MAX_METERS", "0"),
        ("EMUSA_INGESTOR_MAX_SITES", "many"),
        ("EMUSA_INGESTOR_REJECTS_PER_REASON", "-1"),
    ],
)
def test_a_bad_limit_names_its_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"^{variable} \\({value!r}\\) is invalid"):
        load(env={**BASE, variable: value})

"""Pure parts of the gateway service: disk queue, wire time, discovery, config errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contract.mqtt_url import parse
from gateway import config, timing
from gateway.discovery import discovery_messages
from gateway.errors import ConfigError
from gateway.queue import DiskQueue

pytestmark = pytest.mark.unit

EXAMPLES = Path(__file__).resolve().parents[3] / "gateway" / "examples"


def test_queue_is_fifo_bounded_and_persistent(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite"
    q = DiskQueue(path, max_messages=100)
    ids = [q.put(f"t/{i}", str(i).encode()) for i in range(150)]
    assert len(q) == 100
    assert q.dropped == 50
    head = q.after(0, 3)
    assert [m.payload for m in head] == [b"50", b"51", b"52"], "the oldest were dropped"
    q.remove([head[0].id, head[1].id, 999_999])
    assert len(q) == 98
    assert q.next_seq("kron1") == 1
    assert q.next_seq("kron1") == 2
    assert q.next_seq("pac1") == 1
    q.close()
    again = DiskQueue(path, max_messages=100)
    assert len(again) == 98
    assert again.after(0, 1)[0].payload == b"52"
    assert again.after(ids[-2], 10)[0].payload == b"149"
    assert again.next_seq("kron1") == 3, "sequences survive a restart"
    again.close()


@pytest.mark.parametrize(
    ("registers", "ms"),
    [(2, 27.5), (40, 114.6), (125, 309.0)],  # measured-here.md anchors (20 + 2N chars)
)
def test_rtu_read_time_matches_the_reference(registers: int, ms: float) -> None:
    # (13 + 2N) chars + 2 x t3.5 (3.5 chars each) = (20 + 2N) chars of 1.146 ms
    assert timing.read_time(registers, 9600) * 1000 == pytest.approx(ms, abs=0.5)


def test_rtu_t35_is_fixed_above_19200() -> None:
    assert timing.t35(9600) == pytest.approx(0.00401, abs=1e-5)
    assert timing.t35(38400) == 0.00175
    with pytest.raises(ValueError, match=r"1\.\.125"):
        timing.read_time(126, 9600)


def test_ten_meters_at_1hz_do_not_fit_one_9600_bus() -> None:
    assert timing.cycle_time([40] * 10, 9600) > 1.0


def test_home_assistant_discovery() -> None:
    msgs = dict(
        discovery_messages(
            prefix="homeassistant", root="emusa", site="plant", meter="kron1",
            model="kron_konect", quantities=["p_total", "e_imp_kwh", "pf_total"], lang="en",
        )
    )  # fmt: skip
    p = json.loads(msgs["homeassistant/sensor/emusa_plant_kron1/p_total/config"])
    assert p["state_topic"] == "emusa/plant/kron1/state/p_total"
    assert p["availability_topic"] == "emusa/plant/kron1/status"
    assert (p["device_class"], p["unit_of_measurement"], p["state_class"]) == (
        "power",
        "kW",
        "measurement",
    )
    e = json.loads(msgs["homeassistant/sensor/emusa_plant_kron1/e_imp_kwh/config"])
    assert (e["device_class"], e["state_class"]) == ("energy", "total_increasing")
    pf = json.loads(msgs["homeassistant/sensor/emusa_plant_kron1/pf_total/config"])
    assert "unit_of_measurement" not in pf
    assert pf["device_class"] == "power_factor"


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_examples_load(example: Path) -> None:
    cfg = config.load(example, env={})
    assert cfg.buses


def test_environment_overrides_secrets_and_site() -> None:
    cfg = config.load(
        EXAMPLES / "simulator.yaml",
        env={"EMUSA_MQTT_URL": "mqtts://gw:s3cret@broker:8883", "EMUSA_SITE": "fabrica2"},
    )
    assert cfg.site == "fabrica2"
    endpoint = parse(cfg.mqtt.url)
    assert (endpoint.tls, endpoint.port, endpoint.password) == (True, 8883, "s3cret")
    assert "s3cret" not in endpoint.redacted()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("site: plant\nbuses: []\n", "buses: List should have at least 1 item"),
        (
            "site: plant\nbogus: 1\nbuses: [{name: b, type: tcp, host: h, meters: [{name: m, model: x}]}]\n",
            "bogus: Extra inputs are not permitted",
        ),
        (
            "site: plant\nbuses: [{name: b, type: tcp, host: h, meters: [{name: m}]}]\n",
            "give exactly one of 'model'",
        ),
        (
            "site: plant\nbuses: [{name: b, type: serial, port: x, meters: [{name: m, model: x}]}]\n",
            "buses.0: Input tag 'serial' found using 'type' does not match",
        ),
        (
            "site: plant\nbuses: [{name: b, type: rtu, port: x, parity: X, meters: [{name: m, model: x}]}]\n",
            "buses.0.rtu.parity",
        ),
        (
            "site: plant\nbuses: [{name: b, type: tcp, host: h, meters: [{name: m, model: x, unit: 1}, {name: n, model: x, unit: 1}]}]\n",
            "unit ids used twice on bus b: [1]",
        ),
        (
            "site: plant\nmqtt: {url: 'http://x'}\nbuses: [{name: b, type: tcp, host: h, meters: [{name: m, model: x}]}]\n",
            "mqtt.url",
        ),
        (
            "site: 'plant/1'\nbuses: [{name: b, type: tcp, host: h, meters: [{name: m, model: x}]}]\n",
            "site: Value error",
        ),
        (
            "site: plant\nmqtt: {state_interval: 0}\nbuses: [{name: b, type: tcp, host: h, meters: [{name: m, model: x}]}]\n",
            "mqtt.state_interval: Input should be greater than or equal to 1",
        ),
        (
            "site: plant\nmqtt: {state_interval: 10 s}\nbuses: [{name: b, type: tcp, host: h, meters: [{name: m, model: x}]}]\n",
            "mqtt.state_interval: Input should be a valid number",
        ),
        (
            "site: plant\nmqtt: {state_interval: 10, state_topics: false}\nbuses: [{name: b, type: tcp, host: h, meters: [{name: m, model: x}]}]\n",
            "mqtt: Value error, state_interval is set but state_topics is false",
        ),
        ("- just a list\n", "the top level must be a mapping"),
        ("site: [unclosed\n", "not valid YAML"),
    ],
)
def test_config_errors_name_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "gw.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        config.load(path, env={})
    assert message in str(exc.value)
    assert "gw.yaml" in str(exc.value)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml: cannot read"):
        config.load(tmp_path / "nope.yaml", env={})


def test_health_check_reads_the_status_file(tmp_path: Path) -> None:
    from gateway import health

    path = tmp_path / "status.json"
    assert health.check(path, 30)[0] is False
    meters = {
        "kron1": {"seconds_since_good_read": 1.0, "last_error": ""},
        "pac1": {"seconds_since_good_read": None, "last_error": "no answer within 0.5 s"},
    }
    health.write(path, {"written_at": 1000.0, "queued": 3, "meters": meters})
    ok, why = health.check(path, 30, now=1010.0)
    assert ok
    assert why == "1 of 2 meters read, 3 queued; not read recently: pac1"
    health.write(path, {"written_at": 1000.0, "queued": 0, "refused": 7, "meters": meters})
    assert health.check(path, 30, now=1010.0) == (
        True,
        "1 of 2 meters read, 0 queued; not read recently: pac1;"
        " 7 messages refused by the broker (check its ACL)",
    )
    ok, why = health.check(path, 30, now=1100.0)
    assert not ok
    assert "100 s old" in why
    meters["kron1"]["seconds_since_good_read"] = 45.0
    health.write(path, {"written_at": 1000.0, "meters": meters})
    ok, why = health.check(path, 30, now=1001.0)
    assert not ok
    assert "pac1: no answer within 0.5 s" in why

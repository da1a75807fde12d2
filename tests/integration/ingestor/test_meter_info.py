"""Meter metadata (contract/meterinfo.py, migration 0019): the writer and the service
against real TimescaleDB and Mosquitto; the roles' reach."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

import contract
from contract import meterinfo
from gateway import describe
from gateway.registers import MAPS_DIR, load_map
from ingestor.__main__ import main
from ingestor.bounds import METER_LIMIT, Limits
from ingestor.writer import Message, Writer
from tests.harness.services import Broker
from tests.integration.ingestor.conftest import (
    make_config,
    publisher,
    readings,
    running,
    wait_until,
)
from tests.integration.ingestor.test_diagnostics import meter_diag
from tests.integration.roles import as_role

pytestmark = pytest.mark.integration

PLANT = load_map(MAPS_DIR / "kron03_real.json")
PAC = load_map(MAPS_DIR / "siemens_pac3200.yaml")


def plant_info(meter: str = "ch30_canal_1", unit: int = 1, **change: Any) -> meterinfo.MeterInfo:
    args: dict[str, Any] = {
        "site": "plant", "meter": meter, "gateway": "gw1", "unit": unit, "regmap": PLANT,
        "channel": f"CH30 canal {unit}", "identifier": f"CH30-00{unit}",
        "port": "/dev/ttyUSB0 9600 8N2",
    }  # fmt: skip
    return describe.meter_info(**{**args, **change})


def rows(db: str, query: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(db) as conn:
        return conn.execute(query, params).fetchall()


def meter_row(db: str, meter: str) -> tuple[Any, ...]:
    got = rows(
        db,
        "SELECT model, gateway, map_file, unit_id, channel, identifier, port, info_changed_at"
        " FROM meters WHERE name = %s",
        (meter,),
    )
    assert len(got) == 1
    return got[0]


def registers(db: str, meter: str) -> list[tuple[Any, ...]]:
    return rows(
        db,
        "SELECT r.position, r.quantity, r.name, r.description, r.unit, r.ai"
        " FROM meter_registers r JOIN meters m USING (meter_id) WHERE m.name = %s"
        " ORDER BY r.position",
        (meter,),
    )


def test_writer_stores_the_plant_words_and_changes_only_what_changed(db: str) -> None:
    with Writer(db) as writer:
        first = writer.write([], infos=[plant_info()])
        stored = meter_row(db, "ch30_canal_1")
        again = writer.write([], infos=[plant_info()])  # the retained message, redelivered
        unchanged = meter_row(db, "ch30_canal_1")
        writer.write([], infos=[plant_info(identifier="CH30-007", port="COM3 9600 8N2")])
        changed = meter_row(db, "ch30_canal_1")
    assert (first.infos, again.infos) == (1, 1)
    assert first.new_meters == [("plant", "ch30_canal_1")]
    assert stored[:7] == ("kron03_real", "gw1", "kron03_real.json", 1, "CH30 canal 1",
                          "CH30-001", "/dev/ttyUSB0 9600 8N2")  # fmt: skip
    assert unchanged == stored, "the same message again changes nothing"
    assert changed[5:7] == ("CH30-007", "COM3 9600 8N2") and changed[7] > stored[7]
    regs = registers(db, "ch30_canal_1")
    assert [r[1] for r in regs] == PLANT.names  # in the file's order
    assert regs[0] == (0, "v_l1n", "tensao_l1", "Tensão fase-neutro L1", "V", False)
    by_name = {r[2]: r for r in regs}
    assert by_name["energia_kwh_b"][1:] == (
        "e_b_kwh", "energia_kwh_b", "Energia canal B acumulada", "kWh", False,
    )  # fmt: skip
    assert by_name["fp_avg"][5] is True


def test_a_new_map_replaces_the_registers_and_keeps_the_operator_columns(db: str) -> None:
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("INSERT INTO sites (site_id, name) VALUES ('plant', 'Plant')")
        conn.execute(
            "INSERT INTO meters (site_id, name, description, include_in_site_total)"
            " VALUES ('plant', 'm1', 'Quadro geral', false)"
        )
    pac = describe.meter_info(site="plant", meter="m1", gateway="gw2", unit=5, regmap=PAC,
                          port="10.0.0.5:502")  # fmt: skip
    few = dataclasses.replace(plant_info("m1"), registers=plant_info().registers[:3])
    with Writer(db) as writer:
        writer.write([], infos=[few])
        assert [r[1] for r in registers(db, "m1")] == ["v_l1n", "v_l2n", "v_l3n"]
        writer.write([], infos=[pac])
    regs = registers(db, "m1")
    assert [r[1] for r in regs] == PAC.names
    assert all(r[2] is None and r[3] is None and r[5] is None for r in regs)  # no plant words
    assert meter_row(db, "m1")[:7] == ("siemens_pac3200", "gw2", "siemens_pac3200.yaml", 5,
                                       None, None, "10.0.0.5:502")  # fmt: skip
    assert rows(db, "SELECT description, include_in_site_total FROM meters") == [
        ("Quadro geral", False)
    ]


def test_diagnostics_keep_the_channel_port_and_identifier(db: str) -> None:
    channel = {"channel": "CH30 canal 2", "port": "/dev/ttyUSB0 9600 8N2", "identifier": "CH30-002"}
    with Writer(db) as writer:
        writer.write([], [], [meter_diag("ch30_canal_2", **channel), meter_diag("pac1")])
    stored = rows(
        db,
        "SELECT m.name, d.channel, d.port, d.identifier FROM modbus_meter_diagnostics d"
        " JOIN meters m USING (meter_id) ORDER BY m.name",
    )
    assert stored == [
        ("ch30_canal_2", "CH30 canal 2", "/dev/ttyUSB0 9600 8N2", "CH30-002"),
        ("pac1", None, None, None),
    ]


def test_isolated_batch_stores_the_info_beside_a_refused_reading(db: str) -> None:
    with psycopg.connect(db) as conn:
        conn.execute("ALTER TABLE readings ADD CONSTRAINT test_no_seq_1 CHECK (seq <> 1)")
    records: list[Any] = [*readings(3, meters=1), plant_info("m0")]
    messages = [Message(r, f"t/{i}", b"p") for i, r in enumerate(records)]
    with Writer(db) as writer:
        result = writer.write_isolated(messages, [], keep_bytes=4096)
    assert (result.inserted, result.infos, result.rejected) == (2, 1, 1)
    assert len(registers(db, "m0")) == len(PLANT.names)


def _payload(change: dict[str, Any]) -> bytes:
    doc = json.loads(meterinfo.encode(plant_info("ch30_canal_2", 2)))
    return json.dumps({**doc, **change}).encode()


def test_service_stores_info_from_mqtt_and_dead_letters_bad_ones(
    db: str, mqtt_broker: Broker, topic_root: str, tmp_path: Path
) -> None:
    topic = contract.meter_info_topic(topic_root, "plant", "ch30_canal_2")
    bad = {
        _payload({"colour": "red"}): "unknown_field",
        _payload({"v": 2}): "bad_version",
        _payload({"meter": "ch30_canal_1"}): "topic_mismatch",
        _payload({"registers": [{"quantity": "tensao_l1", "unit": "V", "name": None,
                                 "description": None, "ai": None}]}): "unknown_quantity",
        b'{"v": 1, "v": 1}': "duplicate_key",
        b"not json": "bad_json",
    }  # fmt: skip
    config = make_config(db, mqtt_broker, topic_root, tmp_path)
    with running(config) as service:
        assert contract.meter_info_subscription(topic_root) in service.subscriber.topic_filters
        with publisher(mqtt_broker) as pub:
            for payload in bad:
                pub.publish(topic, payload)
            pub.publish(topic, meterinfo.encode(plant_info("ch30_canal_2", 2)))
            pub.wait_all(30)
            wait_until(lambda: service.counters.acked == 7, 30, "7 acknowledgements")
        c = service.counters
        assert (c.infos, c.rejected, c.duplicates) == (1, 6, 0)
    assert meter_row(db, "ch30_canal_2")[5] == "CH30-002"
    assert registers(db, "ch30_canal_2")[1][3] == "Tensão fase-neutro L2"
    dead = rows(db, "SELECT topic, reason, payload FROM ingest_rejects ORDER BY reject_id")
    assert dead == [(topic, reason, payload) for payload, reason in bad.items()]


def test_roles_reach_the_metadata_as_0012_set_them(db: str) -> None:
    with Writer(db) as writer:
        writer.write([], infos=[plant_info()])
    with as_role(db, "emusa_bi") as conn:
        got = conn.execute(
            "SELECT meter, position, quantity, register_name, description, unit, ai, channel,"
            " identifier, port FROM bi.meter_registers ORDER BY position LIMIT 1"
        ).fetchall()
        assert got == [("ch30_canal_1", 0, "v_l1n", "tensao_l1", "Tensão fase-neutro L1", "V",
                        False, "CH30 canal 1", "CH30-001", "/dev/ttyUSB0 9600 8N2")]  # fmt: skip
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT 1 FROM public.meter_registers")
    with as_role(db, "emusa_grafana") as conn:
        assert conn.execute("SELECT count(*) FROM meter_registers").fetchone() == (11,)
        conn.execute("SET default_transaction_read_only = off")  # privileges hold regardless
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM meter_registers")
    with as_role(db, "emusa_ingestor") as conn:
        conn.execute("UPDATE meters SET identifier = 'CH30-009'")
        conn.execute("DELETE FROM meter_registers WHERE quantity = 'freq'")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE meters SET description = 'x'")  # the operator's column
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE meters SET include_in_site_total = false")


def test_the_ingestor_role_runs_the_writer(db: str) -> None:
    """The writer's statements, as the role the service logs in with."""
    with as_role(db, "emusa_ingestor") as conn:
        dsn = conn.info.dsn + " password=pw"
    ts = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # any instant: the writer stores it as is
    with Writer(dsn) as writer:
        result = writer.write([], [], [meter_diag("ch30_canal_1", ts, identifier="CH30-001")],
                              infos=[plant_info()])  # fmt: skip
        writer.write([], infos=[plant_info(identifier="CH30-002")])
    assert result.infos == 1 and result.diagnostics == 1
    assert meter_row(db, "ch30_canal_1")[5] == "CH30-002"


def test_before_migration_0019_readings_and_diagnostics_are_still_stored(
    db: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An ingestor started before `emusa-ingestor migrate` brought the database to 0019."""
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("DROP VIEW bi.meter_registers")
        conn.execute("DROP TABLE meter_registers")
        conn.execute(
            "ALTER TABLE modbus_meter_diagnostics DROP COLUMN channel, DROP COLUMN port,"
            " DROP COLUMN identifier"
        )
    channel = {"channel": "CH30 canal 1", "port": "COM3 9600 8N2", "identifier": "CH30-001"}
    with Writer(db) as writer:
        result = writer.write(readings(2, meters=1), [], [meter_diag("m0", **channel)],
                              infos=[plant_info("m0"), plant_info("m0")])  # fmt: skip
    assert (result.inserted, result.diagnostics, result.infos, result.rejected) == (2, 1, 2, 0)
    warned = [r for r in caplog.records if getattr(r, "action", "") == "info_not_stored"]
    assert len(warned) == 1 and "migration 0019" in warned[0].getMessage()


def test_info_of_a_meter_over_the_limit_is_refused_and_listed_by_its_meter(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    info = plant_info("ch30_canal_2", 2)
    topic = contract.meter_info_topic("emusa", "plant", "ch30_canal_2")
    with Writer(db, limits=Limits(max_meters=1)) as writer:
        writer.write(readings(1, meters=1), [])  # m0 takes the only place
        result = writer.write([], infos=[info], sources=[Message(info, topic, b"{}")])
    assert (result.infos, result.rejected) == (0, 1)
    assert registers(db, "ch30_canal_2") == []
    assert rows(db, "SELECT topic, reason FROM ingest_rejects") == [(topic, METER_LIMIT)]
    assert main(["refused-meters", "--database-url", db, "--lang", "en"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[1].split()[:3] == ["plant", "ch30_canal_2", METER_LIMIT]

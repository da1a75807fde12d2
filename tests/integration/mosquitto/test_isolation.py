"""No login can take the ingestors' readings, stop them, or publish for another gateway.

On the shipped broker (``tests.harness.shipped_broker``: ``mosquitto/mosquitto.conf``, the
ACL and dynsec.json written by ``mosquitto/init-passwd.sh``):
- a login's client id is its user name, so another login connecting with the ingestor's
  client id neither kicks the ingestor off nor wipes or receives its persistent session;
- `$share/...` subscriptions are refused to every account but the ingestors. Mosquitto
  2.0's acl_file grants every SUBSCRIBE and a shared group hands each message to one
  member, checking read access only then: a member that may not read drops its share;
- a gateway account publishes for its own site and gateway id only; a reader may be
  limited to some sites;
- max_packet_size: an oversized publish is refused before the broker buffers it.
Each test failed on the configuration before these changes (``git show HEAD~:mosquitto/``).
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from contract import MAX_PAYLOAD_BYTES
from tests.harness.mqtt_probe import NOT_AUTHORIZED, OK, Probe
from tests.harness.shipped_broker import ShippedMosquitto, new_passwords, serving

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
OTHER_GATEWAY = ("annex", "gw1")  # a second gateway account, of another site
PLANT_READER = "plantview"  # a reader limited to site plant
PASSWORDS = new_passwords("gw-annex-gw1", PLANT_READER)
N = 20  # readings published in each phase


@pytest.fixture(scope="module")
def broker() -> Iterator[ShippedMosquitto]:
    with serving(
        ShippedMosquitto(
            PASSWORDS, gateways=(OTHER_GATEWAY,), ingestors=2, readers=((PLANT_READER, "plant"),)
        )
    ) as shipped:
        yield shipped


def _publish(gateway: Probe, meter: str, phase: str) -> set[bytes]:
    sent = {f"{phase}-{i}".encode() for i in range(N)}
    for payload in sorted(sent):
        assert gateway.publish(f"emusa/plant/{meter}/reading", payload) in OK
    return sent


@pytest.mark.parametrize("attacker", ["reader", "analytics", "gateway", PLANT_READER])
def test_another_login_cannot_take_over_the_ingestors_session(
    broker: ShippedMosquitto, attacker: str
) -> None:
    meter = uuid.uuid4().hex[:8]
    ingestor = Probe(broker.port, broker.login("ingestor"), client_id="emusa-ingestor",
                     clean_start=False, session_expiry=3600)  # fmt: skip
    gateway = Probe(broker.port, broker.login("gateway"))
    thief: Probe | None = None
    try:
        assert ingestor.subscribe(f"emusa/plant/{meter}/reading") in OK
        sent = _publish(gateway, meter, "before")
        # the documented client id, and the one the broker gives the ingestor's login;
        # clean start wipes a session it takes over, a resumed one would receive it
        for client_id in ("emusa-ingestor", "ingestor"):
            for clean in (True, False):
                thief = Probe(broker.port, broker.login(attacker), client_id=client_id,
                              clean_start=clean, session_expiry=0 if clean else 3600)  # fmt: skip
                sent |= _publish(gateway, meter, f"during-{client_id}-{clean}")
                assert thief.payloads(1, timeout=0.5) == set()
                thief.close()
                thief = None
        sent |= _publish(gateway, meter, "after")
        assert ingestor.payloads(len(sent)) == sent
        assert ingestor.disconnects == []  # never kicked off
    finally:
        for c in (ingestor, gateway, thief):
            if c is not None:
                c.close()


@pytest.mark.parametrize(
    "topic_filter",
    ["$share/{g}/emusa/+/+/reading", "$share/{g}/emusa/#", "$share/{g}/#",
     "$share/{g}/emusa/+/+/diagnostics", "$share/{g}/emusa/+/gateway/+/bus/+/diagnostics"],
)  # fmt: skip
def test_only_ingestors_may_join_a_shared_group(
    broker: ShippedMosquitto, topic_filter: str
) -> None:
    group = f"ing{uuid.uuid4().hex[:6]}"
    meter = uuid.uuid4().hex[:8]
    ingestors = [Probe(broker.port, broker.login(u)) for u in ("ingestor", "ingestor-2")]
    thieves = [Probe(broker.port, broker.login(u))
               for u in ("reader", "analytics", PLANT_READER, "gw-annex-gw1")]  # fmt: skip
    gateway = Probe(broker.port, broker.login("gateway"))
    try:
        for c in ingestors:
            assert c.subscribe(f"$share/{group}/emusa/+/+/reading") in OK
        codes = [c.subscribe(topic_filter.format(g=group)) for c in thieves]
        sent = _publish(gateway, meter, "shared")
        deadline = time.monotonic() + 10
        while sum(len(c.messages) for c in ingestors) < len(sent) and time.monotonic() < deadline:
            time.sleep(0.05)
        # the two ingestors share every reading, each one delivered once
        got = [c.payloads(0, timeout=0) for c in ingestors]
        assert got[0] | got[1] == sent
        assert sum(len(c.messages) for c in ingestors) == len(sent)
        assert all(got), "both ingestors of the group got readings"
        for c in thieves:
            assert c.messages == []
        assert codes == [NOT_AUTHORIZED] * len(thieves)  # SUBACK says so
    finally:
        for c in (*ingestors, *thieves, gateway):
            c.close()


def test_integrators_still_read_the_readings_without_a_shared_group(
    broker: ShippedMosquitto,
) -> None:
    meter = uuid.uuid4().hex[:8]
    reader = Probe(broker.port, broker.login("reader"))
    gateway = Probe(broker.port, broker.login("gateway"))
    try:
        assert reader.subscribe("emusa/+/+/reading") in OK
        assert gateway.publish(f"emusa/plant/{meter}/reading") in OK
        assert reader.received(f"emusa/plant/{meter}/reading")
    finally:
        reader.close()
        gateway.close()


# (login, topic, allowed): `gateway` is gw-plant-e2e, the other account gw-annex-gw1
GATEWAY_PUBLISH = [
    ("gateway", "emusa/plant/kron1/reading", True),
    ("gateway", "emusa/plant/gateway/e2e/status", True),
    ("gateway", "emusa/plant/gateway/e2e/bus/rs485/diagnostics", True),
    ("gateway", "emusa/annex/kron1/reading", False),
    ("gateway", "emusa/annex/kron1/status", False),
    ("gateway", "emusa/annex/kron1/state/p_total", False),
    ("gateway", "emusa/annex/kron1/diagnostics", False),
    ("gateway", "emusa/annex/kron1/info", False),
    ("gw-annex-gw1", "emusa/annex/kron1/info", True),
    ("gw-annex-gw1", "emusa/plant/kron1/info", False),
    ("gateway", "emusa/plant/gateway/gw1/status", False),
    ("gateway", "emusa/plant/gateway/gw1/bus/rs485/diagnostics", False),
    ("gateway", "emusa/annex/gateway/e2e/status", False),
    ("gw-annex-gw1", "emusa/annex/kron1/reading", True),
    ("gw-annex-gw1", "emusa/annex/gateway/gw1/status", True),
    ("gw-annex-gw1", "emusa/plant/kron1/reading", False),
    ("gw-annex-gw1", "emusa/plant/gateway/e2e/status", False),
]


@pytest.mark.parametrize(("user", "topic", "allowed"), GATEWAY_PUBLISH,
                         ids=[f"{u}-{t}" for u, t, _ in GATEWAY_PUBLISH])  # fmt: skip
def test_a_gateway_publishes_for_its_own_site_and_gateway_id_only(
    broker: ShippedMosquitto, user: str, topic: str, allowed: bool
) -> None:
    gateway = Probe(broker.port, broker.login(user))
    watcher = Probe(broker.port, broker.login("analytics"))  # reads everything
    try:
        assert watcher.subscribe("emusa/#") in OK
        code = gateway.publish(topic, uuid.uuid4().hex.encode())
        if allowed:
            assert code in OK
            assert watcher.received(topic)
        else:
            assert code == NOT_AUTHORIZED, f"{user} may not publish {topic}: {code:#x}"
            assert not watcher.received(topic, timeout=1.0)
    finally:
        gateway.close()
        watcher.close()


def test_a_reader_limited_to_one_site_reads_no_other(broker: ShippedMosquitto) -> None:
    meter = uuid.uuid4().hex[:8]
    reader = Probe(broker.port, broker.login(PLANT_READER))
    plant = Probe(broker.port, broker.login("gateway"))
    annex = Probe(broker.port, broker.login("gw-annex-gw1"))
    try:
        assert reader.subscribe("#") in OK
        assert annex.publish(f"emusa/annex/{meter}/reading") in OK
        assert annex.publish(f"emusa/annex/{meter}/state/p_total") in OK
        assert annex.publish(f"emusa/annex/{meter}/info") in OK
        assert plant.publish(f"emusa/plant/{meter}/state/p_total") in OK
        assert plant.publish(f"emusa/plant/{meter}/info") in OK
        assert reader.received(f"emusa/plant/{meter}/state/p_total")
        assert reader.received(f"emusa/plant/{meter}/info")
        assert not reader.received(f"emusa/annex/{meter}/state/p_total", timeout=1.0)
        assert [t for t, _ in reader.messages if "/annex/" in t] == []
    finally:
        for c in (reader, plant, annex):
            c.close()


def _max_packet_size() -> int:
    conf = (ROOT / "mosquitto" / "mosquitto.conf").read_text()
    found = re.findall(r"^max_packet_size (\d+)$", conf, re.M)
    assert len(found) == 1, "mosquitto.conf sets max_packet_size once (a global option)"
    return int(found[0])


def test_max_packet_size_fits_the_largest_reading_with_headroom() -> None:
    # payload + topic (root, site, meter: up to 64 characters each) + header + properties
    largest_reading_packet = MAX_PAYLOAD_BYTES + 3 * 64 + 32 + 1024
    assert largest_reading_packet <= _max_packet_size() <= 256 * 1024


def _peak_rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmHWM:\s+(\d+) kB", status, re.M).group(1))  # type: ignore[union-attr]


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_an_oversized_publish_is_refused_and_the_broker_stays_small(
    broker: ShippedMosquitto,
) -> None:
    assert broker.proc is not None
    meter = "m" * 64
    topic = f"emusa/plant/{meter}/reading"
    watcher = Probe(broker.port, broker.login("analytics"))
    try:
        assert watcher.subscribe("emusa/plant/+/reading") in OK
        gateway = Probe(broker.port, broker.login("gateway"))
        try:
            assert gateway.publish(topic, b"x" * MAX_PAYLOAD_BYTES) in OK  # the largest reading
        finally:
            gateway.close()
        assert watcher.received(topic)
        before = len(watcher.messages)
        for _ in range(4):  # 4 x 10 MB: before the limit the broker took them all in
            flood = Probe(broker.port, broker.login("gateway"))
            try:
                flood.c.publish(f"emusa/plant/{meter}/reading", os.urandom(10 * 1024 * 1024), qos=1)
                assert flood.wait_disconnected(), "the broker kept a 10 MB publish"
                assert flood.disconnects[0] != 0
            finally:
                flood.close()
        assert len(watcher.messages) == before
        assert _peak_rss_kib(broker.proc.pid) < 40 * 1024  # flood of 40 MB not buffered
        after = Probe(broker.port, broker.login("gateway"))  # still serving
        try:
            assert after.publish(f"emusa/plant/{meter}/reading") in OK
        finally:
            after.close()
    finally:
        watcher.close()

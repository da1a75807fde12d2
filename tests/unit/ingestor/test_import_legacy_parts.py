"""Pure parts of ``import-legacy``: column mapping, documents, validation parity, texts,
progress."""

from __future__ import annotations

import io
import json
import logging
import math
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from contract.aliases import load as load_aliases
from ingestor.legacy_map import (
    LEGACY_COLUMNS,
    SKIP_DERIVED,
    SKIP_NO_ALIAS,
    ColumnMap,
    Tally,
    document,
    map_columns,
)
from ingestor.legacy_text import summary
from ingestor.progress import BarProgress, LogProgress, progress
from ingestor.validate import Policy, Reject, validate, validate_document

pytestmark = pytest.mark.unit

TS = datetime(2026, 3, 2, 13, 0, 0, 250_000, tzinfo=UTC)
NOW = TS + timedelta(days=1)
TOPIC = "emusa/plant/kron1/reading"


@dataclass(frozen=True)
class Alias:
    quantity: str
    scale: float = 1.0


def test_every_old_column_but_the_derived_average_maps_through_the_alias_table() -> None:
    plan = map_columns(load_aliases())
    assert dict(plan.skipped) == {"tensao_ll_avg": SKIP_DERIVED}
    mapped = {m.column: m.quantity for m in plan.columns}
    assert set(mapped) | {"tensao_ll_avg"} == set(LEGACY_COLUMNS)
    assert mapped["tensao_l1"] == "v_l1n"
    assert mapped["tensao_ll_l3"] == "v_l31"
    assert mapped["potencia_kw_inst"] == "p_total"
    assert mapped["energia_kwh_a"] == "e_imp_kwh"
    assert mapped["energia_kwh_b"] == "e_b_kwh"
    assert mapped["fp_avg"] == "pf_total"


def test_a_column_without_an_alias_is_skipped_and_scales_are_applied() -> None:
    aliases = {c: Alias("p_total", 0.001) for c in ("potencia_kw_inst",)}
    plan = map_columns(aliases)
    assert plan.columns == (ColumnMap("potencia_kw_inst", "p_total", 0.001),)
    assert plan.skipped["energia_kwh_b"] == SKIP_NO_ALIAS
    assert len(plan.skipped) == len(LEGACY_COLUMNS) - 1
    doc = document((7, TS, 15_375.0), "plant", "kron1", plan.columns)
    assert doc["values"] == {"p_total": pytest.approx(15.375)}


def test_document_leaves_nulls_out_and_keeps_id_and_microseconds() -> None:
    cols = (ColumnMap("tensao_l1", "v_l1n", 1.0), ColumnMap("frequencia", "freq", 1.0))
    doc = document((42, TS, None, 59.98), "plant", "kron1", cols)
    assert doc == {
        "v": 1,
        "ts": "2026-03-02T13:00:00.250000+00:00",
        "site": "plant",
        "meter": "kron1",
        "seq": 42,
        "values": {"freq": 59.98},
    }


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({}, "bad_type"),
        ({"freq": 0.0}, "implausible"),
        ({"p_total": math.nan}, "not_finite"),
        ({"p_total": math.inf}, "not_finite"),
        ({"nope": 1.0}, "unknown_quantity"),
        ({"freq": 60.0}, None),
    ],
)
def test_documents_get_the_live_path_verdict(values: dict[str, float], reason: str | None) -> None:
    policy = Policy(root="emusa")
    doc = {"v": 1, "ts": TS.isoformat(), "site": "plant", "meter": "kron1", "seq": 1}
    doc["values"] = values
    got = validate_document(TOPIC, doc, policy, NOW)
    live = validate(TOPIC, json.dumps(doc).encode(), policy, NOW)
    if reason is None:
        assert got == live
        return
    assert isinstance(got, Reject)
    assert got.reason == reason
    assert isinstance(live, Reject)
    assert live.reason == reason
    assert (
        json.loads(got.payload.replace(b"NaN", b"null").replace(b"Infinity", b"null"))["seq"] == 1
    )


def test_old_and_future_instants_are_refused_as_live_ones() -> None:
    policy = Policy(root="emusa", retention=timedelta(hours=1))
    doc = {"v": 1, "site": "plant", "meter": "kron1", "seq": 1, "values": {"freq": 60.0}}
    old = validate_document(TOPIC, {**doc, "ts": TS.isoformat()}, policy, NOW)
    ahead = validate_document(
        TOPIC, {**doc, "ts": (NOW + timedelta(hours=1)).isoformat()}, policy, NOW
    )
    assert isinstance(old, Reject) and old.reason == "old_ts"
    assert isinstance(ahead, Reject) and ahead.reason == "future_ts"


def _summary(lang: str, dry_run: bool = False) -> list[str]:
    tally = Tally(
        read=1_234_567,
        imported=1_200_000,
        duplicates_in_source=4_000,
        already_stored=30_000,
        rejected=Counter({"implausible": 500, "bad_type": 67}),
        first=TS,
        last=TS + timedelta(days=90),
    )
    plan = map_columns(load_aliases())
    return summary(
        tally,
        plan,
        table="public.leituras",
        site="plant",
        meter="kron1",
        lang=lang,
        dry_run=dry_run,
        new_meter=True,
        seconds=100.0,
    )


def test_summary_in_portuguese_and_english() -> None:
    pt = "\n".join(_summary("pt-BR"))
    assert "lidas:" in pt and "1.234.567" in pt
    assert "importadas:" in pt and "1.200.000" in pt
    assert "duplicadas:" in pt and "34.000" in pt
    assert "bad_type:" in pt and "implausible:" in pt
    assert "medidor novo registrado: plant/kron1" in pt
    assert "100,0 s, 12.346 linhas/s" in pt
    en = "\n".join(_summary("en", dry_run=True))
    assert "read:" in en and "1,234,567" in en
    assert "dry run (--dry-run): nothing was written" in en
    assert "new meter (would be registered): plant/kron1" in en


def test_log_progress_reports_rate_and_eta_every_interval() -> None:
    now = [0.0]
    p = LogProgress(1000, "pt-BR", interval=10.0, clock=lambda: now[0])
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("ingestor.progress")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        now[0] = 5.0
        p.update(100)  # before the interval: quiet
        now[0] = 10.0
        p.update(150)
        now[0] = 12.0
        p.update(250)
        now[0] = 20.0
        p.update(500)
        p.close()
    finally:
        logger.removeHandler(handler)
    assert lines == [
        "importação: 250 de 1.000 linhas (25%), 25 linhas/s, faltam ~0:30",
        "importação: 1.000 de 1.000 linhas (100%), 50 linhas/s, faltam ~0:00",
        "importação: 1.000 de 1.000 linhas (100%), 50 linhas/s, faltam ~0:00",
    ]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_with_rate_and_eta_and_a_pipe_gets_log_lines() -> None:
    term = _Terminal()
    bar = progress(1000, label="Importando leituras", lang="pt-BR", stream=term)
    assert isinstance(bar, BarProgress)
    bar.update(400)
    bar.update(600)
    bar.close()
    last = term.getvalue().split("\r")[-1]
    assert last.startswith("Importando leituras: 100%")
    assert "1.00k/1.00k" in last
    assert "linhas/s]" in last and "<00:00" in last  # rate and time left
    assert isinstance(progress(10, label="x", lang="en", stream=io.StringIO()), LogProgress)

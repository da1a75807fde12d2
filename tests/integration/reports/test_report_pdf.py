# ruff: noqa: RUF001  (pt-BR typography in the expected texts)
"""PDFs built from real TimescaleDB data: their text (extracted with pypdf) carries the
numbers the database gives for the same period; pages render to PNG with pdftoppm."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import psycopg
import pytest
from PIL import Image
from pypdf import PdfReader

from analytics import i18n
from analytics.delivery.config import DeliveryConfig
from analytics.reports import service
from tests.integration.reports.conftest import CONTRACT_KW, DAY, FORTNIGHT, TZ
from tests.integration.reports.plant import SITE

pytestmark = pytest.mark.integration

PNG_DIR = Path("/tmp/emusa-report-pages")


def _text(path: Path) -> str:
    reader = PdfReader(path)
    return "\n".join(page.extract_text() for page in reader.pages)


def _row(text: str, label: str, value: str) -> bool:
    """A table row: the label cell followed by the value cell (cells extract as lines)."""
    return re.search(re.escape(label) + r"\s+" + re.escape(value) + r"\s", text) is not None


def _one(dsn: str, query: str, *params: object) -> tuple[object, ...]:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(query, params).fetchone()
    assert row is not None
    return row


def _pt(v: object, k: int = 1) -> str:
    return i18n.number(float(v), k, "pt-BR")  # type: ignore[arg-type]


def test_daily_pdf_numbers_match_the_database(plant_db: str, config: DeliveryConfig) -> None:
    rec = service.generate(plant_db, SITE, "daily", start=DAY[0], end=DAY[1], config=config)
    path = Path(rec.path)
    assert path.is_file() and path.stat().st_size == rec.bytes
    text = _text(path)
    assert "EMUSA BRASIL – Controle e Monitoramento de Energia" in text
    assert "Relatório de energia – 24 horas" in text
    assert "Resumo executivo" in text
    for meter in ("m1", "m2"):
        # KPIs straight from the raw readings
        avg_p, max_p, min_p, avg_v, max_v, min_v, avg_pf, avg_f = _one(
            plant_db,
            "SELECT avg(p_total), max(p_total), min(p_total),"
            " avg((v_l12 + v_l23 + v_l31) / 3), max((v_l12 + v_l23 + v_l31) / 3),"
            " min((v_l12 + v_l23 + v_l31) / 3), avg(pf_total), avg(freq)"
            " FROM readings r JOIN meters m USING (meter_id)"
            " WHERE m.name = %s AND time >= %s AND time < %s",
            meter, DAY[0], DAY[1],
        )  # fmt: skip
        for value in (avg_p, max_p, min_p, avg_v, max_v, min_v):
            assert _pt(value) in text, (meter, value)
        assert _pt(avg_pf, 3) in text
        assert _pt(avg_f, 2) in text
        # energy and max demand per tariff period from the documented bi view
        energy, e_ponta, e_fora, d_ponta, d_fora = _one(
            plant_db,
            "SELECT energy_kwh, energy_ponta_kwh, energy_fora_ponta_kwh, max_demand_ponta_kw,"
            " max_demand_fora_ponta_kw FROM bi.energy_daily WHERE meter = %s AND day = %s",
            meter, DAY[0].date(),
        )  # fmt: skip
        for value in (energy, e_ponta, e_fora, d_ponta, d_fora):
            assert _pt(value) in text, (meter, value)
    site_ponta, site_fora = _one(
        plant_db,
        "SELECT max(demand_kw) FILTER (WHERE tariff_period = 'ponta'),"
        " max(demand_kw) FILTER (WHERE tariff_period <> 'ponta')"
        " FROM bi.site_demand_15m WHERE time_utc >= %s AND time_utc < %s",
        DAY[0], DAY[1],
    )  # fmt: skip
    assert f"Demanda máxima de 15 min (ponta): {_pt(site_ponta)} kW" in text
    assert _pt(site_fora) in text
    assert f"{_pt(CONTRACT_KW * 1.05)} kW (contratada + tolerância)" in text
    # anomalies of the day, and the highest-consumption hour
    assert "Afundamento de tensão em L1: 101,6 V" in text
    assert "crítica" in text
    (top,) = _one(
        plant_db,
        "SELECT max(e_imp_kwh_delta) FROM site_readings_1h"
        " WHERE bucket >= %s AND bucket < %s",
        DAY[0], DAY[1],
    )  # fmt: skip
    assert _pt(top) in text
    with psycopg.connect(plant_db) as conn:
        row = conn.execute(
            "SELECT kind, lang, sha256, bytes FROM reports WHERE report_id = %s", (rec.report_id,)
        ).fetchone()
    assert row is not None
    assert row[:2] == ("adhoc", "pt-BR")
    assert row[3] == path.stat().st_size


def test_daily_pdf_in_english(plant_db: str, config: DeliveryConfig) -> None:
    cfg = config.model_copy(update={"lang": "en", "branding": "ACME Plant Energy"})
    rec = service.generate(plant_db, SITE, "daily", start=DAY[0], end=DAY[1], config=cfg)
    text = _text(Path(rec.path))
    assert "ACME Plant Energy" in text
    assert "Energy report – 24 hours" in text
    (energy,) = _one(
        plant_db,
        "SELECT energy_kwh FROM bi.energy_daily WHERE meter = 'm1' AND day = %s",
        DAY[0].date(),
    )
    assert i18n.number(float(energy), 1, "en") in text  # type: ignore[arg-type]
    assert "Voltage sag on L1: 101.6 V" in text


def test_fortnightly_pdf_numbers_match_the_database(plant_db: str, config: DeliveryConfig) -> None:
    rec = service.generate(
        plant_db, SITE, "fortnightly", start=FORTNIGHT[0], end=FORTNIGHT[1], config=config
    )
    text = _text(Path(rec.path))
    assert "Análise quinzenal de demanda" in text
    assert "01/11/2026 – 15/11/2026" in text
    max_kw, days_over, intervals_over, energy, ponta = _one(
        plant_db,
        "SELECT max(demand_kw), count(DISTINCT time_local::date) FILTER (WHERE exceeds_limit),"
        " count(*) FILTER (WHERE exceeds_limit), sum(energy_kwh),"
        " sum(energy_kwh) FILTER (WHERE tariff_period = 'ponta')"
        " FROM bi.site_demand_15m WHERE time_utc >= %s AND time_utc < %s",
        FORTNIGHT[0], FORTNIGHT[1],
    )  # fmt: skip
    assert isinstance(days_over, int) and days_over > 0  # the data does cross the limit
    assert _row(text, "Dias com ultrapassagem", str(days_over))
    assert _row(text, "Intervalos acima do limite", str(intervals_over))
    assert _pt(max_kw) in text
    assert _pt(energy) in text
    assert _pt(ponta) in text
    load_factor = float(energy) / (float(max_kw) * 15 * 24)  # type: ignore[arg-type]
    assert _row(text, "Fator de carga", _pt(load_factor, 2))
    # previous fortnight for the trends, same view
    (prev_energy,) = _one(
        plant_db,
        "SELECT sum(energy_kwh) FROM bi.site_demand_15m WHERE time_utc >= %s AND time_utc < %s",
        datetime(2026, 10, 16, tzinfo=TZ), FORTNIGHT[0],
    )  # fmt: skip
    assert _pt(prev_energy) in text
    # money only as labelled estimates, from the configured tariff
    assert "Estimativas de custo" in text
    assert f"R$ {i18n.number(float(max_kw) * 40.0, 2, 'pt-BR')}" in text  # type: ignore[arg-type]
    assert "estimativas" in text
    assert "Recomendações ao gestor" in text
    suggested = -(-float(max_kw) // 1.05)  # type: ignore[arg-type]
    assert f"cerca de {_pt(suggested, 0)} kW" in text


def test_fortnightly_without_tariff_prices_shows_no_money(
    plant_db: str, config: DeliveryConfig
) -> None:
    from analytics.delivery.config import Tariff

    cfg = config.model_copy(update={"tariff": Tariff()})
    rec = service.generate(
        plant_db, SITE, "fortnightly", start=FORTNIGHT[0], end=FORTNIGHT[1], config=cfg
    )
    text = _text(Path(rec.path))
    assert re.search(r"R\$ \d", text) is None  # no money figure at all
    assert "Tarifas não configuradas" in text


def test_pages_render_to_png(plant_db: str, config: DeliveryConfig) -> None:
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm not installed (apt-get install poppler-utils)")
    PNG_DIR.mkdir(parents=True, exist_ok=True)
    for layout, (a, b) in (("daily", DAY), ("fortnightly", FORTNIGHT)):
        rec = service.generate(plant_db, SITE, layout, start=a, end=b, config=config)  # type: ignore[arg-type]
        prefix = PNG_DIR / layout
        subprocess.run(
            ["pdftoppm", "-r", "60", "-png", rec.path, str(prefix)], check=True, timeout=60
        )
        pages = sorted(PNG_DIR.glob(f"{layout}-*.png"))
        assert len(pages) == len(PdfReader(rec.path).pages) >= 2
        with Image.open(pages[0]) as img:
            rgb = img.convert("RGB")
            w, h = rgb.size
            assert rgb.getpixel((w // 2, 5)) == (11, 61, 110)  # the branded header band
            colours = rgb.getcolors(maxcolors=1_000_000) or []
            drawn = sum(n for n, c in colours if c != (255, 255, 255))
            assert drawn > 0.05 * w * h  # tables and charts, not a blank page


def test_report_as_the_analytics_role(plant_db: str, config: DeliveryConfig) -> None:
    from psycopg.conninfo import make_conninfo

    from ingestor.migrate import set_role_passwords

    set_role_passwords(plant_db, {"EMUSA_ANALYTICS_DB_PASSWORD": "pw"})
    dsn = make_conninfo(plant_db, user="emusa_analytics", password="pw")
    daily = service.generate(dsn, SITE, "daily", start=DAY[0], end=DAY[1], config=config,
                             record_kind="daily")  # fmt: skip
    fortnight = service.generate(
        dsn, SITE, "fortnightly", start=FORTNIGHT[0], end=FORTNIGHT[1], config=config,
        record_kind="fortnightly",
    )  # fmt: skip
    assert Path(daily.path).is_file() and Path(fortnight.path).is_file()
    again = service.generate(dsn, SITE, "daily", start=DAY[0], end=DAY[1], config=config,
                             record_kind="daily")  # fmt: skip
    assert again.report_id == daily.report_id  # a scheduled report exists once per period

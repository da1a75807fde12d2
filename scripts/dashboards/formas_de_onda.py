# ruff: noqa: RUF001  (pt-BR text for operators: its dashes and signs are intended)
"""EMUSA — Formas de onda: three-phase sine waves computed from the latest reading."""

from __future__ import annotations

from typing import Any

from .frame import dashboard
from .kit import BLUE, DS, Layout, override, stat, target
from .queries import LIVE_WINDOW


def wave_sql(
    quantities: tuple[str, str, str], labels: tuple[str, str, str], *, current: bool
) -> str:
    """Two cycles of the three phases, 120 degrees apart, amplitude sqrt(2) x latest RMS.

    The phase follows the reading's own timestamp (so successive refreshes move, like the
    seed's animation); currents lag their phase voltage by acos(PF of the phase).
    """
    lags = ["acos(least(greatest(coalesce(l.pf_l1, 1), -1), 1))",
            "acos(least(greatest(coalesce(l.pf_l2, 1), -1), 1))",
            "acos(least(greatest(coalesce(l.pf_l3, 1), -1), 1))"] if current else ["0", "0", "0"]  # fmt: skip
    shifts = ["0", "2 * pi() / 3", "4 * pi() / 3"]
    cols = ",\n       ".join(
        f'sqrt(2) * l.{qty} * sin(w.theta - {shift} - {lag}) AS "{label}"'
        for qty, label, shift, lag in zip(quantities, labels, shifts, lags, strict=True)
    )
    return (
        "WITH l AS (\n"
        "  SELECT r.* FROM readings r\n"
        "  WHERE r.meter_id = (SELECT meter_id FROM meters WHERE site_id = '$site' AND name = '$meter')\n"
        "    AND r.time <= $__timeTo()\n"
        f"    AND r.time > $__timeTo()::timestamptz - interval '{LIVE_WINDOW}'\n"
        "  ORDER BY r.time DESC LIMIT 1\n),\n"
        "w AS (\n"
        "  SELECT g.k, g.k / 100.0 / l.freq AS t,\n"
        "         2 * pi() * (g.k / 100.0 + l.freq * (extract(epoch FROM l.time) - floor(extract(epoch FROM l.time)))) AS theta\n"
        "  FROM l, generate_series(0, 200) AS g(k)\n)\n"
        f'SELECT round((w.t * 1000)::numeric, 3)::float8 AS "t_ms",\n       {cols}\n'
        "FROM w, l\nORDER BY w.k"
    )


def xychart(lay: Layout, title: str, sql: str, unit: str, ys: tuple[str, ...], *, w: int = 12, h: int = 10,
            description: str = "") -> dict[str, Any]:  # fmt: skip
    return {
        "datasource": DS,
        "description": description,
        "fieldConfig": {
            "defaults": {
                "color": {"mode": "palette-classic"},
                "custom": {"lineWidth": 2, "pointSize": 1, "show": "lines"},
                "unit": unit,
            },
            "overrides": [
                override(name, {"color": {"fixedColor": color, "mode": "fixed"}})
                for name, color in zip(ys, ("red", "yellow", "blue"), strict=True)
            ],
        },
        "gridPos": lay.place(w, h),
        "id": lay.id(),
        "options": {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            # auto mapping: x is t_ms, every other numeric column of the frame is a y series
            "mapping": "auto",
            "series": [{"x": {"matcher": {"id": "byName", "options": "t_ms"}}}],
            "tooltip": {"mode": "multi", "sort": "none"},
        },
        "targets": [target(sql, "table")],
        "title": title,
        "type": "xychart",
    }


def build() -> dict[str, Any]:
    lay = Layout()
    p: list[dict[str, Any]] = []
    v_labels = ("R (V12)", "S (V23)", "T (V31)")
    i_labels = ("R (I1)", "S (I2)", "T (I3)")
    p.append(xychart(lay, "Tensões de linha R/S/T (V)", wave_sql(("v_l12", "v_l23", "v_l31"), v_labels, current=False),
                     "volt", v_labels,
                     description="Dois ciclos senoidais defasados de 120°, amplitude √2 × RMS da última leitura, frequência medida. Eixo x em milissegundos."))  # fmt: skip
    p.append(xychart(lay, "Correntes R/S/T (A)", wave_sql(("i_l1", "i_l2", "i_l3"), i_labels, current=True),
                     "amp", i_labels,
                     description="Correntes de fase com amplitude √2 × RMS, atrasadas da tensão de fase pelo ângulo do FP de cada fase."))  # fmt: skip
    one = (
        "SELECT r.time, r.v_l12, r.v_l23, r.v_l31, r.i_l1, r.i_l2, r.i_l3, r.freq AS value\n"
        "FROM readings r\n"
        "WHERE r.meter_id = (SELECT meter_id FROM meters WHERE site_id = '$site' AND name = '$meter')\n"
        f"  AND r.time <= $__timeTo() AND r.time > $__timeTo()::timestamptz - interval '{LIVE_WINDOW}'\n"
        "ORDER BY r.time DESC LIMIT 1"
    )
    panel = stat(
        lay,
        "Última leitura (RMS)",
        one,
        "none",
        [(None, BLUE)],
        per_meter=False,
        w=24,
        h=4,
        decimals=1,
    )
    panel["options"]["reduceOptions"]["fields"] = "/^(v_l|i_l|value)/"
    panel["fieldConfig"]["overrides"] = [
        override("v_l12", {"displayName": "V12 (R)", "unit": "volt"}),
        override("v_l23", {"displayName": "V23 (S)", "unit": "volt"}),
        override("v_l31", {"displayName": "V31 (T)", "unit": "volt"}),
        override("i_l1", {"displayName": "I1", "unit": "amp"}),
        override("i_l2", {"displayName": "I2", "unit": "amp"}),
        override("i_l3", {"displayName": "I3", "unit": "amp"}),
        override("value", {"displayName": "Frequência", "unit": "hertz", "decimals": 2}),
    ]
    p.append(panel)
    return dashboard(
        "emusa-formas-de-onda",
        "EMUSA — Formas de onda",
        p,
        description="Ondas senoidais trifásicas R/S/T calculadas da última leitura (amplitude √2 × RMS, 120° entre fases).",
        time_from="now-5m",
        refresh="5s",
        multi_meter=False,
        with_anomalies=False,
    )

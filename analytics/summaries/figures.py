"""The figures of a 6-hour summary, read from the rollups with pandas: energy and peak
demand (with the previous window and the same window a week before, when as well
covered by data), the power factor, the share of 10-minute voltages per PRODIST band,
the anomalies and the model's state. :func:`analytics.summaries.text.render` turns them
into text. :func:`energy_peak` and :func:`voltage_quality` are pure; the queries of
:func:`summary_metrics` are in ``summaries/queries.sql`` (the rollup rows: detection's)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]

from analytics import db
from analytics.db import Conn
from analytics.detection import rules
from analytics.detection import store as readings
from analytics.summaries.text import Metrics
from analytics.worker import store as state
from contract import sqlfiles


def energy_peak(demand: pd.DataFrame) -> dict[str, Any]:
    if demand.empty or demand["demand_kw"].isna().all():
        return {"energy_kwh": None, "peak_demand_kw": None}
    peak = demand.loc[demand["demand_kw"].idxmax()]
    energy = demand["energy_kwh"].sum(min_count=1)
    return {
        "intervals": int(demand["demand_kw"].notna().sum()),
        "energy_kwh": None if pd.isna(energy) else round(float(energy), 3),
        "peak_demand_kw": round(float(peak["demand_kw"]), 3),
        "peak_at": pd.Timestamp(peak["bucket"]).isoformat(),
        "limit_kw": None if pd.isna(peak["limit_kw"]) else float(peak["limit_kw"]),
    }


def voltage_quality(minute: pd.DataFrame, meters: dict[int, rules.MeterInfo]) -> dict[str, Any]:
    """Share of 10-minute phase voltages per PRODIST band (adequate/precarious/critical)."""
    if minute.empty:
        return {"readings": 0}
    frame = minute.assign(bucket=minute["bucket"].dt.floor("10min"))
    cols = [f"{p}_avg" for p in rules.PHASES]
    ten = frame.groupby(["meter_id", "bucket"], as_index=False)[cols].mean()
    counts = {"adequate": 0, "precarious": 0, "critical": 0}
    for mid, group in ten.groupby("meter_id"):
        lo, hi, plo, phi = rules.voltage_bands(meters[int(mid)].nominal_ln)
        v = group[cols].to_numpy(dtype=float).ravel()
        v = v[~np.isnan(v)]
        adequate = (v >= lo) & (v <= hi)
        critical = (v < plo) | (v > phi)
        counts["adequate"] += int(adequate.sum())
        counts["critical"] += int(critical.sum())
        counts["precarious"] += int((~adequate & ~critical).sum())
    total = sum(counts.values())
    if total == 0:
        return {"readings": 0}
    return {"readings": total, **{f"{k}_pct": round(100 * n / total, 2) for k, n in counts.items()}}


def summary_metrics(conn: Conn, site: rules.SiteInfo, start: datetime, end: datetime) -> Metrics:
    params = {"site": site.site_id, "start": start, "end": end}
    demand = readings.frame(conn, "demand_rows", params)
    metrics: Metrics = {
        "site": site.site_id,
        "tz": site.timezone,
        "period_start": start.isoformat(),
        "period_end": end.isoformat(),
        "pf_reference": site.pf_reference,
        **energy_peak(demand),
    }
    if not demand.empty and demand["p_total_avg"].notna().any():
        p, qv = float(demand["p_total_avg"].sum()), float(demand["q_total_avg"].sum())
        metrics["pf_avg"] = round(abs(p) / float(np.hypot(p, qv)), 4) if p or qv else None
    meters = state.meters(conn, site.site_id)
    metrics["voltage"] = voltage_quality(readings.frame(conn, "minute_rows", params), meters)
    queries = sqlfiles.beside(__file__)
    rows = db.execute(conn, queries["window_events"], params)
    by_kind: dict[str, int] = {}
    by_sev: dict[str, int] = {}
    for r in rows:
        by_kind[r["kind"]] = by_kind.get(r["kind"], 0) + 1
        by_sev[r["severity"]] = by_sev.get(r["severity"], 0) + 1
    fit = db.execute(conn, queries["model_status"], {"site": site.site_id, "end": end})
    if fit:
        metrics["model"] = fit[0]["details"]
    metrics["anomalies"] = {
        "total": len(rows), "by_kind": by_kind, "by_severity": by_sev,
        "top": [{"kind": r["kind"], "meter": r["meter"], "severity": r["severity"],
                 "message_pt": r["message_pt"], "message_en": r["message_en"]} for r in rows[:3]],
    }  # fmt: skip
    for key, shift in (("previous", end - start), ("last_week", timedelta(days=7))):
        other = readings.frame(
            conn, "demand_rows", {"site": site.site_id, "start": start - shift, "end": end - shift}
        )
        figures = energy_peak(other)
        # compare only with a window about as well covered by data as this one
        comparable = figures["energy_kwh"] is not None and figures["intervals"] >= 0.9 * int(
            metrics.get("intervals", 0)
        )
        metrics[key] = (
            None
            if not comparable
            else {k: figures[k] for k in ("energy_kwh", "peak_demand_kw", "intervals")}
        )
    return metrics

# ruff: noqa: RUF001  (pt-BR typography: its dashes and signs are intended)
"""The 24-hour report: executive summary, KPIs, charts, anomalies, highest-consumption
windows, energy and maximum demand in ponta vs fora ponta. Pure module."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from reportlab.platypus import Flowable, KeepTogether, Paragraph

from analytics import i18n
from analytics.i18n import Lang, kind_name, t
from analytics.reports import charts, layout
from analytics.reports.content import (
    Completeness,
    DailyData,
    MeterKpis,
    PeriodSplit,
    ShiftFigures,
    Stat,
)

_PERIOD_ORDER = ("ponta", "intermediario", "fora_ponta")


def _site_splits(data: DailyData) -> list[PeriodSplit]:
    rows = [s for s in data.splits if s.meter is None]
    return sorted(
        rows, key=lambda s: _PERIOD_ORDER.index(s.period) if s.period in _PERIOD_ORDER else 9
    )


def summary_lines(data: DailyData, lang: Lang) -> list[str]:
    """The executive summary: a few sentences with the day's key figures."""
    pt = lang == "pt-BR"
    n = i18n.number
    out: list[str] = []
    splits = _site_splits(data)
    total = sum(s.energy_kwh or 0.0 for s in splits)
    if not data.meters or (total == 0 and all(m.samples == 0 for m in data.meters)):
        return [t("no_data", lang)]
    ponta = sum(s.energy_kwh or 0.0 for s in splits if s.period == "ponta")
    share = i18n.percent(ponta / total, 1, lang) if total > 0 else "–"
    out.append(
        f"Consumo total da unidade: {n(total, 1, lang)} kWh, dos quais {n(ponta, 1, lang)} kWh "
        f"({share}) no horário de ponta."
        if pt
        else f"Site consumption: {n(total, 1, lang)} kWh, of which {n(ponta, 1, lang)} kWh ({share}) "
        "in ponta."
    )
    for s in splits:
        if s.max_demand_kw is None:
            continue
        limit = data.site.limit_for(s.period)
        label = i18n.period_label(s.period, lang).lower()
        if limit is not None:
            state = (
                ("ACIMA do limite" if pt else "ABOVE the limit")
                if s.max_demand_kw > limit
                else ("dentro do limite" if pt else "within the limit")
            )
            out.append(
                f"Demanda máxima de 15 min ({label}): {n(s.max_demand_kw, 1, lang)} kW, {state} de "
                f"{n(limit, 1, lang)} kW (contratada + tolerância)."
                if pt
                else f"Maximum 15-min demand ({label}): {n(s.max_demand_kw, 1, lang)} kW, {state} of "
                f"{n(limit, 1, lang)} kW (contracted + tolerance)."
            )
        else:
            out.append(
                f"Demanda máxima de 15 min ({label}): {n(s.max_demand_kw, 1, lang)} kW."
                if pt
                else f"Maximum 15-min demand ({label}): {n(s.max_demand_kw, 1, lang)} kW."
            )
    ref = data.site.pf_reference
    low = [m for m in data.meters if m.pf.avg is not None and m.pf.avg < ref]
    if low:
        names = ", ".join(f"{m.meter} ({n(m.pf.avg, 2, lang)})" for m in low)
        out.append(
            f"Fator de potência médio abaixo de {n(ref, 2, lang)}: {names}."
            if pt
            else f"Average power factor below {n(ref, 2, lang)}: {names}."
        )
    incomplete = [c for c in data.completeness if c.has_gap]
    if incomplete:
        parts = ", ".join(_gap_phrase(c, lang) for c in incomplete)
        out.append(
            f"Dados incompletos (lacunas aparecem como interrupções): {parts}."
            if pt
            else f"Incomplete data (gaps show as breaks): {parts}."
        )
    sev = Counter(a.severity for a in data.anomalies)
    if sev:
        parts = ", ".join(
            f"{sev[k]} {i18n.severity_label(k, lang)}"
            for k in ("critical", "warning", "info")
            if sev[k]
        )
        out.append(
            f"Anomalias no período: {parts}." if pt else f"Anomalies in the period: {parts}."
        )
    else:
        out.append(t("no_anomalies", lang))
    if data.windows:
        w = data.windows[0]
        out.append(
            f"Hora de maior consumo: {i18n.hhmm(w.start)}–{i18n.hhmm(w.end)} com "
            f"{n(w.energy_kwh, 1, lang)} kWh ({n(w.avg_kw, 1, lang)} kW em média)."
            if pt
            else f"Highest-consumption hour: {i18n.hhmm(w.start)}–{i18n.hhmm(w.end)} with "
            f"{n(w.energy_kwh, 1, lang)} kWh ({n(w.avg_kw, 1, lang)} kW on average)."
        )
    return out


def _gap_phrase(c: Completeness, lang: Lang) -> str:
    share = i18n.percent(c.fraction, 1, lang)
    if c.received == 0:
        return f"{c.meter} ({'sem leituras' if lang == 'pt-BR' else 'no readings'})"
    since = (
        f" {'desde' if lang == 'pt-BR' else 'from'} {i18n.hhmm(c.longest_gap_from)}"
        if c.longest_gap_from
        else ""
    )
    gap = f"{'maior lacuna' if lang == 'pt-BR' else 'longest gap'} {i18n.duration(c.longest_gap_s, lang)}{since}"
    return f"{c.meter} {share} ({gap})"


def shift_rows(shifts: list[ShiftFigures], lang: Lang) -> list[list[str]]:
    """One row per shift (clipped to the period): shift, hours, energy, demand, PF, data."""
    return [
        [
            f"{i18n.short_day(s.production_date, lang)} {s.shift}",
            f"{i18n.hhmm(s.start)}–{i18n.hhmm(s.end)}",
            i18n.number(s.energy_kwh, 1, lang),
            i18n.number(s.max_demand_kw, 1, lang),
            i18n.number(s.pf_avg, 3, lang),
            i18n.percent(s.completeness, 0, lang),
        ]
        for s in shifts
    ]


def completeness_rows(items: list[Completeness], lang: Lang) -> list[list[str]]:
    """Per meter: readings received, expected, share, poll interval, longest gap."""
    rows = []
    for c in items:
        gap = i18n.duration(c.longest_gap_s, lang)
        if c.has_gap and c.longest_gap_from is not None and c.received:
            gap += f" ({i18n.hhmm(c.longest_gap_from)})"
        rows.append(
            [
                c.meter,
                str(c.received),
                "–" if c.expected is None else str(c.expected),
                i18n.percent(c.fraction, 1, lang),
                i18n.duration(c.step_s, lang),
                gap,
            ]
        )
    return rows


def _kpi_rows(m: MeterKpis, lang: Lang) -> list[list[str]]:
    def row(key: str, s: Stat, k: int) -> list[str]:
        return [
            m.meter,
            t(key, lang),
            i18n.number(s.avg, k, lang),
            i18n.number(s.max, k, lang),
            i18n.number(s.min, k, lang),
        ]

    return [
        row("v_ll", m.v_ll, 1),
        row("kw", m.kw, 1),
        row("pf", m.pf, 3),
        row("hz", m.hz, 2),
        [m.meter, t("energy_kwh", lang), i18n.number(m.energy_kwh, 1, lang), "", ""],
    ]


def _noted_table(
    title: str, columns: list[str], rows: list[list[str]], lang: Lang, *,
    widths: list[int], align_right_from: int,
) -> list[Flowable]:  # fmt: skip
    """A titled table with its note below: ``title`` and ``<title>_note`` are i18n keys."""
    return [
        layout.heading(t(title, lang)),
        layout.table(
            [t(c, lang) for c in columns], rows, widths=widths, align_right_from=align_right_from
        ),
        layout.para(t(f"{title}_note", lang), "note"),
    ]


def build_daily(data: DailyData, *, lang: Lang, branding: str, generated: datetime) -> bytes:
    """The PDF bytes of the 24-hour report."""
    title = t("daily_title", lang)
    hours = (data.end - data.start).total_seconds() / 3600
    story: list[Flowable] = [
        layout.para(title, "title"),
        layout.para(
            f"{t('site', lang)}: {data.site.name} ({data.site.site_id}) · {t('period', lang)}: "
            f"{i18n.when(data.start, lang)} – {i18n.when(data.end, lang)} ({data.site.timezone})",
            "sub",
        ),
        layout.heading(t("exec_summary", lang)),
        *layout.bullets(summary_lines(data, lang)),
        *layout.bullets(data.summaries),
        layout.heading(t("kpis", lang)),
    ]
    rows = [r for m in data.meters for r in _kpi_rows(m, lang)]
    story.append(
        layout.table(
            [
                t("meter", lang),
                t("quantity", lang),
                t("average", lang),
                t("maximum", lang),
                t("minimum", lang),
            ],
            rows,
            widths=[70, 130, 90, 90, 90],
            align_right_from=2,
        )
    )
    story.append(layout.heading(t("ponta_vs_fora", lang)))
    split_rows = []
    for sp in sorted(data.splits, key=lambda x: (x.meter is None, x.meter or "", x.period)):
        split_rows.append(
            [
                sp.meter or t("site_total", lang),
                i18n.period_label(sp.period, lang),
                i18n.number(sp.energy_kwh, 1, lang),
                i18n.number(sp.max_demand_kw, 1, lang),
            ]
        )
    story.append(
        layout.table(
            [
                t("meter", lang),
                t("tariff_period", lang),
                t("energy_kwh", lang),
                t("max_demand_kw", lang),
            ],
            split_rows,
            widths=[110, 130, 110, 120],
            align_right_from=2,
        )
    )
    if data.shifts:
        story += _noted_table(
            "shifts", ["shift", "hours", "energy_kwh", "max_demand_kw", "avg_pf", "data_share"],
            shift_rows(data.shifts, lang), lang, widths=[110, 80, 80, 100, 60, 50],
            align_right_from=2,
        )  # fmt: skip
    if data.completeness:
        story += _noted_table(
            "completeness",
            ["meter", "received", "expected", "data_share", "poll_interval", "longest_gap"],
            completeness_rows(data.completeness, lang), lang,
            widths=[70, 80, 70, 60, 80, 120], align_right_from=1,
        )  # fmt: skip
    if hours > 0 and data.series:
        tick = 3 if hours <= 30 else 24
        limit = data.site.limit_for("fora_ponta")
        lines = [(s.meter, s.kw) for s in data.series]
        if data.site_demand and len(data.series) > 1:
            lines.append((f"{t('site_total', lang)} (15 min)", data.site_demand))
        story.append(
            KeepTogether(
                [
                    layout.heading(t("load_profile", lang)),
                    charts.time_chart(
                        lines,
                        data.start,
                        hours,
                        lang,
                        y_min=0,
                        tick_hours=tick,
                        reference=None if limit is None else (f"{t('limit', lang)}", limit),
                    ),
                ]
            )
        )
        for s in data.series:
            story.append(
                KeepTogether(
                    [
                        layout.para(f"{t('voltages', lang)} – {s.meter}", "body"),
                        charts.time_chart(
                            [("L1-N", s.v_l1n), ("L2-N", s.v_l2n), ("L3-N", s.v_l3n)],
                            data.start,
                            hours,
                            lang,
                            tick_hours=tick,
                        ),
                    ]
                )
            )
        pf_low, _ = charts.pf_range([x.pf for x in data.series], data.site.pf_reference)
        story.append(
            KeepTogether(
                [
                    layout.heading(t("pf_chart", lang)),
                    charts.time_chart(
                        [(s.meter, s.pf) for s in data.series],
                        data.start,
                        hours,
                        lang,
                        reference=(
                            f"{t('reference', lang)} {i18n.number(data.site.pf_reference, 2, lang)}",
                            data.site.pf_reference,
                        ),
                        tick_hours=tick,
                        decimals=2,
                        y_min=pf_low,
                        y_max=1.0,
                    ),
                ]
            )
        )
    story.append(layout.heading(t("anomalies", lang)))
    if data.anomalies:
        cell = layout.STYLES["cell"]
        arows = [
            [
                i18n.when(a.started, lang),
                i18n.hhmm(a.ended) if a.ended else t("ongoing", lang),
                a.meter or "–",
                Paragraph(layout.esc(kind_name(a.kind, lang)), cell),
                i18n.severity_label(a.severity, lang),
                Paragraph(layout.esc(a.message), cell),
            ]
            for a in data.anomalies
        ]
        story.append(
            layout.table(
                [
                    t("start", lang),
                    t("end", lang),
                    t("meter", lang),
                    t("kind", lang),
                    t("severity", lang),
                    t("description", lang),
                ],
                arows,
                widths=[68, 36, 50, 72, 58, 196],
                align_right_from=99,
            )
        )
    else:
        story.append(layout.para(t("no_anomalies", lang)))
    windows: list[Flowable] = [layout.heading(t("top_windows", lang))]
    if data.windows:
        windows.append(
            layout.table(
                [t("window", lang), t("tariff_period", lang), t("energy_kwh", lang), t("kw", lang)],
                [
                    [
                        f"{i18n.when(w.start, lang)}–{i18n.hhmm(w.end)}",
                        i18n.period_label(w.period, lang),
                        i18n.number(w.energy_kwh, 1, lang),
                        i18n.number(w.avg_kw, 1, lang),
                    ]
                    for w in data.windows
                ],
                widths=[150, 110, 100, 110],
                align_right_from=2,
            )
        )
    else:
        windows.append(layout.para(t("no_data", lang)))
    story.append(KeepTogether(windows))
    return layout.build(
        story,
        title=title,
        branding=branding,
        site_name=data.site.name,
        generated=generated,
        lang=lang,
    )

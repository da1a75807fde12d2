# ruff: noqa: RUF001  (pt-BR typography: its dashes and signs are intended)
"""The fortnightly demand analysis. Pure module.

Daily maximum 15-min demand in ponta and fora ponta against the contracted demand,
ultrapassagem days, load factor, hourly power factor and excess reactive energy,
trends against the previous fortnight, estimated costs and recommendations.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from reportlab.platypus import Flowable, KeepTogether

from analytics import i18n
from analytics.delivery.config import Tariff
from analytics.i18n import Lang, kind_name, t
from analytics.reports import analysis, charts, layout
from analytics.reports.content import FortnightData, Point


def build_fortnightly(
    data: FortnightData,
    previous: FortnightData | None,
    *,
    tariff: Tariff,
    lang: Lang,
    branding: str,
    generated: datetime,
) -> bytes:
    """The PDF bytes of the fortnightly report."""

    def n(v: float | None, k: int = 1) -> str:
        return i18n.number(v, k, lang)

    site = data.site
    m = analysis.metrics(data)
    prev = analysis.metrics(previous) if previous is not None and previous.intervals else None
    title = t("fortnightly_title", lang)
    story: list[Flowable] = [
        layout.para(title, "title"),
        layout.para(
            f"{t('site', lang)}: {site.name} ({site.site_id}) · {t('period', lang)}: "
            f"{i18n.day(data.start.date(), lang)} – "
            f"{i18n.day((data.end - timedelta(seconds=1)).date(), lang)} "
            f"({site.timezone}) · {site.tariff_modality}",
            "sub",
        ),
        layout.heading(t("exec_summary", lang)),
    ]
    key_rows = [
        [t("energy_kwh", lang), n(m.energy_kwh)],
        [f"{t('energy_kwh', lang)} – {t('ponta', lang)}", n(m.energy_ponta_kwh)],
        [f"{t('energy_kwh', lang)} – {t('fora_ponta', lang)}", n(m.energy_fora_kwh)],
        [f"{t('max_demand_kw', lang)} – {t('ponta', lang)}", n(m.max_demand_ponta_kw)],
        [f"{t('max_demand_kw', lang)} – {t('fora_ponta', lang)}", n(m.max_demand_fora_kw)],
        [t("contracted", lang), n(site.contracted_kw)],
        [t("ultra_days", lang), str(m.ultra_days)],
        [t("intervals_over", lang), str(m.intervals_over)],
        [t("load_factor", lang), n(m.load_factor, 2)],
        [t("avg_pf", lang), n(m.avg_pf, 3)],
        [t("hours_below_ref", lang), str(m.hours_below_ref)],
        [t("ufer", lang), n(m.ufer_kvarh)],
    ]
    if site.tariff_modality == "azul":
        key_rows.insert(
            6, [f"{t('contracted', lang)} – {t('ponta', lang)}", n(site.contracted_ponta_kw)]
        )
    story.append(
        layout.table([t("indicator", lang), t("value", lang)], key_rows, widths=[260, 120])
    )
    story.append(layout.heading(t("recommendations", lang)))
    story.extend(layout.bullets(analysis.recommendations(data, m, prev, tariff, lang)))

    # demand per day
    story.append(layout.heading(t("demand_per_day", lang)))
    limit = site.limit_for("fora_ponta")
    if data.days:
        # every day of the period on the axis: a day without data has no bar (a gap),
        # not a zero bar and not a missing label
        by_day = {d.day: d for d in data.days}
        first, last = data.start.date(), (data.end - timedelta(microseconds=1)).date()
        all_days = [first + timedelta(days=k) for k in range((last - first).days + 1)]
        story.append(
            charts.demand_bars(
                [i18n.short_day(day, lang) for day in all_days],
                ponta=[by_day[day].max_ponta_kw if day in by_day else None for day in all_days],
                fora=[by_day[day].max_fora_kw if day in by_day else None for day in all_days],
                limit=limit,
                contracted=site.contracted_kw,
                lang=lang,
            )
        )
        rows = [
            [
                i18n.day(d.day, lang),
                n(d.max_ponta_kw),
                n(d.max_fora_kw),
                n(d.energy_ponta_kwh),
                n(d.energy_fora_kwh),
                str(d.intervals_over),
                t("yes", lang) if d.intervals_over else t("no", lang),
            ]
            for d in data.days
        ]
        story.append(
            layout.table(
                [
                    t("day", lang),
                    f"kW {t('ponta', lang)}",
                    f"kW {t('fora_ponta', lang)}",
                    f"kWh {t('ponta', lang)}",
                    f"kWh {t('fora_ponta', lang)}",
                    t("intervals_over", lang),
                    t("ultrapassagem", lang),
                ],
                rows,
                widths=[60, 60, 75, 60, 75, 75, 70],
            )
        )
    else:
        story.append(layout.para(t("no_data", lang)))

    # hourly power factor
    if data.hours:
        hours = (data.end - data.start).total_seconds() / 3600
        pts = [
            Point(h.start, analysis.hour_pf(h, capacitive=False) if h.energy_kwh else None)
            for h in data.hours
        ]
        story.append(
            KeepTogether(
                [
                    layout.heading(t("pf_hourly", lang)),
                    charts.time_chart(
                        [(t("pf", lang), pts)],
                        data.start,
                        hours,
                        lang,
                        reference=(
                            f"{t('reference', lang)} {n(site.pf_reference, 2)}",
                            site.pf_reference,
                        ),
                        tick_hours=48,
                        y_min=charts.pf_range([pts], site.pf_reference)[0],
                        y_max=1.0,
                        label=lambda d: i18n.short_day(d.date(), lang),
                        decimals=2,
                    ),
                ]
            )
        )

    # trends
    story.append(layout.heading(t("trends", lang)))
    if prev is not None:

        def trow(label: str, cur: float | None, old: float | None, k: int = 1) -> list[str]:
            return [
                label,
                n(cur, k),
                n(old, k),
                i18n.signed_percent(analysis.change(cur, old), 1, lang),
            ]

        story.append(
            layout.table(
                [t("indicator", lang), t("current", lang), t("previous", lang), t("change", lang)],
                [
                    trow(t("energy_kwh", lang), m.energy_kwh, prev.energy_kwh),
                    trow(f"kWh {t('ponta', lang)}", m.energy_ponta_kwh, prev.energy_ponta_kwh),
                    trow(t("max_demand_kw", lang), m.max_demand_kw, prev.max_demand_kw),
                    trow(t("load_factor", lang), m.load_factor, prev.load_factor, 2),
                    trow(t("avg_pf", lang), m.avg_pf, prev.avg_pf, 3),
                    trow(t("ufer", lang), m.ufer_kvarh, prev.ufer_kvarh),
                    trow(t("ultra_days", lang), m.ultra_days, prev.ultra_days, 0),
                ],
                widths=[200, 90, 90, 90],
            )
        )
    else:
        story.append(layout.para(t("no_data", lang)))

    # money, estimates only
    story.append(layout.heading(t("cost_estimates", lang)))
    if tariff.configured:
        c = analysis.costs(data, m, tariff)
        cur = tariff.currency
        story.append(
            layout.table(
                [t("item", lang), t("value", lang)],
                [
                    [t("cost_demand", lang), i18n.money(c.demand, lang, cur)],
                    [t("cost_ultra", lang), i18n.money(c.ultrapassagem, lang, cur)],
                    [t("cost_energy_ponta", lang), i18n.money(c.energy_ponta, lang, cur)],
                    [t("cost_energy_fora", lang), i18n.money(c.energy_fora, lang, cur)],
                    [t("cost_reactive", lang), i18n.money(c.reactive, lang, cur)],
                    [t("cost_total", lang), i18n.money(c.total, lang, cur)],
                ],
                widths=[300, 120],
            )
        )
        story.append(layout.para(t("estimate_note", lang), "note"))
    else:
        story.append(layout.para(t("no_tariff", lang), "note"))
    if data.anomalies_by_kind:
        story.append(layout.heading(t("anomalies", lang)))
        story.append(
            layout.table(
                [t("kind", lang), "#"],
                sorted([kind_name(k, lang), str(v)] for k, v in data.anomalies_by_kind.items()),
                widths=[300, 60],
            )
        )
    return layout.build(
        story, title=title, branding=branding, site_name=site.name, generated=generated, lang=lang
    )

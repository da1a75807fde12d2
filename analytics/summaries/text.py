"""Six-hourly summaries for managers, written from the numbers (pt-BR and en).

Pure module. ``render(metrics, lang)`` is the deterministic text; ``key_numbers`` lists
the figures an optional language-model rewrite must keep verbatim.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from analytics.i18n import clock, day, kind_name, percent_change, text_number

Metrics = dict[str, Any]


def _local(iso: str, tz: str) -> datetime:
    return datetime.fromisoformat(iso).astimezone(ZoneInfo(tz))


def _change(now: float | None, before: float | None) -> float | None:
    if now is None or before is None or before <= 0:
        return None
    return now / before - 1


def key_numbers(metrics: Metrics, lang: str) -> list[str]:
    """The formatted figures that any rewrite of the text must contain."""
    out = []
    if metrics.get("energy_kwh") is not None:
        out.append(text_number(metrics["energy_kwh"], lang, 1))
    if metrics.get("peak_demand_kw") is not None:
        out.append(text_number(metrics["peak_demand_kw"], lang, 1))
    if metrics.get("pf_avg") is not None:
        out.append(text_number(metrics["pf_avg"], lang, 2))
    return out


def _comparisons(metrics: Metrics, lang: str) -> str:
    pt = lang == "pt-BR"
    parts = []
    for key, label_pt, label_en in (
        ("previous", "frente às 6 h anteriores", "vs the previous 6 h"),
        ("last_week", "frente ao mesmo período da semana passada", "vs the same window last week"),
    ):
        ref = metrics.get(key) or {}
        change = _change(metrics.get("energy_kwh"), ref.get("energy_kwh"))
        if change is not None:
            parts.append(f"{percent_change(change, lang)} {label_pt if pt else label_en}")
    return f" ({'; '.join(parts)})" if parts else ""


def render(metrics: Metrics, lang: str = "pt-BR") -> str:
    """The summary text in ``lang`` ("pt-BR" or "en")."""
    pt = lang == "pt-BR"
    tz = metrics.get("tz", "America/Sao_Paulo")
    start = _local(metrics["period_start"], tz)
    end = _local(metrics["period_end"], tz)
    head = (
        f"Resumo de 6 h - {metrics['site']}, {day(start, lang)} {clock(start, lang)}-{clock(end, lang)}."
        if pt
        else f"6-hour summary - {metrics['site']}, {day(start, lang)} {clock(start, lang)}-{clock(end, lang)}."
    )
    lines = [head]
    energy = metrics.get("energy_kwh")
    if energy is None:
        lines.append(
            "Sem dados de medição neste período." if pt else "No meter data in this window."
        )
    else:
        lines.append(
            (
                f"Consumo: {text_number(energy, lang, 1)} kWh"
                if pt
                else f"Energy: {text_number(energy, lang, 1)} kWh"
            )
            + _comparisons(metrics, lang)
            + "."
        )
    peak = metrics.get("peak_demand_kw")
    if peak is not None:
        at = clock(_local(metrics["peak_at"], tz), lang)
        limit = metrics.get("limit_kw")
        text = (
            f"Demanda máxima (15 min): {text_number(peak, lang, 1)} kW às {at}"
            if pt
            else f"Peak 15-min demand: {text_number(peak, lang, 1)} kW at {at}"
        )
        if limit is not None:
            over = peak > limit
            if pt:
                text += (
                    f", ACIMA do limite de {text_number(limit, lang, 1)} kW (ultrapassagem)"
                    if over
                    else f", dentro do limite de {text_number(limit, lang, 1)} kW"
                )
            else:
                text += (
                    f", ABOVE the {text_number(limit, lang, 1)} kW limit (ultrapassagem)"
                    if over
                    else f", within the {text_number(limit, lang, 1)} kW limit"
                )
        lines.append(text + ".")
    pf = metrics.get("pf_avg")
    if pf is not None:
        ref = text_number(metrics.get("pf_reference", 0.92), lang, 2)
        lines.append(
            f"Fator de potência médio: {text_number(pf, lang, 2)} (referência {ref})."
            if pt
            else f"Average power factor: {text_number(pf, lang, 2)} (reference {ref})."
        )
    volt = metrics.get("voltage")
    if volt and volt.get("readings"):
        lines.append(
            f"Tensão: {text_number(volt['adequate_pct'], lang, 1)}% das medições de 10 min na faixa "
            f"adequada (PRODIST), {text_number(volt['precarious_pct'], lang, 1)}% precária, "
            f"{text_number(volt['critical_pct'], lang, 1)}% crítica."
            if pt
            else f"Voltage: {text_number(volt['adequate_pct'], lang, 1)}% of 10-min readings in the "
            f"adequate band (PRODIST), {text_number(volt['precarious_pct'], lang, 1)}% precarious, "
            f"{text_number(volt['critical_pct'], lang, 1)}% critical."
        )
    lines.append(_anomalies(metrics.get("anomalies") or {}, lang))
    warming = _model_warmup(metrics.get("model") or {}, lang)
    if warming:
        lines.append(warming)
    return "\n".join(lines)


# the statistical model's day groups (analytics/detection/seasonal.py DAY_TYPES and POOLED)
GROUP_NAMES = {
    "working": ("dias úteis", "working days"),
    "saturday": ("sábados", "Saturdays"),
    "sunday_holiday": ("domingos/feriados", "Sundays/holidays"),
    "weekend_holiday": ("fins de semana/feriados", "weekends/holidays"),
}


def _model_warmup(model: dict[str, Any], lang: str) -> str | None:
    """The meters whose day groups the statistical model cannot score yet, if any."""
    pt = lang == "pt-BR"
    parts = []
    for meter, status in sorted((model.get("meters") or {}).items()):
        groups = [
            f"{GROUP_NAMES.get(g, (g, g))[0 if pt else 1]}: {status['days'].get(g, 0)}"
            f" {'de' if pt else 'of'} {status['min_days']} {'dias' if pt else 'days'}"
            for g in status.get("warming_up", [])
        ]
        if groups:
            parts.append(f"{meter} ({', '.join(groups)})")
    if not parts:
        return None
    return (
        "Modelo estatístico: histórico ainda insuficiente em "
        + "; ".join(parts)
        + " - esses horários não são avaliados pelo modelo."
        if pt
        else "Statistical model: not enough history yet for "
        + "; ".join(parts)
        + " - those hours are not scored by the model."
    )


def _anomalies(a: dict[str, Any], lang: str) -> str:
    pt = lang == "pt-BR"
    total = int(a.get("total", 0))
    if total == 0:
        return "Nenhuma anomalia detectada." if pt else "No anomalies detected."
    sev = a.get("by_severity", {})
    counts = [
        (sev.get("critical", 0), "crítica(s)", "critical"),
        (sev.get("warning", 0), "alerta(s)", "warning"),
        (sev.get("info", 0), "informativa(s)", "info"),
    ]
    detail = ", ".join(f"{n} {p if pt else e}" for n, p, e in counts if n)
    kinds = ", ".join(
        f"{kind_name(k, lang)} ({n})"
        for k, n in sorted(a.get("by_kind", {}).items(), key=lambda kv: -kv[1])
    )
    text = (
        f"Anomalias: {total} ({detail}): {kinds}."
        if pt
        else f"Anomalies: {total} ({detail}): {kinds}."
    )
    top = a.get("top", [])
    if top:
        key = "message_pt" if pt else "message_en"
        text += (" Principais: " if pt else " Main ones: ") + " | ".join(t[key] for t in top) + "."
    return text

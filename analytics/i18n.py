# ruff: noqa: RUF001  (pt-BR typography: its dashes and signs are intended)
"""The words and number formats of analytics in pt-BR and en: one module for the
reports, the alerts, the summaries and the event texts.

* names: the report strings (:func:`t`), the event kinds (:data:`KIND_NAMES`), the
  severities (:data:`SEVERITY`) and the tariff periods, each as ``(pt-BR, en)``;
* numbers in tables and charts (:func:`number`, :func:`percent`, :func:`money`...): a
  missing value is an en dash;
* numbers inside a sentence (:func:`text_number`, :func:`percent_change`): a true minus
  sign;
* dates and times (:func:`day`, :func:`when`, :func:`clock`, :func:`hhmm`...).

pt-BR numbers use a decimal comma and a thousands dot (``1.234,5``); English uses
``1,234.5``. Pure module.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Final, Literal

Lang = Literal["pt-BR", "en"]
LANGS: Final = ("pt-BR", "en")


_STRINGS: Final[dict[str, tuple[str, str]]] = {
    # key: (pt-BR, en)
    "daily_title": ("Relatório de energia – 24 horas", "Energy report – 24 hours"),
    "fortnightly_title": ("Análise quinzenal de demanda", "Fortnightly demand analysis"),
    "site": ("Unidade", "Site"),
    "period": ("Período", "Period"),
    "generated": ("Gerado em", "Generated"),
    "page": ("Página", "Page"),
    "exec_summary": ("Resumo executivo", "Executive summary"),
    "kpis": ("Indicadores (KPIs)", "Key figures (KPIs)"),
    "meter": ("Medidor", "Meter"),
    "quantity": ("Grandeza", "Quantity"),
    "average": ("Média", "Average"),
    "maximum": ("Máximo", "Maximum"),
    "minimum": ("Mínimo", "Minimum"),
    "v_ll": ("Tensão L-L (V)", "Voltage L-L (V)"),
    "kw": ("Potência ativa (kW)", "Active power (kW)"),
    "pf": ("Fator de potência", "Power factor"),
    "hz": ("Frequência (Hz)", "Frequency (Hz)"),
    "energy_kwh": ("Energia (kWh)", "Energy (kWh)"),
    "energy": ("Energia", "Energy"),
    "load_profile": ("Perfil de carga (média de 15 min, kW)", "Load profile (15-min average, kW)"),
    "voltages": ("Tensões por fase (V)", "Voltages per phase (V)"),
    "pf_chart": ("Fator de potência (média de 15 min)", "Power factor (15-min average)"),
    "anomalies": ("Anomalias", "Anomalies"),
    "no_anomalies": (
        "Nenhuma anomalia registrada no período.",
        "No anomaly recorded in the period.",
    ),
    "start": ("Início", "Start"),
    "end": ("Fim", "End"),
    "kind": ("Tipo", "Kind"),
    "severity": ("Severidade", "Severity"),
    "description": ("Descrição", "Description"),
    "ongoing": ("em curso", "ongoing"),
    "top_windows": ("Janelas de maior consumo (1 h)", "Highest-consumption windows (1 h)"),
    "window": ("Janela", "Window"),
    "tariff_period": ("Posto tarifário", "Tariff period"),
    "ponta": ("Ponta", "Peak (ponta)"),
    "fora_ponta": ("Fora de ponta", "Off-peak (fora ponta)"),
    "intermediario": ("Intermediário", "Intermediate"),
    "ponta_vs_fora": ("Ponta × fora de ponta", "Ponta vs fora-ponta"),
    "max_demand_kw": ("Demanda máxima (kW)", "Maximum demand (kW)"),
    "share": ("Participação", "Share"),
    "site_total": ("Total da unidade", "Site total"),
    "no_data": ("Sem dados no período.", "No data in the period."),
    "estimate_note": (
        "Valores em dinheiro são estimativas a partir das tarifas configuradas; não substituem a fatura da distribuidora.",
        "Money figures are estimates from the configured tariffs; they do not replace the utility bill.",
    ),
    "no_tariff": (
        "Tarifas não configuradas: estimativas em R$ omitidas.",
        "Tariff prices not configured: money estimates omitted.",
    ),
    # fortnightly
    "demand_per_day": ("Demanda máxima de 15 min por dia", "Maximum 15-min demand per day"),
    "day": ("Dia", "Day"),
    "contracted": ("Contratada (kW)", "Contracted (kW)"),
    "limit": ("Limite +tolerância (kW)", "Limit + tolerance (kW)"),
    "ultrapassagem": ("Ultrapassagem", "Demand excess (ultrapassagem)"),
    "ultra_days": ("Dias com ultrapassagem", "Days with demand excess"),
    "intervals_over": ("Intervalos acima do limite", "Intervals above the limit"),
    "load_factor": ("Fator de carga", "Load factor"),
    "pf_hourly": ("Fator de potência horário", "Hourly power factor"),
    "hours_below_ref": ("Horas abaixo da referência", "Hours below the reference"),
    "ufer": (
        "Energia reativa excedente (estimativa, kvarh)",
        "Excess reactive energy (estimate, kvarh)",
    ),
    "trends": ("Tendências × quinzena anterior", "Trends vs previous fortnight"),
    "indicator": ("Indicador", "Indicator"),
    "current": ("Atual", "Current"),
    "previous": ("Anterior", "Previous"),
    "change": ("Variação", "Change"),
    "recommendations": ("Recomendações ao gestor", "Recommendations for the manager"),
    "cost_estimates": ("Estimativas de custo (R$)", "Cost estimates (R$)"),
    "item": ("Item", "Item"),
    "value": ("Valor", "Value"),
    "cost_demand": (
        "Demanda (mensal, pela máxima medida)",
        "Demand (monthly, at the measured maximum)",
    ),
    "cost_ultra": ("Ultrapassagem (estimativa)", "Demand excess (estimate)"),
    "cost_energy_ponta": ("Energia na ponta", "Energy in ponta"),
    "cost_energy_fora": ("Energia fora de ponta", "Energy fora ponta"),
    "cost_reactive": ("Reativo excedente (estimativa)", "Excess reactive (estimate)"),
    "cost_total": ("Total estimado da quinzena", "Estimated fortnight total"),
    "avg_pf": ("FP médio", "Average PF"),
    "max_demand": ("Demanda máxima", "Maximum demand"),
    "reference": ("Referência", "Reference"),
    "shifts": ("Energia por turno (total da unidade)", "Energy per shift (site total)"),
    "shift": ("Turno", "Shift"),
    "hours": ("Horário", "Hours"),
    "data_share": ("Dados", "Data"),
    "shifts_note": (
        "Turnos da unidade (ou o padrão A 06–14, B 14–22, C 22–06 em dias úteis e "
        "fim de semana 06–06 em sábados, domingos e feriados); cada turno pertence ao dia em "
        "que começa. Dados: parcela dos intervalos de 15 min do turno com medição de todos os "
        "medidores do total; nada é preenchido em falhas.",
        "Site shifts (or the default A 06–14, B 14–22, C 22–06 on working days and a "
        "weekend bucket 06–06 on Saturdays, Sundays and holidays); a shift belongs to the "
        "day it starts on. Data: share of the shift's 15-min intervals with measurements of "
        "every meter in the site total; nothing is filled in for outages.",
    ),
    "completeness": ("Completude dos dados por medidor", "Data completeness per meter"),
    "received": ("Leituras recebidas", "Readings received"),
    "expected": ("Esperadas", "Expected"),
    "poll_interval": ("Intervalo de leitura", "Poll interval"),
    "longest_gap": ("Maior lacuna", "Longest gap"),
    "completeness_note": (
        "Esperadas: duração do período dividida pelo intervalo de leitura do medidor "
        "(mediana do espaçamento das leituras). Lacunas aparecem como interrupções nos "
        "gráficos; nenhum valor é repetido para cobri-las.",
        "Expected: the period's length divided by the meter's poll interval (median "
        "spacing of its readings). Gaps show as breaks in the charts; no value is repeated "
        "to cover them.",
    ),
    "yes": ("sim", "yes"),
    "no": ("não", "no"),
}

KIND_NAMES: Final[dict[str, tuple[str, str]]] = {
    "voltage_band": ("tensão fora da faixa adequada (PRODIST)", "voltage outside the adequate band (PRODIST)"),
    "frequency": ("frequência fora de 59,9-60,1 Hz", "frequency outside 59.9-60.1 Hz"),
    "voltage_unbalance": ("desequilíbrio de tensão", "voltage unbalance"),
    "current_unbalance": ("desequilíbrio de corrente", "current unbalance"),
    "phase_loss": ("falta de fase", "phase loss"),
    "power_factor": ("fator de potência horário abaixo da referência", "hourly power factor below the reference"),
    "demand_exceeded": ("ultrapassagem de demanda contratada", "contracted demand exceeded"),
    "demand_projection": ("previsão de ultrapassagem de demanda", "demand excess forecast"),
    "meter_silent": ("medidor sem dados", "meter silent"),
    "model_outlier": ("padrão de consumo incomum", "unusual consumption pattern"),
    "counter_reset": ("contador de energia zerado", "energy counter reset"),
    "counter_jump": ("salto do contador de energia", "energy counter jump"),
    "counter_mismatch": ("contador de energia e potência divergem", "energy counter and power disagree"),
    "counter_lost_data": ("leituras perdidas (o contador avançou)", "readings lost (the counter advanced)"),
    "counter_scale": ("erro de escala do contador de energia", "energy counter scale error"),
    "voltage_sag": ("afundamento de tensão (VTCD, PRODIST)", "voltage sag (short-duration variation, PRODIST)"),
    "voltage_swell": ("elevação de tensão (VTCD, PRODIST)", "voltage swell (short-duration variation, PRODIST)"),
    "voltage_interruption": ("interrupção de tensão (VTCD, PRODIST)", "voltage interruption (short-duration variation, PRODIST)"),
    "meter_stuck": ("medidor travado (leituras idênticas)", "meter stuck (identical readings)"),
    "demand_implausible": ("demanda do contador fisicamente impossível", "counter demand physically impossible"),
}  # fmt: skip

SEVERITY: Final[dict[str, tuple[str, str]]] = {
    "info": ("informativa", "info"),
    "warning": ("alerta", "warning"),
    "critical": ("crítica", "critical"),
}


def t(key: str, lang: Lang) -> str:
    """The text of ``key`` in ``lang``."""
    pt, en = _STRINGS[key]
    return pt if lang == "pt-BR" else en


def period_label(period: str, lang: Lang) -> str:
    return t(period, lang) if period in ("ponta", "fora_ponta", "intermediario") else period


def kind_name(kind: str, lang: str) -> str:
    """The name of an event kind (the kind itself when unknown)."""
    pt, en = KIND_NAMES.get(kind, (kind, kind))
    return pt if lang == "pt-BR" else en


def severity_label(severity: str, lang: Lang) -> str:
    pt, en = SEVERITY.get(severity, (severity, severity))
    return pt if lang == "pt-BR" else en


def number(value: float | None, decimals: int = 1, lang: Lang = "pt-BR") -> str:
    """``1234.5`` -> ``1.234,5`` (pt-BR) or ``1,234.5`` (en); None/NaN -> an en dash."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return _digits(value, decimals, lang)


def _digits(value: float, decimals: int, lang: str) -> str:
    text = f"{value:,.{decimals}f}"
    if lang == "pt-BR":
        text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    return text


def percent(value: float | None, decimals: int = 1, lang: Lang = "pt-BR") -> str:
    """A fraction as a percentage: ``0.125`` -> ``12,5 %``."""
    if value is None:
        return "–"
    return f"{number(value * 100, decimals, lang)} %"


def signed_percent(value: float | None, decimals: int = 1, lang: Lang = "pt-BR") -> str:
    if value is None:
        return "–"
    sign = "+" if value > 0 else ""
    return f"{sign}{number(value * 100, decimals, lang)} %"


def money(value: float | None, lang: Lang = "pt-BR", currency: str = "R$") -> str:
    """``R$ 1.234,56`` in both languages (the currency is the Brazilian real)."""
    if value is None:
        return "–"
    return f"{currency} {number(value, 2, lang)}"


def day(value: date, lang: str) -> str:
    """``05/11/2026`` (pt-BR) or ``2026-11-05`` (en); a datetime gives its date."""
    return value.strftime("%d/%m/%Y") if lang == "pt-BR" else value.strftime("%Y-%m-%d")


def short_day(value: date, lang: Lang) -> str:
    return value.strftime("%d/%m") if lang == "pt-BR" else value.strftime("%m-%d")


def when(value: datetime, lang: Lang) -> str:
    """A local instant, to the minute."""
    return value.strftime("%d/%m/%Y %H:%M") if lang == "pt-BR" else value.strftime("%Y-%m-%d %H:%M")


def hhmm(value: datetime) -> str:
    return value.strftime("%H:%M")


def clock(ts: datetime, lang: str) -> str:
    """Local wall-clock time in a sentence: ``10h15`` (pt-BR) or ``10:15`` (en)."""
    return ts.strftime("%Hh%M") if lang == "pt-BR" else ts.strftime("%H:%M")


def duration(seconds: float | None, lang: Lang = "pt-BR") -> str:
    """``3780`` -> ``1 h 03 min``; ``45`` -> ``45 s``; ``1.5`` -> ``1,5 s``."""
    if seconds is None or not math.isfinite(seconds):
        return "–"
    if seconds < 60:
        return f"{number(seconds, 0 if seconds == int(seconds) else 1, lang)} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


# --- numbers inside a sentence (summaries, event texts, operator messages) ------------


def text_number(value: float, lang: str, decimals: int = 1) -> str:
    """``1234.5`` -> ``1.234,5`` (pt-BR) or ``1,234.5`` (en), with a true minus sign."""
    return _digits(value, decimals, lang).replace("-", "\u2212")


def percent_change(value: float, lang: str) -> str:
    """``0.042`` -> ``+4,2%``."""
    sign = "+" if value >= 0 else ""
    return f"{sign}{text_number(value * 100, lang, 1)}%"

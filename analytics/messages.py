"""Short explanations of events, in pt-BR and en, from the event's numbers."""

from __future__ import annotations

from typing import Any

from analytics.fmt import number

KIND_NAMES = {
    "voltage_band": ("tensão fora da faixa adequada (PRODIST)", "voltage outside the adequate band (PRODIST)"),
    "frequency": ("frequência fora de 59,9-60,1 Hz", "frequency outside 59.9-60.1 Hz"),
    "voltage_unbalance": ("desequilíbrio de tensão", "voltage unbalance"),
    "current_unbalance": ("desequilíbrio de corrente", "current unbalance"),
    "phase_loss": ("falta de fase", "phase loss"),
    "power_factor": ("fator de potência horário abaixo da referência", "hourly power factor below the reference"),
    "demand_exceeded": ("ultrapassagem de demanda contratada", "contracted demand exceeded"),
    "meter_silent": ("medidor sem dados", "meter silent"),
    "model_outlier": ("padrão de consumo incomum", "unusual consumption pattern"),
}  # fmt: skip

SEVERITY_NAMES = {
    "info": ("informativo", "info"),
    "warning": ("alerta", "warning"),
    "critical": ("crítico", "critical"),
}

UNITS = {"V": "V", "Hz": "Hz", "%": "%", "kW": "kW", "": ""}


def kind_name(kind: str, lang: str) -> str:
    pt, en = KIND_NAMES.get(kind, (kind, kind))
    return pt if lang == "pt-BR" else en


def _n(value: float | None, lang: str, decimals: int) -> str:
    return "?" if value is None else number(value, lang, decimals)


def describe(
    kind: str,
    meter: str | None,
    measured: float | None,
    limit: float | None,
    details: dict[str, Any],
) -> tuple[str, str]:
    """(message_pt, message_en) for an event."""
    where_pt = f"medidor {meter}" if meter else "site (total)"
    where_en = f"meter {meter}" if meter else "site total"
    out = []
    for lang in ("pt-BR", "en"):
        pt = lang == "pt-BR"
        where = where_pt if pt else where_en
        name = kind_name(kind, lang)
        if kind == "voltage_band":
            band = details.get("band", "precarious")
            band_txt = {
                "precarious": ("precária", "precarious"),
                "critical": ("crítica", "critical"),
            }[band]
            phase = details.get("phase", "")
            text = (
                f"{where}: tensão {phase} em faixa {band_txt[0]}: {_n(measured, lang, 1)} V "
                f"(faixa adequada {_n(details.get('adequate_low'), lang, 0)}-{_n(details.get('adequate_high'), lang, 0)} V, média de 10 min)"
                if pt
                else f"{where}: voltage {phase} in the {band_txt[1]} band: {_n(measured, lang, 1)} V "
                f"(adequate {_n(details.get('adequate_low'), lang, 0)}-{_n(details.get('adequate_high'), lang, 0)} V, 10-min average)"
            )
        elif kind == "frequency":
            text = (
                f"{where}: frequência de {_n(measured, lang, 2)} Hz (faixa normal 59,9-60,1 Hz)"
                if pt
                else f"{where}: frequency {_n(measured, lang, 2)} Hz (normal range 59.9-60.1 Hz)"
            )
        elif kind in ("voltage_unbalance", "current_unbalance"):
            text = (
                f"{where}: {name} de {_n(measured, lang, 1)}% (limite {_n(limit, lang, 1)}%, média de 10 min)"
                if pt
                else f"{where}: {name} of {_n(measured, lang, 1)}% (limit {_n(limit, lang, 1)}%, 10-min average)"
            )
        elif kind == "phase_loss":
            phases = ", ".join(details.get("phases", []))
            text = (
                f"{where}: falta de fase {phases} (tensão {_n(measured, lang, 1)} V, abaixo de {_n(limit, lang, 0)} V)"
                if pt
                else f"{where}: phase {phases} lost (voltage {_n(measured, lang, 1)} V, below {_n(limit, lang, 0)} V)"
            )
        elif kind == "power_factor":
            nature = details.get("nature", "inductive")
            nat = {
                "inductive": ("indutivo", "inductive"),
                "capacitive": ("capacitivo", "capacitive"),
            }[nature]
            text = (
                f"{where}: fator de potência horário {nat[0]} de {_n(measured, lang, 2)} (referência {_n(limit, lang, 2)}; possível cobrança de excedente reativo)"
                if pt
                else f"{where}: hourly {nat[1]} power factor {_n(measured, lang, 2)} (reference {_n(limit, lang, 2)}; excess reactive charges possible)"
            )
        elif kind == "demand_exceeded":
            text = (
                f"{where}: demanda de 15 min de {_n(measured, lang, 1)} kW acima do limite de {_n(limit, lang, 1)} kW (contratada + tolerância)"
                if pt
                else f"{where}: 15-min demand of {_n(measured, lang, 1)} kW above the {_n(limit, lang, 1)} kW limit (contracted + tolerance)"
            )
        elif kind == "meter_silent":
            text = (
                f"{where}: sem leituras há {_n(measured, lang, 0)} min (limite {_n(limit, lang, 0)} min)"
                if pt
                else f"{where}: no readings for {_n(measured, lang, 0)} min (limit {_n(limit, lang, 0)} min)"
            )
        elif kind == "model_outlier":
            drivers = details.get("drivers", [])
            parts = []
            for d in drivers[:3]:
                label = d["label_pt"] if pt else d["label_en"]
                parts.append(
                    f"{label} {_n(d['value'], lang, d.get('decimals', 1))} "
                    + (
                        f"(típico {_n(d['typical'], lang, d.get('decimals', 1))})"
                        if pt
                        else f"(typical {_n(d['typical'], lang, d.get('decimals', 1))})"
                    )
                )
            why = (
                "; ".join(parts)
                if parts
                else ("combinação incomum" if pt else "unusual combination")
            )
            text = f"{where}: {name}: {why}"
        else:
            text = f"{where}: {name}"
        out.append(text)
    return out[0], out[1]

"""Short explanations of events, in pt-BR and en, from the event's numbers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from analytics.i18n import KIND_NAMES, clock, kind_name, text_number

# PRODIST duration classes of a short-duration variation
DURATION_CLASSES = {
    "momentary": ("momentâneo", "momentary"),
    "temporary": ("temporário", "temporary"),
}


def _n(value: float | None, lang: str, decimals: int) -> str:
    return "?" if value is None else text_number(value, lang, decimals)


def _clock(value: Any, lang: str) -> str:
    return "?" if not value else clock(datetime.fromisoformat(str(value)), lang)


def _counter_text(kind: str, where: str, d: dict[str, Any], lang: str) -> str:
    """Counter cross-check events (detection/crosscheck.py): both figures, always."""
    pt = lang == "pt-BR"
    c, i = _n(d.get("counter_kwh"), lang, 1), _n(d.get("integrated_kwh"), lang, 1)
    figures = (
        f"contador {c} kWh, potência integrada {i} kWh" if pt
        else f"counter {c} kWh, integrated power {i} kWh"
    )  # fmt: skip
    if kind in ("counter_reset", "counter_jump"):
        at = _clock(d.get("at_local"), lang)
        before, after = _n(d.get("counter_before"), lang, 1), _n(d.get("counter_after"), lang, 1)
        gap = d.get("during_gap")
        if kind == "counter_reset":
            what = (
                f"contador de energia zerado às {at} (de {before} para {after} kWh: zeramento ou estouro do registrador"
                if pt
                else f"energy counter reset at {at} (from {before} to {after} kWh: reset or register rollover"
            )
        else:
            step = d.get("step_kwh") or 0.0
            sign = "+" if step > 0 else ""
            what = (
                f"contador de energia saltou {sign}{_n(step, lang, 1)} kWh às {at} sem potência correspondente (de {before} para {after} kWh: troca de medidor ou contador reprogramado?"
                if pt
                else f"energy counter jumped {sign}{_n(step, lang, 1)} kWh at {at} with no matching power (from {before} to {after} kWh: meter swapped or counter preset?"
            )
        if gap:
            what += ", durante uma falta de leituras" if pt else ", during a gap in the readings"
        rest = "); fora o salto, na hora: " if pt else "); apart from the step, in the hour: "
        return f"{where}: {what}{rest}{figures}"
    if kind == "counter_mismatch":
        hour = _clock(d.get("hour_local"), lang)
        hours = int(d.get("hours") or 1)
        r = d.get("ratio")
        cov = _n(100 * float(d.get("coverage") or 0), lang, 0)
        if r is None:
            how = (
                "o contador avançou sem potência medida"
                if pt
                else "the counter advanced with no power measured"
            )
        elif r < 0.05:
            how = "o contador está parado" if pt else "the counter is stuck"
        else:
            how = (f"divergem por um fator de {_n(r, lang, 2)}" if pt
                   else f"disagree by a factor of {_n(r, lang, 2)}")  # fmt: skip
        factor = d.get("factor")
        hint = (
            (f"; fator ≈ {factor}: relação de TC/TP ou escala de registro diferente para energia e potência?" if factor
             else "; verifique a relação de TC/TP e a escala dos registros")
            if pt
            else (f"; factor ≈ {factor}: CT/VT ratio or register scale set differently for energy and power?" if factor
                  else "; check the CT/VT ratio and the register scales")
        )  # fmt: skip
        span = (
            (f" ({hours} h seguidas)" if hours > 1 else "") if pt
            else (f" ({hours} h in a row)" if hours > 1 else "")
        )  # fmt: skip
        return (
            f"{where}: contador de energia e potência {how} na hora das {hour}{span}: {figures} (cobertura {cov}%){hint}"
            if pt
            else f"{where}: energy counter and power {how} in the hour from {hour}{span}: {figures} (coverage {cov}%){hint}"
        )
    # counter_lost_data
    g = _n(d.get("gap_counter_kwh"), lang, 1)
    est = _n(d.get("gap_estimate_kwh"), lang, 1)
    mins = _n(d.get("gap_minutes"), lang, 0)
    a, b = _clock(d.get("gap_from_local"), lang), _clock(d.get("gap_to_local"), lang)
    return (
        f"{where}: {mins} min sem leituras ({a}-{b}); dados perdidos: o contador registrou {g} kWh nesse intervalo, potência integrada 0 kWh (sem leituras; {est} kWh estimados pelas leituras vizinhas); a energia do contador está completa"
        if pt
        else f"{where}: no readings for {mins} min ({a}-{b}); data lost: the counter recorded {g} kWh meanwhile, integrated power 0 kWh (no readings; {est} kWh estimated from the readings around it); the counter's energy is complete"
    )


QUALITY_KINDS = ("voltage_sag", "voltage_swell", "voltage_interruption", "meter_stuck",
                 "demand_implausible", "counter_scale")  # fmt: skip


def _quality_text(
    kind: str, where: str, lang: str, *, measured: float | None, limit: float | None,
    details: dict[str, Any],
) -> str:  # fmt: skip
    """Short-duration voltage variations, data-quality and counter events."""
    pt = lang == "pt-BR"
    name = kind_name(kind, lang)
    if kind not in QUALITY_KINDS:
        return _counter_text(kind, where, details, lang)
    if kind in ("voltage_sag", "voltage_swell", "voltage_interruption"):
        cls = DURATION_CLASSES.get(details.get("duration_class", ""), ("", ""))
        secs = _n(details.get("duration_s"), lang, 0)
        phase = details.get("phase", "")
        pu = _n(details.get("pu"), lang, 2)
        text = (
            f"{where}: {name.split(' (', maxsplit=1)[0]} {cls[0]} na fase {phase}: {_n(measured, lang, 1)} V ({pu} pu) por {secs} s"
            if pt
            else f"{where}: {cls[1]} {name.split(' (', maxsplit=1)[0]} on phase {phase}: {_n(measured, lang, 1)} V ({pu} pu) for {secs} s"
        )
    elif kind == "meter_stuck":
        mins = _n(details.get("minutes"), lang, 0)
        text = (
            f"{where}: medidor travado: {_n(measured, lang, 0)} leituras idênticas em {mins} min com carga (verifique o medidor e o gateway; os dados do período não são reais)"
            if pt
            else f"{where}: meter stuck: {_n(measured, lang, 0)} identical readings over {mins} min under load (check the meter and the gateway; the period's data are not real)"
        )
    elif kind == "demand_implausible":
        text = (
            f"{where}: demanda de 15 min calculada pelo contador de {_n(measured, lang, 1)} kW é impossível com a potência medida de {_n(limit, lang, 1)} kW (erro do contador, não ultrapassagem)"
            if pt
            else f"{where}: 15-min demand of {_n(measured, lang, 1)} kW from the counter is impossible with the measured power of {_n(limit, lang, 1)} kW (a counter error, not an excess)"
        )
    else:  # counter_scale
        f = details.get("factor") or "?"
        at = _clock(details.get("at_local"), lang)
        text = (
            f"{where}: contador de energia lido com escala errada (fator {f}) a partir das {at}, de {_n(details.get('counter_before'), lang, 1)} para {_n(details.get('counter_after'), lang, 1)} kWh; energia e demanda do período calculadas pelo contador estão erradas"
            if pt
            else f"{where}: energy counter read with the wrong scale (factor {f}) from {at}, from {_n(details.get('counter_before'), lang, 1)} to {_n(details.get('counter_after'), lang, 1)} kWh; the period's energy and demand from the counter are wrong"
        )
    return text


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
        elif kind in QUALITY_KINDS or (kind.startswith("counter_") and kind in KIND_NAMES):
            text = _quality_text(kind, where, lang, measured=measured, limit=limit, details=details)
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

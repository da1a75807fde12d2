"""Fortnightly demand analysis: the figures and the manager's recommendations, from a
``FortnightData``. Pure module; money figures are estimates from the configured tariff.

Rules (see /work/shared/reference/meters-and-tariffs.md, ANEEL via secondary sources):
* demand is the 15-min average; ultrapassagem when it exceeds contracted x (1 + tolerance),
  the excess over the *contracted* demand billed at ``ultrapassagem_factor`` x the tariff;
* power factor reference fR evaluated hourly, inductive 06-24 h, capacitive 00-06 h;
  excess reactive energy per hour UFER ~ EA x (fR / fT - 1) when fT < fR.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from analytics import i18n
from analytics.delivery.config import Tariff
from analytics.i18n import Lang
from analytics.reports.content import FortnightData, HourEnergy


@dataclass(frozen=True)
class Metrics:
    energy_kwh: float
    energy_ponta_kwh: float
    energy_fora_kwh: float
    max_demand_kw: float | None
    max_demand_ponta_kw: float | None
    max_demand_fora_kw: float | None
    load_factor: float | None
    avg_pf: float | None
    hours_below_ref: int
    ufer_kvarh: float
    ultra_days: int
    intervals_over: int
    low_pf_kvar_needed: float | None  # capacitor bank to bring the low-PF hours to fR


@dataclass(frozen=True)
class Costs:
    demand: float | None
    ultrapassagem: float | None
    energy_ponta: float | None
    energy_fora: float | None
    reactive: float | None

    @property
    def total(self) -> float | None:
        parts = [
            v
            for v in (
                self.demand,
                self.ultrapassagem,
                self.energy_ponta,
                self.energy_fora,
                self.reactive,
            )
            if v is not None
        ]
        return sum(parts) if parts else None


def hour_pf(h: HourEnergy, capacitive: bool) -> float | None:
    """Hourly power factor from the energies (inductive or capacitive reactive)."""
    kvarh = h.kvarh_cap if capacitive else h.kvarh_ind
    if h.energy_kwh is not None and kvarh is not None and h.energy_kwh > 0:
        return h.energy_kwh / math.hypot(h.energy_kwh, kvarh)
    if not capacitive and h.pf_avg is not None:
        return h.pf_avg
    return None


def ufer_kvarh(h: HourEnergy, reference: float) -> float:
    """Excess reactive energy of one hour (estimate): EA x (fR / fT - 1) when fT < fR."""
    capacitive = h.start.hour < 6
    ft = hour_pf(h, capacitive)
    if ft is None or h.energy_kwh is None or ft <= 0 or ft >= reference:
        return 0.0
    if capacitive and not h.kvarh_cap:
        return 0.0
    return h.energy_kwh * (reference / ft - 1)


def metrics(d: FortnightData) -> Metrics:
    ref = d.site.pf_reference
    energy = sum(x.energy_kwh or 0.0 for x in d.days)
    ponta = sum(x.energy_ponta_kwh or 0.0 for x in d.days)
    hours = (d.end - d.start).total_seconds() / 3600
    lf = energy / (d.max_demand_kw * hours) if d.max_demand_kw and hours > 0 else None
    kwh = sum(h.energy_kwh or 0.0 for h in d.hours)
    kvarh = sum(h.kvarh_ind or 0.0 for h in d.hours)
    avg_pf = kwh / math.hypot(kwh, kvarh) if kwh > 0 else None
    below = [h for h in d.hours if ufer_kvarh(h, ref) > 0]
    needed: float | None = None
    if below:
        tan_ref = math.tan(math.acos(ref))
        worst = 0.0
        for h in below:
            ft = hour_pf(h, h.start.hour < 6)
            if ft and h.energy_kwh and h.start.hour >= 6:
                worst = max(worst, h.energy_kwh * (math.tan(math.acos(ft)) - tan_ref))
        needed = worst or None
    return Metrics(
        energy_kwh=energy,
        energy_ponta_kwh=ponta,
        energy_fora_kwh=energy - ponta,
        max_demand_kw=d.max_demand_kw,
        max_demand_ponta_kw=d.max_demand_ponta_kw,
        max_demand_fora_kw=d.max_demand_fora_kw,
        load_factor=lf,
        avg_pf=avg_pf,
        hours_below_ref=len(below),
        ufer_kvarh=sum(ufer_kvarh(h, ref) for h in d.hours),
        ultra_days=sum(1 for x in d.days if x.intervals_over > 0),
        intervals_over=sum(x.intervals_over for x in d.days),
        low_pf_kvar_needed=needed,
    )


def _demand_cost(
    measured: float | None,
    contracted: float | None,
    limit_factor: float,
    price: float | None,
    factor: float,
) -> tuple[float | None, float | None]:
    if price is None or measured is None:
        return None, None
    c = contracted or 0.0
    billed = max(measured, c) * price
    ultra = 0.0
    if contracted is not None and measured > contracted * limit_factor:
        ultra = (measured - contracted) * price * factor
    return billed, ultra


def costs(d: FortnightData, m: Metrics, tariff: Tariff) -> Costs:
    """Estimated costs of the fortnight: energy as measured; demand as the monthly charge
    the fortnight's maximum would cause (demand is billed per month)."""
    site = d.site
    lim = 1 + site.demand_tolerance
    if site.tariff_modality == "azul":
        dp, up = _demand_cost(
            m.max_demand_ponta_kw,
            site.contracted_ponta_kw,
            lim,
            tariff.demand_ponta_kw,
            tariff.ultrapassagem_factor,
        )
        df, uf = _demand_cost(
            m.max_demand_fora_kw,
            site.contracted_kw,
            lim,
            tariff.demand_kw,
            tariff.ultrapassagem_factor,
        )
        demand = None if dp is None and df is None else (dp or 0) + (df or 0)
        ultra = None if up is None and uf is None else (up or 0) + (uf or 0)
    else:
        demand, ultra = _demand_cost(
            m.max_demand_kw, site.contracted_kw, lim, tariff.demand_kw, tariff.ultrapassagem_factor
        )
    e_ponta = (
        None if tariff.energy_ponta_kwh is None else m.energy_ponta_kwh * tariff.energy_ponta_kwh
    )
    e_fora = (
        None
        if tariff.energy_fora_ponta_kwh is None
        else m.energy_fora_kwh * tariff.energy_fora_ponta_kwh
    )
    rprice = tariff.reactive_excess_kvarh or tariff.energy_fora_ponta_kwh
    reactive = None if rprice is None else m.ufer_kvarh * rprice
    return Costs(demand, ultra, e_ponta, e_fora, reactive)


def suggested_contract(max_demand_kw: float, tolerance: float) -> float:
    """Smallest contracted demand (whole kW) whose tolerance still covers the maximum."""
    return float(math.ceil(max_demand_kw / (1 + tolerance)))


def _n(lang: Lang) -> Callable[..., str]:
    def n(v: float | None, k: int = 1) -> str:
        return i18n.number(v, k, lang)

    return n


def _contract_advice(
    d: FortnightData, m: Metrics, prev: Metrics | None, tariff: Tariff, lang: Lang
) -> str | None:
    pt = lang == "pt-BR"
    n = _n(lang)
    site = d.site
    peak = (
        max(v for v in (m.max_demand_kw, prev.max_demand_kw if prev else None) if v is not None)
        if m.max_demand_kw is not None
        else None
    )
    contract = site.contracted_kw
    if peak is not None and contract is not None and site.tariff_modality != "azul":
        best = suggested_contract(peak, site.demand_tolerance)
        if m.ultra_days > 0:
            msg = (
                f"Houve ultrapassagem em {m.ultra_days} dia(s) (máxima {n(m.max_demand_kw)} kW contra "
                f"{n(contract)} kW contratados). Avalie elevar a demanda contratada para cerca de "
                f"{n(best, 0)} kW, ou deslocar cargas dos intervalos de pico."
                if pt
                else f"Demand exceeded the limit on {m.ultra_days} day(s) (maximum {n(m.max_demand_kw)} kW "
                f"against {n(contract)} kW contracted). Consider raising the contracted demand to about "
                f"{n(best, 0)} kW, or moving loads away from the peak intervals."
            )
            if tariff.demand_kw is not None and m.max_demand_kw is not None:
                over = (m.max_demand_kw - contract) * tariff.demand_kw * tariff.ultrapassagem_factor
                msg += (
                    f" Custo estimado da ultrapassagem: {i18n.money(over, lang)} no mês."
                    if pt
                    else f" Estimated excess charge: {i18n.money(over, lang)} per month."
                )
            return msg
        if best < contract * 0.9:
            msg = (
                f"A demanda máxima das duas últimas quinzenas ({n(peak)} kW) ficou bem abaixo da "
                f"contratada ({n(contract)} kW): uma demanda contratada de cerca de {n(best, 0)} kW "
                "ainda a cobriria com a tolerância. Confirme a sazonalidade antes de alterar o contrato."
                if pt
                else f"The maximum demand of the last two fortnights ({n(peak)} kW) stayed well below the "
                f"contracted {n(contract)} kW: about {n(best, 0)} kW would still cover it with the "
                "tolerance. Check seasonality before changing the contract."
            )
            if tariff.demand_kw is not None:
                save = (contract - best) * tariff.demand_kw
                msg += (
                    f" Economia estimada: {i18n.money(save, lang)} por mês."
                    if pt
                    else f" Estimated saving: {i18n.money(save, lang)} per month."
                )
            return msg
    return None


def _pf_advice(d: FortnightData, m: Metrics, lang: Lang) -> str | None:
    pt = lang == "pt-BR"
    n = _n(lang)
    site = d.site
    if m.hours_below_ref > 0:
        kvar = m.low_pf_kvar_needed
        msg = (
            f"O fator de potência ficou abaixo de {n(site.pf_reference, 2)} em {m.hours_below_ref} "
            f"hora(s); energia reativa excedente estimada {n(m.ufer_kvarh)} kvarh."
            if pt
            else f"The power factor was below {n(site.pf_reference, 2)} in {m.hours_below_ref} hour(s); "
            f"estimated excess reactive energy {n(m.ufer_kvarh)} kvarh."
        )
        if kvar:
            msg += (
                f" Um banco de capacitores de cerca de {n(kvar, 0)} kvar (automático, por estágios) "
                "corrigiria a pior hora; verifique com um projeto."
                if pt
                else f" A capacitor bank of about {n(kvar, 0)} kvar (automatic, staged) would correct the "
                "worst hour; confirm with a design study."
            )
        return msg
    return None


def _ponta_advice(m: Metrics, tariff: Tariff, lang: Lang) -> str | None:
    pt = lang == "pt-BR"
    n = _n(lang)
    if m.energy_kwh > 0 and m.energy_ponta_kwh / m.energy_kwh > 0.10:
        share = i18n.percent(m.energy_ponta_kwh / m.energy_kwh, 1, lang)
        msg = (
            f"{share} da energia foi consumida no horário de ponta ({n(m.energy_ponta_kwh, 0)} kWh). "
            "Deslocar cargas flexíveis para fora da ponta reduz o custo."
            if pt
            else f"{share} of the energy was used in ponta ({n(m.energy_ponta_kwh, 0)} kWh). Moving "
            "flexible loads out of ponta lowers the cost."
        )
        if tariff.energy_ponta_kwh is not None and tariff.energy_fora_ponta_kwh is not None:
            diff = tariff.energy_ponta_kwh - tariff.energy_fora_ponta_kwh
            if diff > 0:
                msg += (
                    f" Cada 10 % deslocado economizaria cerca de "
                    f"{i18n.money(0.1 * m.energy_ponta_kwh * diff, lang)} na quinzena (estimativa)."
                    if pt
                    else f" Each 10 % moved would save about "
                    f"{i18n.money(0.1 * m.energy_ponta_kwh * diff, lang)} per fortnight (estimate)."
                )
        return msg
    return None


def recommendations(
    d: FortnightData, m: Metrics, prev: Metrics | None, tariff: Tariff, lang: Lang
) -> list[str]:
    """Plain-language advice, each with the figures behind it."""
    pt = lang == "pt-BR"
    n = _n(lang)
    out = [
        x
        for x in (
            _contract_advice(d, m, prev, tariff, lang),
            _pf_advice(d, m, lang),
            _ponta_advice(m, tariff, lang),
        )
        if x is not None
    ]
    if m.load_factor is not None and m.load_factor < 0.5:
        out.append(
            f"Fator de carga de {n(m.load_factor, 2)}: a demanda máxima é alta em relação ao consumo "
            "médio. Escalonar partidas de máquinas grandes reduz o pico."
            if pt
            else f"Load factor {n(m.load_factor, 2)}: the maximum demand is high relative to the average. "
            "Staggering the start of large machines lowers the peak."
        )
    if prev is not None and prev.energy_kwh > 0:
        change = m.energy_kwh / prev.energy_kwh - 1
        if abs(change) >= 0.10:
            out.append(
                f"O consumo variou {i18n.signed_percent(change, 1, lang)} em relação à quinzena anterior."
                if pt
                else f"Consumption changed {i18n.signed_percent(change, 1, lang)} from the previous fortnight."
            )
    if not out:
        out.append(
            "Nenhuma ação necessária: demanda dentro do contrato e fator de potência adequado."
            if pt
            else "No action needed: demand within the contract and power factor adequate."
        )
    return out


def change(current: float | None, previous: float | None) -> float | None:
    if current is None or previous is None or previous == 0:
        return None
    return current / previous - 1

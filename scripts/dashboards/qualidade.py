"""EMUSA — Qualidade de energia: voltages, unbalance, frequency, PF and THD (PRODIST)."""

from __future__ import annotations

from typing import Any

from .frame import dashboard
from .kit import HZ_STEPS, PF_STEPS, UNBALANCE_STEPS, V_LL_STEPS, V_LN_STEPS, Layout, timeseries
from .queries import q, switched, unbalance


def build() -> dict[str, Any]:
    lay = Layout()
    p: list[dict[str, Any]] = []
    bands = "Faixas PRODIST (Módulo 8) para 220/127 V em segundo plano."
    p.append(timeseries(lay, "Tensões de fase (V)", [switched({"V1": q("v_l1n"), "V2": q("v_l2n"), "V3": q("v_l3n")})],
                        "volt", thresholds=V_LN_STEPS, threshold_style="area", description=bands))  # fmt: skip
    p.append(timeseries(lay, "Tensões de linha (V)", [switched({"V12": q("v_l12"), "V23": q("v_l23"), "V31": q("v_l31")})],
                        "volt", thresholds=V_LL_STEPS, threshold_style="area", description=bands))  # fmt: skip
    p.append(timeseries(lay, "Desequilíbrio de tensão FD (%)", [switched({"FD": (unbalance(""), unbalance("_avg"))})],
                        "percent", thresholds=UNBALANCE_STEPS, threshold_style="line", decimals=2,
                        description="Fator de desequilíbrio pela fórmula do PRODIST com as tensões de linha; limite 3% em baixa tensão. Em períodos longos, calculado das médias."))  # fmt: skip
    p.append(timeseries(lay, "Frequência (Hz)", [switched({"Hz": q("freq")})], "hertz",
                        thresholds=HZ_STEPS, threshold_style="line", decimals=3))  # fmt: skip
    p.append(timeseries(lay, "Fator de potência por fase", [switched({"FP1": q("pf_l1"), "FP2": q("pf_l2"), "FP3": q("pf_l3"), "FP total": q("pf_total")})],
                        "none", thresholds=PF_STEPS, threshold_style="line", decimals=3))  # fmt: skip
    p.append(timeseries(lay, "Correntes (A)", [switched({"I1": q("i_l1"), "I2": q("i_l2"), "I3": q("i_l3"), "IN": q("i_n")})],
                        "amp"))  # fmt: skip
    p.append(timeseries(lay, "THD de tensão (%)", [switched({"THD V1": q("thd_v_l1"), "THD V2": q("thd_v_l2"), "THD V3": q("thd_v_l3")})],
                        "percent", decimals=1))  # fmt: skip
    p.append(timeseries(lay, "THD de corrente (%)", [switched({"THD I1": q("thd_i_l1"), "THD I2": q("thd_i_l2"), "THD I3": q("thd_i_l3")})],
                        "percent", decimals=1))  # fmt: skip
    return dashboard(
        "emusa-qualidade",
        "EMUSA — Qualidade de energia",
        p,
        description="Tensões por fase, desequilíbrio, frequência, fator de potência e THD, com as faixas do PRODIST.",
        time_from="now-24h",
        refresh="1m",
    )

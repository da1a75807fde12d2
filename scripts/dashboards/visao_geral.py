# ruff: noqa: RUF001  (pt-BR text for operators: its dashes and signs are intended)
"""EMUSA — Visão geral: live KPIs per meter and for the site, history, shifts."""

from __future__ import annotations

from typing import Any

from .frame import dashboard
from .kit import (
    BLUE,
    GREEN,
    HZ_STEPS,
    ORANGE,
    PF_STEPS,
    RED,
    V_LL_STEPS,
    Layout,
    override,
    row,
    stat,
    table,
    timeseries,
)
from .queries import LIVE_WINDOW, energy_today, latest, mean3, meter_filter, q, switched


def build() -> dict[str, Any]:
    lay = Layout()
    v_ll = "(r.v_l12 + r.v_l23 + r.v_l31) / 3"
    p: list[dict[str, Any]] = [row(lay, "Por medidor (última leitura)")]
    desc_live = f"Última leitura de cada medidor (nos {LIVE_WINDOW} até o fim do intervalo)."
    p.append(
        stat(lay, "Tensão LL média", latest(v_ll), "volt", V_LL_STEPS, w=5,
             description=desc_live + " Cores: faixas PRODIST para 220 V (adequada 202–231 V; precária 191–202 e 231–233 V; crítica fora delas).")
    )  # fmt: skip
    p.append(
        stat(
            lay,
            "Potência ativa",
            latest("r.p_total"),
            "kwatt",
            [(None, BLUE)],
            w=5,
            description=desc_live,
        )
    )
    p.append(stat(lay, "Fator de potência", latest("r.pf_total"), "none", PF_STEPS, decimals=3, w=4,
                  description=desc_live + " Verde a partir do fator de referência 0,92 (ANEEL)."))  # fmt: skip
    p.append(stat(lay, "Frequência", latest("r.freq"), "hertz", HZ_STEPS, decimals=2, w=4,
                  description=desc_live + " Verde na faixa de operação normal 59,9–60,1 Hz (PRODIST)."))  # fmt: skip
    p.append(stat(lay, "Energia hoje", energy_today(), "kwatth", [(None, BLUE)], w=6,
                  description="Energia ativa importada desde a meia-noite local (contador do medidor)."))  # fmt: skip
    p.append(row(lay, "Total do site"))
    site_pf = "sum(r.p_total) / nullif(sqrt(sum(r.p_total) ^ 2 + sum(r.q_total) ^ 2), 0)"
    p.append(stat(lay, "Tensão LL média (site)", latest("", site_total=True, aggregate=f"avg({v_ll})"),
                  "volt", V_LL_STEPS, per_meter=False, w=4))  # fmt: skip
    p.append(stat(lay, "Potência ativa total", latest("", site_total=True, aggregate="sum(r.p_total)"),
                  "kwatt", [(None, BLUE)], per_meter=False, w=4,
                  description="Soma dos medidores que compõem o total do site."))  # fmt: skip
    p.append(stat(lay, "FP do site", latest("", site_total=True, aggregate=site_pf), "none", PF_STEPS,
                  decimals=3, per_meter=False, w=4, description="P total / raiz(P² + Q²) somando os medidores."))  # fmt: skip
    p.append(stat(lay, "Frequência (site)", latest("", site_total=True, aggregate="avg(r.freq)"),
                  "hertz", HZ_STEPS, decimals=2, per_meter=False, w=4))  # fmt: skip
    p.append(stat(lay, "Energia hoje (site)", energy_today(site_total=True), "kwatth", [(None, BLUE)],
                  per_meter=False, w=4))  # fmt: skip
    demand_now = (
        "SELECT sum(x.kw) AS demand_kw,\n"
        "       100 * sum(x.kw) / nullif(max(CASE WHEN s.tariff_modality = 'azul'\n"
        "           AND emusa_tariff_period(s.site_id, $__timeTo()::timestamptz) = 'ponta'\n"
        "           THEN s.contracted_demand_ponta_kw ELSE s.contracted_demand_kw END\n"
        "           * (1 + s.demand_tolerance)), 0) AS value\n"
        "FROM (\n"
        "  SELECT r.meter_id, avg(r.p_total) AS kw FROM readings r\n"
        "  WHERE r.time >= time_bucket(interval '15 minutes', $__timeTo()::timestamptz)\n"
        "    AND r.time <= $__timeTo() AND " + meter_filter("r", site_total=True) + "\n"
        "  GROUP BY r.meter_id\n) x\nCROSS JOIN sites s\nWHERE s.site_id = '$site'"
    )
    p.append(stat(lay, "Demanda em curso (% do limite)", demand_now, "percent",
                  [(None, GREEN), (90, ORANGE), (100, RED)], decimals=0, per_meter=False, w=4,
                  kind="gauge", minmax=(0, 120),
                  description="Potência média no intervalo de 15 min em curso, em % da demanda contratada + 5% de tolerância."))  # fmt: skip
    p.append(row(lay, "Histórico"))
    kw = {"kW": q("p_total")}
    p.append(timeseries(lay, "Potência ativa (kW)", [switched(kw), switched(kw, site_total=True)], "kwatt",
                        description="Por medidor e total do site. Até 2 h: leituras brutas; até 3 dias: médias de 1 min; acima: médias de 1 h."))  # fmt: skip
    p.append(timeseries(lay, "Tensão LL média (V)", [switched({"V LL": mean3("v_l12", "v_l23", "v_l31")})],
                        "volt", thresholds=V_LL_STEPS, threshold_style="area"))  # fmt: skip
    p.append(timeseries(lay, "Fator de potência", [switched({"FP": q("pf_total")})], "none",
                        thresholds=PF_STEPS, threshold_style="line", decimals=3))  # fmt: skip
    p.append(timeseries(lay, "Frequência (Hz)", [switched({"Hz": q("freq")})], "hertz",
                        thresholds=HZ_STEPS, threshold_style="line", decimals=2))  # fmt: skip
    p.append(row(lay, "Turnos"))
    shifts_sql = (
        'SELECT to_char(e.production_date, \'DD/MM/YYYY\') AS "Dia", e.shift AS "Turno",\n'
        "       to_char(e.starts_at AT TIME ZONE s.timezone, 'HH24:MI') || '–'\n"
        "         || to_char(e.ends_at AT TIME ZONE s.timezone, 'HH24:MI') AS \"Horário\",\n"
        '       e.energy_kwh AS "Energia (kWh)", e.max_demand_kw AS "Demanda máx. (kW)",\n'
        '       e.power_factor_avg AS "FP médio",\n'
        '       100.0 * e.intervals / nullif(e.intervals_expected, 0) AS "Dados (%)"\n'
        "FROM sites s\n"
        "CROSS JOIN LATERAL emusa_shift_energy(s.site_id, $__timeFrom()::timestamptz,"
        " $__timeTo()::timestamptz) e\n"
        "WHERE s.site_id = '$site'\nORDER BY e.starts_at DESC"
    )
    p.append(table(lay, "Energia por turno (total do site)", shifts_sql, h=9,
                   description="Energia, demanda máxima de 15 min e FP médio do total do site por turno "
                   "(site_shifts; padrão A 06–14, B 14–22, C 22–06 em dias úteis, 'fim de semana' "
                   "06–06 em sábados, domingos e feriados), cortados ao intervalo do painel. Dados: % "
                   "dos intervalos de 15 min do turno com medição; falhas ficam vazias, nada é preenchido.",
                   overrides=[
                       override("Energia (kWh)", {"unit": "kwatth", "decimals": 1}),
                       override("Demanda máx. (kW)", {"unit": "kwatt", "decimals": 1}),
                       override("FP médio", {"decimals": 3}),
                       override("Dados (%)", {"unit": "percent", "decimals": 0}),
                   ]))  # fmt: skip
    return dashboard(
        "emusa-visao-geral",
        "EMUSA — Visão geral",
        p,
        description="KPIs ao vivo por medidor e do site (atualiza a cada 5 s).",
        time_from="now-1h",
        refresh="5s",
    )

# ruff: noqa: RUF001  (pt-BR text for operators: its dashes and signs are intended)
"""EMUSA — Demanda e tarifa: 15-min demand against the contract, projection, tariff periods."""

from __future__ import annotations

from typing import Any

from .frame import dashboard
from .kit import BLUE, GREEN, RED, Layout, override, stat, table, timeseries, value_map
from .queries import TARIFF_CTE, gaps_as_nulls, meter_ids, tariff_cte


def build() -> dict[str, Any]:
    lay = Layout()
    p: list[dict[str, Any]] = []
    site_demand = gaps_as_nulls(
        f"{TARIFF_CTE}\n"
        'SELECT c.bucket AS time, c.demand_kw AS "Demanda 15 min", c.contracted_kw AS "Contratada",\n'
        '       c.contracted_kw * (1 + c.demand_tolerance) AS "Limite (+5%)"\n'
        "FROM c",
        ["Demanda 15 min", "Contratada", "Limite (+5%)"],
        metric=False,
    )
    p.append(timeseries(lay, "Demanda do site (15 min) × contratada", [site_demand], "kwatt", w=24, h=9,
                        description="Demanda de cada intervalo de 15 min (kWh × 4) somando os medidores do site; linha da demanda contratada e do limite de ultrapassagem (+5%).",
                        overrides=[override("Limite (+5%)", {"color": {"fixedColor": "red", "mode": "fixed"}, "custom.lineStyle": {"dash": [10, 10], "fill": "dash"}}),
                                   override("Contratada", {"color": {"fixedColor": "orange", "mode": "fixed"}}),
                                   override("Demanda 15 min", {"custom.drawStyle": "bars", "custom.fillOpacity": 60})]))  # fmt: skip

    # The demand controller's projection (analytics/demand/control.py), minute by minute:
    # energy of the interval so far (counter kWh, else kW/60) + the minute's kW until
    # the interval ends, x 4; against the limit of the interval's tariff period.
    # Read from the 1-minute rollup over the minutes needed only: the energy of a minute
    # is emusa_counter_delta() from the adjacent previous minute (lag() over the range
    # plus one minute), as readings_1m computes it with a join that reads the whole
    # rollup (60 ms for 24 h, 300 ms for 30 days in the dashboard benchmark).
    origin = "TIMESTAMPTZ '2000-01-01 00:00Z'"

    def projection_cte(since: str, tariff: str) -> str:
        start = f"date_bin('15 minutes', {since}, {origin})"
        return (
            f"{tariff},\n"
            "a AS (\n"
            "  SELECT a.bucket, a.p_total_avg,\n"
            "         emusa_counter_delta(CASE WHEN lag(a.bucket) OVER w = a.bucket - interval '1 minute'\n"
            "                                  THEN lag(a.e_imp_kwh_last) OVER w END,\n"
            "                             a.e_imp_kwh_first, a.e_imp_kwh_last, a.e_imp_kwh_min, a.e_imp_kwh_max) AS kwh\n"
            "  FROM rollup.agg_1m a\n"
            "  JOIN meters mt ON mt.meter_id = a.meter_id\n"
            "  WHERE mt.site_id = '$site' AND mt.include_in_site_total\n"
            f"    AND a.bucket >= {start} - interval '1 minute'\n"
            "    AND a.bucket < $__timeTo()::timestamptz\n"
            "  WINDOW w AS (PARTITION BY a.meter_id ORDER BY a.bucket)\n"
            "),\n"
            "m AS (\n"
            f"  SELECT a.bucket, date_bin('15 minutes', a.bucket, {origin}) AS w,\n"
            "         sum(a.p_total_avg) AS kw, coalesce(sum(a.kwh), sum(a.p_total_avg) / 60) AS kwh\n"
            "  FROM a\n"
            f"  WHERE a.bucket >= {start}\n"
            "  GROUP BY a.bucket\n"
            "  HAVING sum(a.p_total_avg) IS NOT NULL\n"
            "),\n"
            "p AS (\n"
            "  SELECT m.bucket + interval '1 minute' AS at, m.w,\n"
            "         (sum(m.kwh) OVER (PARTITION BY m.w ORDER BY m.bucket)\n"
            "          + m.kw * extract(epoch FROM m.w + interval '15 minutes' - m.bucket - interval '1 minute') / 3600) * 4 AS projected_kw\n"
            "  FROM m\n"
            ")"
        )

    # Minute by minute over the last 24 h of the range; before that, each closed
    # interval's final demand (what the projection reaches at the interval's end), so
    # a 30-day range costs what one day does.
    since = "greatest($__timeFrom()::timestamptz, $__timeTo()::timestamptz - interval '24 hours')"
    projection = gaps_as_nulls(
        f"{projection_cte(since, TARIFF_CTE)}\n"
        'SELECT x.time, max(x.projected_kw) AS "Projeção do intervalo",\n'
        '       max(x.final_kw) AS "Demanda final do intervalo", max(x.limit_kw) AS "Limite"\n'
        "FROM (\n"
        "  SELECT $__timeGroup(p.at, $__interval) AS time, p.projected_kw, NULL::double precision AS final_kw,\n"
        "         c.contracted_kw * (1 + c.demand_tolerance) AS limit_kw\n"
        "  FROM p\n  LEFT JOIN c ON c.bucket = p.w\n  WHERE p.at > $__timeFrom()::timestamptz\n"
        "  UNION ALL\n"
        "  SELECT time_bucket(greatest(interval '$__interval', interval '15 minutes'), c.bucket + interval '15 minutes'),\n"
        "         NULL, c.demand_kw, c.contracted_kw * (1 + c.demand_tolerance)\n"
        f"  FROM c\n  WHERE c.bucket < date_bin('15 minutes', {since}, {origin})\n"
        ") x\nGROUP BY 1",
        ["Projeção do intervalo", "Demanda final do intervalo", "Limite"],
        metric=False,
    )
    p.append(timeseries(lay, "Projeção da demanda do intervalo × limite", [projection], "kwatt", w=18, h=8,
                        description="Controlador de demanda: a cada minuto, a demanda que o intervalo de 15 min atingirá se a carga atual continuar (energia já consumida no intervalo + kW atual até o fim, × 4), contra o limite do posto tarifário (contratada + tolerância). Acima do limite a partir do 3º minuto do intervalo: alerta antecipado com os kW a reduzir (MQTT <raiz>/<site>/alerts, e-mail). A projeção é desenhada nas últimas 24 h do período; antes disso, a demanda final de cada intervalo (onde a projeção chega ao fim do intervalo).",
                        overrides=[override("Limite", {"color": {"fixedColor": "red", "mode": "fixed"}, "custom.lineStyle": {"dash": [10, 10], "fill": "dash"}}),
                                   override("Demanda final do intervalo", {"color": {"fixedColor": "blue", "mode": "fixed"}})]))  # fmt: skip
    recent = "$__timeTo()::timestamptz - interval '15 minutes'"
    current = tariff_cte(f"date_bin('15 minutes', {recent}, {origin})")
    margin = (  # only the running interval (and the previous one while it starts)
        f"{projection_cte(recent, current)}\n"
        "SELECT p.projected_kw - c.contracted_kw * (1 + c.demand_tolerance) AS value\n"
        "FROM p\nJOIN c ON c.bucket = p.w\nORDER BY p.at DESC\nLIMIT 1"
    )
    p.append(stat(lay, "Projeção − limite (intervalo atual)", margin, "kwatt", [(None, GREEN), (0.001, RED)],
                  per_meter=False, w=6, h=8,
                  description="Quanto a projeção do intervalo de 15 min em curso fica acima (vermelho) ou abaixo (verde, negativo) do limite de ultrapassagem."))  # fmt: skip
    meter_demand = gaps_as_nulls(
        'SELECT d.bucket AS time, m.name AS metric, d.demand_kw AS "kW"\n'
        f"FROM emusa_demand_15m({meter_ids()}, $__timeFrom()::timestamptz,"
        " $__timeTo()::timestamptz) d\nJOIN meters m ON m.meter_id = d.meter_id",
        ["kW"],
    )
    p.append(timeseries(lay, "Demanda por medidor (15 min)", [meter_demand], "kwatt", w=12))
    peaks = (
        f"{TARIFF_CTE}\n"
        "SELECT c.period, max(c.demand_kw) AS value,\n"
        "       max(c.contracted_kw * (1 + c.demand_tolerance)) AS limit_kw\n"
        "FROM c\nGROUP BY 1\nORDER BY 1"
    )
    pk = stat(
        lay,
        "Demanda máxima no período por posto",
        peaks,
        "kwatt",
        [(None, BLUE)],
        per_meter=False,
        w=12,
        h=8,
    )
    pk["fieldConfig"]["defaults"]["displayName"] = "${__data.fields.period}"
    p.append(pk)
    energy = (
        f"{TARIFF_CTE}\n"
        "SELECT (date_trunc('day', c.lt) AT TIME ZONE c.timezone) AS time,\n"
        "       sum(c.e_imp_kwh_delta) FILTER (WHERE c.period = 'ponta') AS \"Ponta\",\n"
        "       sum(c.e_imp_kwh_delta) FILTER (WHERE c.period = 'intermediario') AS \"Intermediário\",\n"
        "       sum(c.e_imp_kwh_delta) FILTER (WHERE c.period = 'fora_ponta') AS \"Fora de ponta\"\n"
        "FROM c\nGROUP BY 1\nORDER BY 1"
    )
    p.append(timeseries(lay, "Energia diária por posto tarifário (kWh)", [energy], "kwatth", w=24, h=9, draw="bars", stack=True,
                        description="Energia ativa importada do site por dia local, separada em ponta, intermediário (tarifa branca) e fora de ponta pelo calendário tarifário do site.",
                        overrides=[override("Ponta", {"color": {"fixedColor": "red", "mode": "fixed"}}),
                                   override("Intermediário", {"color": {"fixedColor": "orange", "mode": "fixed"}}),
                                   override("Fora de ponta", {"color": {"fixedColor": "green", "mode": "fixed"}})]))  # fmt: skip
    period_now = "SELECT emusa_tariff_period('$site', $__timeTo()::timestamptz) AS value"
    pn = stat(
        lay, "Posto tarifário agora", period_now, "none", [(None, BLUE)], per_meter=False, w=6, h=5
    )
    pn["options"]["reduceOptions"]["fields"] = "/^value$/"
    pn["fieldConfig"]["defaults"]["mappings"] = [value_map(
        ("ponta", "Ponta", "red"), ("intermediario", "Intermediário", "orange"),
        ("fora_ponta", "Fora de ponta", "green"),
    )]  # fmt: skip
    p.append(pn)
    over = (
        f"{TARIFF_CTE}\n"
        'SELECT c.bucket AS "Intervalo", c.period AS "Posto", c.demand_kw AS "Demanda (kW)",\n'
        '       c.contracted_kw AS "Contratada (kW)", c.contracted_kw * (1 + c.demand_tolerance) AS "Limite (kW)",\n'
        '       c.demand_kw - c.contracted_kw * (1 + c.demand_tolerance) AS "Excesso (kW)"\n'
        "FROM c\nWHERE c.demand_kw > c.contracted_kw * (1 + c.demand_tolerance)\n"
        "ORDER BY c.bucket DESC\nLIMIT 200"
    )
    p.append(table(lay, "Ultrapassagens de demanda (acima de contratada + 5%)", over, w=18, h=5))
    return dashboard(
        "emusa-demanda",
        "EMUSA — Demanda e tarifa",
        p,
        description="Demanda de 15 min contra a contratada (+5%), ponta e fora de ponta, energia diária.",
        time_from="now-7d",
        refresh="1m",
    )

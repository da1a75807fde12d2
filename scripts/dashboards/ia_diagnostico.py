"""EMUSA — IA & diagnóstico: anomalies, summaries, behaviour, reports, monitored registers."""

from __future__ import annotations

from typing import Any

from analytics.i18n import KIND_NAMES
from contract.quantities import QUANTITIES

from .frame import dashboard
from .kit import (
    BLUE,
    HZ_STEPS,
    PF_STEPS,
    Layout,
    override,
    stat,
    table,
    text,
    timeseries,
    value_map,
    words_map,
)
from .queries import ANOMALY_WHERE, LIVE_WINDOW, q, switched


def monitored_registers(lay: Layout) -> dict[str, Any]:
    """ "Registros monitorados": per meter, one row per register with the plant file's own
    name and description (the gateway's info message, meter_registers, migration 0019), the
    latest value, unit and IA flag, and the meter's identifier and port, as the old Dash app
    showed them. A meter without metadata (a built-in map, an older gateway) gets one row
    per quantity of its latest reading, described by the quantity registry's pt-BR label."""
    labels = ",\n    ".join(
        f"({i}, '{q.name}', '{q.label_pt.replace(chr(39), chr(39) * 2)}', '{q.unit}')"
        for i, q in enumerate(QUANTITIES.values())
    )
    sql = (
        'SELECT m.name AS "Medidor", m.identifier AS "Identificador", m.port AS "Porta",\n'
        '       x.name AS "Registro", x.description AS "Descrição",\n'
        '       (to_jsonb(r) ->> x.quantity)::float8 AS "Valor", x.unit AS "Unidade",\n'
        '       x.ai AS "IA", r.time AS "Horário"\n'
        "FROM meters m\nLEFT JOIN LATERAL (\n  SELECT * FROM readings r\n"
        "  WHERE r.meter_id = m.meter_id AND r.time <= $__timeTo()\n"
        f"    AND r.time > $__timeTo()::timestamptz - interval '{LIVE_WINDOW}'\n"
        "  ORDER BY r.time DESC LIMIT 1\n) r ON true\nCROSS JOIN LATERAL (\n"
        "  SELECT g.position, g.quantity, coalesce(g.name, g.quantity) AS name,\n"
        "         coalesce(g.description, q.label) AS description, g.unit, g.ai\n"
        "  FROM meter_registers g LEFT JOIN registry q USING (quantity)\n"
        "  WHERE g.meter_id = m.meter_id\n"
        "  UNION ALL\n"
        "  SELECT q.position, q.quantity, q.quantity, q.label, q.unit, NULL\n"
        "  FROM registry q\n"
        "  WHERE NOT EXISTS (SELECT FROM meter_registers g WHERE g.meter_id = m.meter_id)\n"
        "    AND to_jsonb(r) ->> q.quantity IS NOT NULL\n"
        ") x\n"
        "WHERE m.site_id = '$site' AND m.name IN ($meter)\nORDER BY m.name, x.position"
    )
    sql = f"WITH registry (position, quantity, label, unit) AS (VALUES\n    {labels}\n)\n{sql}"
    return table(
        lay,
        "Registros monitorados (últimas leituras)",
        sql,
        h=12,
        description=(
            "Por medidor, cada registro lido: o nome e a descrição do arquivo de registros da"
            " planta (registers_kron03_real.json), o último valor (últimos 5 min até o fim do"
            " intervalo), a unidade e se o valor alimenta a IA; com o identificador lido do"
            " medidor (CH30-…) e a porta. Medidores sem essa descrição mostram o nome da grandeza."
        ),
        overrides=[
            override("IA", {"mappings": [value_map(("true", "sim", "green"), ("false", "não", "text"))]}),
            override("Descrição", {"custom.width": 320}),
            override("Valor", {"decimals": 3}),
        ],
    )  # fmt: skip


def build() -> dict[str, Any]:
    lay = Layout()
    p: list[dict[str, Any]] = []
    links = (
        "**Relatórios e exportações** (API de análises em `${api_url}`):\n\n"
        "- [Relatório PDF mais recente](${api_url}/reports/latest.pdf?site=${site})\n"
        "- [Exportar CSV do período](${api_url}/export.csv?site=${site}&from=${__from:date:iso}&to=${__to:date:iso})\n"
        "- [Abrir no Power BI (.pbids)](${api_url}/powerbi.pbids?site=${site})\n"
        "\nO navegador pede usuário e senha: qualquer usuário, senha = token da API (`EMUSA_API_TOKEN`).\n"
    )
    p.append(text(lay, "Relatórios", links, w=8, h=6))
    counts = (
        "SELECT a.severity AS severity, count(*) AS value\nFROM anomalies a\n"
        f"WHERE {ANOMALY_WHERE}\nGROUP BY 1\n"
        "ORDER BY CASE a.severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END"
    )
    c = stat(
        lay,
        "Anomalias no período",
        counts,
        "none",
        [(None, BLUE)],
        per_meter=False,
        w=16,
        h=6,
        decimals=0,
    )
    c["fieldConfig"]["defaults"]["displayName"] = "${__data.fields.severity}"
    c["fieldConfig"]["defaults"]["mappings"] = [value_map(
        ("critical", "Crítica", "red"), ("warning", "Alerta", "orange"),
        ("info", "Informativa", "blue"),
    )]  # fmt: skip
    p.append(c)
    anomalies = (
        'SELECT a.started_at AS "Início", a.ended_at AS "Fim", coalesce(m.name, \'(site)\') AS "Medidor",\n'
        '       a.kind AS "Tipo", a.severity AS "Severidade", a.detector AS "Detector",\n'
        '       a.quantity AS "Grandeza", a.measured AS "Medido", a.limit_value AS "Limite",\n'
        '       a.message_pt AS "Mensagem"\n'
        f"FROM anomalies a\nLEFT JOIN meters m ON m.meter_id = a.meter_id\nWHERE {ANOMALY_WHERE}\n"
        "ORDER BY a.started_at DESC\nLIMIT 500"
    )
    sev_colors = value_map(
        ("critical", "crítica", "red"), ("warning", "alerta", "orange"), ("info", "info", "blue")
    )
    p.append(table(lay, "Anomalias detectadas", anomalies, h=9,
                   description="Eventos das regras de qualidade (PRODIST, FP, demanda) e do modelo estatístico; Fim vazio = em curso.",
                   overrides=[override("Severidade", {"mappings": [sev_colors], "custom.cellOptions": {"type": "color-background"}}),
                              override("Tipo", {"mappings": [words_map([(k, pt) for k, (pt, _en) in KIND_NAMES.items()])]}),
                              override("Detector", {"mappings": [words_map([("rule", "regra"), ("model", "modelo estatístico")])]}),
                              override("Grandeza", {"mappings": [words_map([(q.name, q.label_pt) for q in QUANTITIES.values()])]}),
                              override("Mensagem", {"custom.width": 480})]))  # fmt: skip
    summaries = (
        'SELECT su.period_start AS "Início", su.period_end AS "Fim", su.text_pt AS "Resumo", su.source AS "Origem"\n'
        "FROM summaries su\nWHERE su.site_id = '$site' AND su.period_end <= $__timeTo()\n"
        "ORDER BY su.period_end DESC\nLIMIT 4"
    )
    p.append(table(lay, "Últimos resumos automáticos (6 h)", summaries, h=8,
                   overrides=[override("Resumo", {"custom.width": 800, "custom.cellOptions": {"type": "auto", "wrapText": True}})]))  # fmt: skip
    p.append(
        timeseries(
            lay,
            "Comportamento: potência ativa (kW)",
            [switched({"kW": q("p_total")})],
            "kwatt",
            w=8,
        )
    )
    p.append(timeseries(lay, "Comportamento: frequência (Hz)", [switched({"Hz": q("freq")})], "hertz", w=8,
                        thresholds=HZ_STEPS, threshold_style="line", decimals=2))  # fmt: skip
    p.append(timeseries(lay, "Comportamento: fator de potência", [switched({"FP": q("pf_total")})], "none", w=8,
                        thresholds=PF_STEPS, threshold_style="line", decimals=3))  # fmt: skip
    p.append(monitored_registers(lay))
    return dashboard(
        "emusa-ia-diagnostico",
        "EMUSA — IA & diagnóstico",
        p,
        description="Anomalias, resumos automáticos de 6 h, comportamento de kW/Hz/FP e links para relatórios PDF, CSV e Power BI.",
        time_from="now-24h",
        refresh="30s",
        api=True,
    )

"""EMUSA — Diagnóstico Modbus: link health per meter and bus."""

from __future__ import annotations

from typing import Any

from .frame import dashboard
from .kit import BLUE, GREEN, ORANGE, RED, Layout, row, stat, table, timeseries, value_map


def build() -> dict[str, Any]:
    """Modbus link health per meter and bus, from the gateways' diagnostics (migration 0009)."""
    lay = Layout()
    meters = "m.site_id = '$site' AND m.name IN ($meter)"
    last_row = (
        "FROM meters m\nCROSS JOIN LATERAL (\n"
        "  SELECT * FROM modbus_meter_diagnostics d\n"
        "  WHERE d.meter_id = m.meter_id AND $__timeFilter(d.time)\n"
        "  ORDER BY d.time DESC LIMIT 1\n) d\n"
        f"WHERE {meters}\nORDER BY m.name"
    )
    p: list[dict[str, Any]] = [row(lay, "Por medidor (último período de diagnóstico)")]
    status = stat(lay, "Status", f"SELECT m.name AS meter, d.status AS value\n{last_row}", "none",
                  [(None, BLUE)], decimals=0, w=8,
                  description="online: respondendo; unreachable: sem resposta, em espera exponencial (backoff) sem atrasar os outros medidores do barramento; unknown: ainda não lido desde o início do gateway.")  # fmt: skip
    status["fieldConfig"]["defaults"]["mappings"] = [value_map(
        ("online", "Online", "green"), ("unreachable", "Sem resposta", "red"),
        ("unknown", "Desconhecido", "orange"), ("disabled", "Desativado", "blue"),
    )]  # fmt: skip
    p.append(status)
    since = (
        "SELECT m.name AS meter,\n"
        "       d.seconds_since_good_read + extract(epoch FROM $__timeTo()::timestamptz - d.time) AS value\n"
        f"{last_row}"
    )
    p.append(stat(lay, "Tempo desde a última leitura boa", since, "s", [(None, GREEN), (60, ORANGE), (300, RED)],
                  decimals=0, w=8,
                  description="Segundos desde a última leitura completa do medidor, no fim do intervalo exibido. Vazio: nunca lido desde o início do gateway."))  # fmt: skip
    p95 = "SELECT m.name AS meter, d.latency_p95_ms AS value\n" + last_row
    p.append(stat(lay, "Latência p95 (último período)", p95, "ms", [(None, GREEN), (200, ORANGE), (500, RED)],
                  decimals=0, w=8))  # fmt: skip
    series = (
        "SELECT $__timeGroupAlias(d.time, $__interval), m.name AS metric, {cols}\n"
        "FROM modbus_meter_diagnostics d\nJOIN meters m ON m.meter_id = d.meter_id\n"
        f"WHERE $__timeFilter(d.time) AND {meters}\nGROUP BY 1, 2\nORDER BY 1"
    )
    p.append(row(lay, "Histórico"))
    p.append(timeseries(lay, "Latência por medidor (p95, ms)",
                        [series.format(cols='max(d.latency_p95_ms) AS "p95"')], "ms",
                        description="95º percentil do tempo de resposta das requisições bem-sucedidas em cada período de diagnóstico (pior período do intervalo do gráfico)."))  # fmt: skip
    rates = (
        'sum(d.timeouts) * 60 / nullif(sum(d.period_s), 0) AS "timeouts/min",\n'
        '       sum(d.crc_errors) * 60 / nullif(sum(d.period_s), 0) AS "CRC/min",\n'
        '       sum(d.exceptions) * 60 / nullif(sum(d.period_s), 0) AS "exceções/min"'
    )
    p.append(timeseries(lay, "Falhas Modbus por minuto", [series.format(cols=rates)], "none", decimals=2,
                        description="Timeouts (sem resposta), erros de CRC/enquadramento (resposta corrompida: ruído, terminação, baud rate) e respostas de exceção Modbus (endereço ou função inválidos) por minuto."))  # fmt: skip
    p.append(row(lay, "Detalhe"))
    detail = (
        'SELECT m.name AS "Medidor", d.bus AS "Barramento", d.unit AS "Unidade", d.status AS "Status",\n'
        '       d.requests AS "Requisições", d.successes AS "Sucessos", d.timeouts AS "Timeouts",\n'
        '       d.crc_errors AS "CRC", d.exceptions AS "Exceções", d.exception_codes::text AS "Códigos",\n'
        '       d.retries AS "Repetições", d.latency_p50_ms AS "p50 ms", d.latency_p95_ms AS "p95 ms",\n'
        '       d.latency_max_ms AS "máx ms", d.consecutive_failures AS "Falhas seguidas",\n'
        '       d.backoff_s AS "Espera (s)", d.time AS "Período até"\n'
        f"{last_row}"
    )
    p.append(table(lay, "Medidores: último período", detail, h=7))
    buses = (
        'SELECT b.gateway AS "Gateway", b.bus AS "Barramento", b.meters_online AS "Online",\n'
        '       b.meters AS "Medidores", b.cycles AS "Ciclos", b.cycle_max_ms AS "Ciclo máx ms",\n'
        '       b.overruns AS "Atrasos", b.requests AS "Requisições", b.timeouts AS "Timeouts",\n'
        '       b.crc_errors AS "CRC", b.exceptions AS "Exceções", b.latency_p95_ms AS "p95 ms",\n'
        '       b.time AS "Período até"\n'
        "FROM (\n  SELECT DISTINCT ON (gateway, bus) * FROM modbus_bus_diagnostics\n"
        "  WHERE site_id = '$site' AND $__timeFilter(time)\n"
        "  ORDER BY gateway, bus, time DESC\n) b\nORDER BY 1, 2"
    )
    p.append(table(lay, "Barramentos: último período", buses, h=6,
                   description="Atrasos: ciclos de leitura mais longos que o intervalo de leitura (barramento saturado)."))  # fmt: skip
    return dashboard(
        "emusa-diagnostico-modbus",
        "EMUSA — Diagnóstico Modbus",
        p,
        description="Saúde da comunicação Modbus por medidor e barramento: latência, timeouts, CRC, exceções, tempo desde a última leitura boa.",
        time_from="now-6h",
        refresh="30s",
        with_anomalies=False,
    )

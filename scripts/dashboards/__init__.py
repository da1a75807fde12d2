"""The provisioned Grafana dashboards (pt-BR), one module each, built from a shared kit.

``kit`` holds the panels, ``frame`` what surrounds them (variables, annotations, links),
``queries`` the SQL the dashboards share (the relation switch for long ranges, gaps,
the tariff calendar). ``scripts/gen_dashboards.py`` writes ``DASHBOARDS`` as JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import demanda, diagnostico_modbus, formas_de_onda, ia_diagnostico, qualidade, visao_geral

# file name in grafana/provisioning/dashboards/emusa -> builder of its JSON
DASHBOARDS: dict[str, Callable[[], dict[str, Any]]] = {
    "visao-geral.json": visao_geral.build,
    "formas-de-onda.json": formas_de_onda.build,
    "qualidade.json": qualidade.build,
    "demanda.json": demanda.build,
    "ia-diagnostico.json": ia_diagnostico.build,
    "diagnostico-modbus.json": diagnostico_modbus.build,
}

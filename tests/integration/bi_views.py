"""The documented Power BI views (docs/power-bi.md)."""

BI_VIEWS = (
    "meters",
    "readings_1m",
    "demand_15m",
    "site_demand_15m",
    "energy_daily",
    "energy_by_shift",
    "anomalies",
    "summaries",
    "modbus_diagnostics",
    "meter_registers",
)

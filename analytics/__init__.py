"""EMUSA analytics: rollup refresh, anomaly detection, summaries, reports."""

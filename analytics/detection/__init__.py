"""Anomaly detection: power-quality and tariff rules (``rules`` on ``rulebase``, short
events in ``extremes``, data quality in ``quality``), the statistical model
(``seasonal`` on ``baseline``), the counter cross-check (``crosscheck``), episodes
merged into stored events (``events``), their texts (``texts``) and alert payload
(``payload``), and the ``detect`` job (``job``) with its queries (``store``). Everything
but ``store``, ``job`` and ``crosscheck.load`` is pure: no database or network."""

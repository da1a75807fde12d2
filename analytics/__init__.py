"""EMUSA analytics: rollup refresh, anomaly detection, demand control, summaries, reports.

One package per feature: ``worker`` (job registry and context, scheduler, outbox to
MQTT, rollups, retention), ``detection``, ``demand``, ``summaries``, ``delivery``
(e-mail, webhook, WhatsApp, alerts), ``reports``, ``api`` and ``shifts``; each keeps its
SQL in its own ``queries.sql``. ``i18n`` holds every word and number format.
"""

"""PDF reports: the 24-hour report and the fortnightly demand analysis.

Pure layout (``content``, ``charts``, ``layout``, ``daily``, ``fortnightly``,
``analysis``, ``periods``; words and numbers from :mod:`analytics.i18n`) imports no
database client; ``data`` reads the database, ``service`` builds and records a report,
``delivery`` schedules and e-mails them. Named queries in ``reports/queries.sql``.
"""

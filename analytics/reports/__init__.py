"""PDF reports: the 24-hour report and the fortnightly demand analysis.

Pure layout (``i18n``, ``model``, ``charts``, ``layout``, ``daily``, ``fortnightly``,
``analysis``, ``periods``) imports no database client; ``data`` reads the database,
``service`` builds and records a report, ``delivery`` schedules and e-mails them.
"""

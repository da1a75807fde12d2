"""The HTTP API (``serve-api``): the Starlette application (``app``), its strict query
parameters (``params``) and the CSV export and Power BI file (``export``)."""

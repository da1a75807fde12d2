"""The registry-driven parts of the schema (``contract/quantities.py``) as SQL migrations.

``grains`` holds the rollup grains and the generated header, ``columns`` the aggregate
columns of the internal rollups; one module per migration family: ``timescale`` and
``apache`` (0002 on each build, 0008 on the Apache build), ``views`` and ``bi`` (0003),
``added_0016`` (a quantity added later). ``scripts/gen_migration_sql.py`` prints
``MIGRATIONS`` by name; ``scripts/gen_migration_0017.py`` uses the grains and the header.
"""

from __future__ import annotations

from collections.abc import Callable

from . import added_0016, apache, timescale, views

# subcommand of scripts/gen_migration_sql.py -> builder of the migration's SQL
MIGRATIONS: dict[str, Callable[[], str]] = {
    "added-0016-apache": added_0016.added_apache,
    "added-0016-timescale": added_0016.added_timescale,
    "rollups-apache": apache.rollups_apache,
    "rollups-timescale": timescale.rollups_timescale,
    "views": views.views,
    "refresh-from-minutes": apache.refresh_from_minutes,
}

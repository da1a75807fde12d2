"""Generate the registry-driven parts of the schema as plain SQL migration files.

Developer tool, not run at deploy time: the SQL it writes is committed and reviewed, and
a migration never changes once applied. When the quantity registry grows, write a new
migration (the package ``scripts/migration_sql`` helps) instead of regenerating an
applied one.

    python scripts/gen_migration_sql.py rollups-apache   > sql/migrations/0002_rollups.apache.sql
    python scripts/gen_migration_sql.py rollups-timescale > sql/migrations/0002_rollups.timescale.sql
    python scripts/gen_migration_sql.py views            > sql/migrations/0003_views.sql
    python scripts/gen_migration_sql.py added-0016-apache    > sql/migrations/0016_energy_channel_b.apache.sql
    python scripts/gen_migration_sql.py added-0016-timescale > sql/migrations/0016_energy_channel_b.timescale.sql
"""

from __future__ import annotations

import sys

from migration_sql import main

if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

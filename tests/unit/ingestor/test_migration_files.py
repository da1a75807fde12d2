"""Migration files: naming, variants per TimescaleDB build, SQL syntax of every file."""

from __future__ import annotations

import re
from pathlib import Path

import pglast
import pytest

from ingestor.errors import MigrationError
from ingestor.migrate import default_directory, discover

pytestmark = pytest.mark.unit

MIGRATIONS = default_directory()


def _write(directory: Path, *names: str) -> None:
    for name in names:
        (directory / name).write_text(f"-- {name}\nSELECT 1;\n")


@pytest.mark.parametrize("license_", ["apache", "timescale"])
def test_shipped_migrations_resolve_for_both_builds(license_: str) -> None:
    found = discover(MIGRATIONS, license_)
    assert [m.version for m in found] == list(range(1, len(found) + 1))
    assert f"0002_rollups.{license_}.sql" in {m.file for m in found}


def test_variant_choice_and_checksum(tmp_path: Path) -> None:
    _write(tmp_path, "0001_a.sql", "0002_b.apache.sql", "0002_b.timescale.sql", "README.txt")
    apache = discover(tmp_path, "apache")
    timescale = discover(tmp_path, "timescale")
    assert [m.file for m in apache] == ["0001_a.sql", "0002_b.apache.sql"]
    assert [m.file for m in timescale] == ["0001_a.sql", "0002_b.timescale.sql"]
    assert apache[1].checksum != timescale[1].checksum
    assert re.fullmatch(r"[0-9a-f]{64}", apache[0].checksum)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (["0001_a.sql", "0003_c.sql"], "migration 0002 is missing"),
        (["0001_a.sql", "0002_b.apache.sql"], "0002 has no variant for the 'timescale' build"),
        (["0001_a.sql", "0001_a.timescale.sql"], "0001 has both a plain file and variants"),
        (["0001_A.sql"], "0001_A.sql: not a migration name"),
        (["1_a.sql"], "1_a.sql: not a migration name"),
    ],
)
def test_inconsistent_directories_are_refused(
    tmp_path: Path, files: list[str], message: str
) -> None:
    _write(tmp_path, *files)
    with pytest.raises(MigrationError, match=re.escape(message)):
        discover(tmp_path, "timescale")


def test_unknown_license_is_refused() -> None:
    with pytest.raises(MigrationError, match="unknown TimescaleDB license 'enterprise'"):
        discover(MIGRATIONS, "enterprise")


@pytest.mark.parametrize("path", sorted(MIGRATIONS.glob("*.sql")), ids=lambda p: p.name)
def test_every_migration_is_valid_postgresql(path: Path) -> None:
    """Parsed by PostgreSQL's own parser (libpg_query): catches the Community-only file,
    which cannot run on this machine's Apache build, before a Community server sees it."""
    statements = pglast.parse_sql(path.read_text())
    assert len(statements) > 0


def _internal_columns(sql_text: str) -> dict[str, list[str]]:
    """Columns of rollup.agg_* as created by a 0002 variant (table or continuous aggregate)."""
    out: dict[str, list[str]] = {}
    for raw in pglast.parse_sql(sql_text):
        stmt = raw.stmt
        kind = type(stmt).__name__
        if kind == "CreateStmt" and stmt.relation.schemaname == "rollup":
            cols = [e.colname for e in stmt.tableElts if type(e).__name__ == "ColumnDef"]
            out[stmt.relation.relname] = cols
        elif kind == "CreateTableAsStmt" and stmt.into.rel.schemaname == "rollup":
            out[stmt.into.rel.relname] = [
                t.name or t.val.fields[-1].sval for t in stmt.query.targetList
            ]
    return out


def test_both_builds_create_identical_rollup_relations() -> None:
    apache = _internal_columns((MIGRATIONS / "0002_rollups.apache.sql").read_text())
    timescale = _internal_columns((MIGRATIONS / "0002_rollups.timescale.sql").read_text())
    apache.pop("invalidations")
    assert set(apache) == {"agg_1m", "agg_15m", "agg_1h", "agg_1d"}
    assert apache == timescale


def test_community_build_sets_policies_for_every_rollup() -> None:
    text = (MIGRATIONS / "0002_rollups.timescale.sql").read_text()
    for grain in ("1m", "15m", "1h", "1d"):
        assert f"add_continuous_aggregate_policy('rollup.agg_{grain}'" in text
        assert re.search(
            rf"CREATE MATERIALIZED VIEW rollup\.agg_{grain}\s+WITH \(timescaledb\.continuous", text
        )
    assert "materialized_only = false" in text
    assert "add_compression_policy('readings'" in text
    assert "add_retention_policy('readings'" in text

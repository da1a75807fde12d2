"""contract.sqlfiles, contract.datafiles and contract.aliases: files read once, errors
naming the file and the entry."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from contract import aliases, datafiles, sqlfiles
from contract.quantities import conversion_problem

pytestmark = pytest.mark.unit


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_named_queries_by_header_comments_and_semicolon_dropped(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "q.sql",
        "-- file comment\n-- name: one\n-- what it does\nSELECT 1;\n\n"
        "-- name: two\nSELECT a\nFROM t -- trailing comment stays\nWHERE x = %(x)s;\n",
    )
    assert sqlfiles.load(path) == {
        "one": "SELECT 1",
        "two": "SELECT a\nFROM t -- trailing comment stays\nWHERE x = %(x)s",
    }
    assert list(sqlfiles.load(path)) == ["one", "two"]


def test_a_query_named_twice_or_a_file_without_names_is_refused(tmp_path: Path) -> None:
    twice = _write(tmp_path, "twice.sql", "-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;\n")
    with pytest.raises(
        sqlfiles.QueryFileError, match=re.escape("twice.sql: query 'a' defined twice")
    ):
        sqlfiles.load(twice)
    none = _write(tmp_path, "none.sql", "SELECT 1;\n")
    with pytest.raises(
        sqlfiles.QueryFileError, match=re.escape("none.sql: no '-- name: <query>' header")
    ):
        sqlfiles.load(none)


def test_every_shipped_query_file_loads() -> None:
    root = Path(__file__).resolve().parents[3]
    files = [p for pkg in ("ingestor", "analytics") for p in (root / pkg).rglob("*.sql")]
    assert len(files) >= 10
    for path in files:
        assert sqlfiles.load(path), path


def test_data_files_by_suffix_and_errors_name_the_file(tmp_path: Path) -> None:
    assert datafiles.read(_write(tmp_path, "a.json", '{"x": [1]}')) == {"x": [1]}
    assert datafiles.read(_write(tmp_path, "a.yaml", "x: [1]\n")) == {"x": [1]}
    with pytest.raises(datafiles.DataFileError, match=re.escape("b.json: not valid JSON")):
        datafiles.read(_write(tmp_path, "b.json", "{"))
    with pytest.raises(datafiles.DataFileError, match=re.escape("missing.yaml: cannot read")):
        datafiles.read(tmp_path / "missing.yaml")


def test_alias_errors_name_the_file_and_the_alias(tmp_path: Path) -> None:
    bad_scale = _write(
        tmp_path,
        "al.yaml",
        "source: test\naliases:\n  potencia_w:\n    quantity: p_total\n    unit: W\n    scale: 1\n",
    )
    with pytest.raises(
        aliases.AliasError, match=r"al.yaml: aliases.potencia_w: unit 'W' with scale 1"
    ):
        aliases.load(bad_scale)
    unknown = _write(tmp_path, "u.yaml", "source: t\naliases: {}\ncolour: red\n")
    with pytest.raises(aliases.AliasError, match=re.escape("u.yaml: colour: unknown key")):
        aliases.load(unknown)


def test_unit_conversions_onto_the_registry() -> None:
    assert conversion_problem("p_total", "W", 1e-3) is None
    assert conversion_problem("p_total", "kW", 1.0) is None
    assert (
        conversion_problem("nope", "kW", 1.0)
        == "quantity 'nope' unknown (not in contract.quantities)"
    )
    assert "cannot become" in (conversion_problem("p_total", "V", 1.0) or "")
    assert "needs scale 0.001" in (conversion_problem("p_total", "W", 1.0) or "")

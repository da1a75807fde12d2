"""The one loader of named SQL queries (procrastinate's way: SQL in files, by name).

A query file holds statements each under a ``-- name: <identifier>`` header; other lines
starting with ``--`` are comments and dropped, as is the final ``;``. The text is our own
file's, never a value: callers may pass it to ``psycopg.sql.SQL``.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import LiteralString

_HEADER = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


class QueryFileError(ValueError):
    """A query file without names, or naming one query twice; names the file."""


@cache
def load(path: Path) -> dict[str, LiteralString]:
    """The statements of ``path`` by name, in file order (cached per path)."""
    parts = _HEADER.split(path.read_text(encoding="utf-8"))
    if len(parts) < 3:
        raise QueryFileError(f"{path}: no '-- name: <query>' header")
    out: dict[str, LiteralString] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in out:
            raise QueryFileError(f"{path}: query {name!r} defined twice")
        lines = [ln for ln in body.strip().splitlines() if not ln.startswith("--")]
        out[name] = "\n".join(lines).strip().rstrip(";")
    return out


def beside(module_file: str, filename: str = "queries.sql") -> dict[str, LiteralString]:
    """The named queries of ``filename`` in the folder of ``module_file`` (``__file__``)."""
    return load(Path(module_file).with_name(filename))

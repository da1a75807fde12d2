"""The plant's register names (Portuguese, the old app's) -> canonical quantities.

One table, ``_aliases_kron03.yaml`` beside this module, read by the gateway (the plant's
register file, gateway/plantfile.py) and by the ingestor's history import (the old app's
columns, ingestor/legacy_map.py): both name a value the same way. Each alias gives the
canonical quantity, the unit the plant's value has and the scale into the registry's
unit; a wrong unit or scale is an :class:`AliasError` naming the file and the alias.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from contract import datafiles
from contract.errors import ReportedError
from contract.quantities import conversion_problem
from contract.settings import Strict

ALIASES_FILE = Path(__file__).with_name("_aliases_kron03.yaml")


class AliasError(ReportedError):
    """The alias table cannot be read or breaks a rule; names the file and the alias."""

    code = "bad_alias"


class Alias(Strict):
    quantity: str
    unit: str
    scale: float = 1.0
    note: str | None = None


class _AliasFile(Strict):
    source: str
    aliases: dict[str, Alias]


def load(path: Path = ALIASES_FILE) -> dict[str, Alias]:
    """The alias table: plant name (Portuguese) -> canonical quantity, unit, scale."""
    try:
        spec = _AliasFile.model_validate(datafiles.read(path))
    except datafiles.DataFileError as exc:
        raise AliasError(str(exc)) from exc
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "(top)"
            msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            lines.append(f"{path.name}: {loc}: {msg}")
        raise AliasError("\n".join(lines)) from None
    for key, alias in spec.aliases.items():
        problem = conversion_problem(alias.quantity, alias.unit, alias.scale)
        if problem is not None:
            raise AliasError(f"{path.name}: aliases.{key}: {problem}")
    return dict(spec.aliases)

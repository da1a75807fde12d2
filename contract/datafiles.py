"""Read a data file (register map, alias table): JSON or YAML by its suffix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from contract.errors import ReportedError


class DataFileError(ReportedError):
    """A data file that cannot be read or parsed; the message names the file."""

    code = "bad_file"


def read(path: Path) -> Any:
    """The document in ``path`` (``.json``: JSON, else YAML)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataFileError(f"{path.name}: cannot read: {exc.strerror}") from exc
    try:
        return json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise DataFileError(f"{path.name}: not valid {path.suffix[1:].upper()}: {exc}") from exc

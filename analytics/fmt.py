"""Numbers, times and words as a manager reads them: pt-BR (decimal comma) or en."""

from __future__ import annotations

from datetime import datetime
from typing import Final

LANGS: Final = ("pt-BR", "en")


def number(value: float, lang: str, decimals: int = 1) -> str:
    """``1234.5`` -> ``1.234,5`` (pt-BR) or ``1,234.5`` (en)."""
    text = f"{value:,.{decimals}f}"
    if lang == "pt-BR":
        text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    return text.replace("-", "\u2212")


def percent_change(value: float, lang: str) -> str:
    """``0.042`` -> ``+4,2%``."""
    sign = "+" if value >= 0 else ""
    return f"{sign}{number(value * 100, lang, 1)}%"


def clock(ts: datetime, lang: str) -> str:
    """Local wall-clock time: ``10h15`` (pt-BR) or ``10:15`` (en)."""
    return ts.strftime("%Hh%M") if lang == "pt-BR" else ts.strftime("%H:%M")


def day(ts: datetime, lang: str) -> str:
    return ts.strftime("%d/%m/%Y") if lang == "pt-BR" else ts.strftime("%Y-%m-%d")

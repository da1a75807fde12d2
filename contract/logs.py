"""The services' logging setup: one format, one place."""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup(*, verbose: bool = False, quiet: tuple[str, ...] = ()) -> None:
    """Log INFO (DEBUG when ``verbose``) to stderr; ``quiet`` loggers only at CRITICAL
    (pymodbus logs every failed try at ERROR; the gateway reports those itself)."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format=FORMAT)
    for name in quiet:
        logging.getLogger(name).setLevel(logging.CRITICAL)

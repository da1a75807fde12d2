"""Buses built from their configuration: the one place that gives a bus its parts.

A TCP bus needs nothing more. An RTU bus with ``port: auto`` gets its port finder here
(gateway.scan.PortSearch), so the transport never imports the scan that builds on it.
"""

from __future__ import annotations

from pathlib import Path

from gateway.config import RtuBusConfig, TcpBusConfig
from gateway.scan import PortSearch
from gateway.transport import ModbusBus, RtuBus, TcpBus


def open_bus(
    config: TcpBusConfig | RtuBusConfig,
    *,
    candidates: list[str] | None = None,
    base_dir: Path | None = None,
) -> ModbusBus:
    """A bus for ``config``; nothing is opened until the first read.

    ``candidates`` (serial ports to try for ``port: auto``, default: every port pyserial
    lists) and ``base_dir`` (where a meter's ``map_file`` is relative to) only matter to RTU.
    """
    if isinstance(config, TcpBusConfig):
        return TcpBus(config)
    finder = None
    if config.port == "auto":
        finder = PortSearch(candidates, base_dir or Path())
    return RtuBus(config, find_port=finder)

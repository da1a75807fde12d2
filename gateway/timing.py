"""Modbus RTU wire time: what a poll cycle costs on a serial line (pure arithmetic).

Modbus over serial line spec: a character is 11 bits (8N2, 8E1, 8O1 — start, 8 data,
parity or second stop, stop); t3.5 is 3.5 characters, fixed at 1.75 ms above 19200 baud.
A read of N registers (FC03/04) is an 8-byte request and a (5 + 2N)-byte response,
each followed by t3.5 of silence: (13 + 2N) characters + 2 x t3.5, plus the meter's own
turnaround, which datasheets rarely give (``turnaround`` below; measure it).
"""

from __future__ import annotations

from collections.abc import Iterable

BITS_PER_CHAR = 11
MAX_REGISTERS = 125


def char_time(baudrate: int, bits: int = BITS_PER_CHAR) -> float:
    """Seconds per character on the line."""
    return bits / baudrate


def t35(baudrate: int) -> float:
    """Inter-frame silence (seconds): 3.5 characters, 1.75 ms above 19200 baud."""
    return 0.00175 if baudrate > 19200 else 3.5 * char_time(baudrate)


def read_time(registers: int, baudrate: int, turnaround: float = 0.0) -> float:
    """Seconds on the wire for one FC03/FC04 read of ``registers`` registers."""
    if not 1 <= registers <= MAX_REGISTERS:
        raise ValueError(f"a Modbus read carries 1..{MAX_REGISTERS} registers, not {registers}")
    return (13 + 2 * registers) * char_time(baudrate) + 2 * t35(baudrate) + turnaround


def cycle_time(reads: Iterable[int], baudrate: int, turnaround: float = 0.0) -> float:
    """Seconds for one poll cycle made of reads of the given register counts."""
    return sum(read_time(n, baudrate, turnaround) for n in reads)

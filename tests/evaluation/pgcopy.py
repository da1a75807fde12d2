"""Readings into ``readings`` by binary COPY built with numpy (millions of rows in seconds).

PostgreSQL's binary COPY format: a header, then per row a 16-bit field count and per
field a 32-bit length and the big-endian value (timestamptz: microseconds since
2000-01-01 UTC, int4, int8, float8), then a trailer.
"""

from __future__ import annotations

import numpy as np
import psycopg

FLOATS = (
    "v_l1n", "v_l2n", "v_l3n", "v_l12", "v_l23", "v_l31", "i_l1", "i_l2", "i_l3",
    "p_total", "q_total", "pf_total", "freq", "e_imp_kwh",
)  # fmt: skip
HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" * 2
TRAILER = b"\xff\xff"
PG_EPOCH = 946_684_800  # 2000-01-01 in Unix seconds
CHUNK = 200_000


def _dtype() -> np.dtype:
    fields = [("n", ">i2"), ("lt", ">i4"), ("t", ">i8"), ("lm", ">i4"), ("m", ">i4"),
              ("ls", ">i4"), ("s", ">i8")]  # fmt: skip
    for q in FLOATS:
        fields += [(f"l_{q}", ">i4"), (q, ">f8")]
    return np.dtype(fields)


def copy_rows(dsn: str, meter_id: int, values: dict[str, np.ndarray], keep: np.ndarray) -> int:
    """COPY the rows ``keep`` selects of ``values`` (``t``: Unix seconds, FLOATS: numbers,
    rounded to float32 by the caller or not) for one meter; returns the row count."""
    idx = np.flatnonzero(keep)
    dtype = _dtype()
    columns = ", ".join(("time", "meter_id", "seq", *FLOATS))
    statement = f"COPY readings ({columns}) FROM STDIN (FORMAT BINARY)"
    with psycopg.connect(dsn) as conn, conn.cursor() as cur, cur.copy(statement) as copy:
        copy.write(HEADER)
        for a in range(0, len(idx), CHUNK):
            part = idx[a : a + CHUNK]
            rows = np.zeros(len(part), dtype=dtype)
            rows["n"] = 3 + len(FLOATS)
            rows["lt"], rows["lm"], rows["ls"] = 8, 4, 8
            t = values["t"][part]
            rows["t"] = np.round((t - PG_EPOCH) * 1e6).astype(np.int64)
            rows["m"] = meter_id
            rows["s"] = part
            for q in FLOATS:
                rows[f"l_{q}"] = 8
                rows[q] = values[q][part]
            copy.write(rows.tobytes())
        copy.write(TRAILER)
    return len(idx)

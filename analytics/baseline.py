"""Out-of-sample calibration of the statistical model (pure numpy, no database).

One meter's training data arrive as day x minute-of-day matrices per feature (``cube``,
NaN where there is no reading) for one group of days (working days, or Saturdays and
Sundays/holidays). From them:

* :func:`typical` — the typical value at each minute of the day: the median of the
  group's days over a window of ±``half_window`` minutes (a day seen once still gives a
  median of 2k+1 values, and a load step blurs instead of copying one day);
* :func:`support` — how many days have data near each minute (a slot is scored only
  when at least ``min_days`` days support it: the warm-up);
* :func:`loo_residuals` — leave-one-day-out residuals: each day against the typical
  computed *without* it, so no residual is zero because the day fitted itself (the
  in-sample MAD collapsed to its floor when 43 % of the residuals were exactly 0);
* :func:`hourly_spread` — a robust spread (1.4826 MAD) of those residuals per hour of
  the day, NaN where an hour has too few residuals;
* :func:`tail_threshold` — the score whose exceedance probability per minute, on the
  out-of-sample scores, is ``rate``: the empirical quantile when the data hold enough
  exceedances, else an exponential tail fitted above the ``1 - tail_fraction`` quantile
  (scale: the mean excess, so a block of large out-of-sample deviations, such as a
  Saturday shift pooled with Sundays, raises the threshold rather than being ignored).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

MINUTES = 1440
MAD_TO_SIGMA = 1.4826


def _windowed(cube: np.ndarray, half_window: int) -> np.ndarray:
    """(days, 2k+1, minutes): each minute with its neighbours (NaN beyond the day)."""
    days, minutes = cube.shape
    pad = np.full((days, minutes + 2 * half_window), np.nan)
    pad[:, half_window : half_window + minutes] = cube
    shifts = [pad[:, k : k + minutes] for k in range(2 * half_window + 1)]
    return np.stack(shifts, axis=1)


def _nanmedian(stack: np.ndarray) -> np.ndarray:
    """Median over axis 0 ignoring NaN; NaN (without a warning) where all are NaN."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out: np.ndarray = np.nanmedian(stack, axis=0)
    return out


def typical(cube: np.ndarray, half_window: int, seasonal: bool = True) -> np.ndarray:
    """Typical value per minute of the day (a constant for features without a daily shape)."""
    if not seasonal:
        return np.full(cube.shape[1], _nanmedian(cube.reshape(-1)).item())
    win = _windowed(cube, half_window)
    return _nanmedian(win.reshape(-1, cube.shape[1]))


def support(cube: np.ndarray, half_window: int) -> np.ndarray:
    """Per minute of the day: the number of days with data within the window."""
    win = _windowed(cube, half_window)
    out: np.ndarray = (~np.isnan(win)).any(axis=1).sum(axis=0)
    return out


def loo_residuals(cube: np.ndarray, half_window: int, seasonal: bool = True) -> np.ndarray:
    """Each day's values minus the typical computed from the group's other days."""
    days = cube.shape[0]
    out = np.full(cube.shape, np.nan)
    if days < 2:
        return out
    win = _windowed(cube, half_window) if seasonal else None
    for d in range(days):
        others = np.arange(days) != d
        if win is None:
            typ = _nanmedian(cube[others].reshape(-1)).item()
        else:
            typ = _nanmedian(win[others].reshape(-1, cube.shape[1]))
        out[d] = cube[d] - typ
    return out


def hourly_spread(resid: np.ndarray, min_count: int) -> np.ndarray:
    """Robust spread of the residuals per hour of the day (24 values; NaN: too few)."""
    by_hour = resid.reshape(resid.shape[0], 24, MINUTES // 24).transpose(1, 0, 2).reshape(24, -1)
    out = np.full(24, np.nan)
    for h, row in enumerate(by_hour):
        r = row[~np.isnan(row)]
        if len(r) >= min_count:
            out[h] = MAD_TO_SIGMA * float(np.median(np.abs(r - np.median(r))))
    return out


def tail_threshold(
    scores: np.ndarray, rate: float, *, tail_fraction: float = 0.01, min_tail: int = 20
) -> float:
    """The score exceeded with probability ``rate`` per minute (NaN: too few scores)."""
    s = np.sort(scores[~np.isnan(scores)])
    n = len(s)
    if n == 0 or n * tail_fraction < min_tail:
        return math.nan
    if n * rate >= min_tail:  # enough exceedances in the data: the empirical quantile
        return float(np.quantile(s, 1 - rate))
    u = float(np.quantile(s, 1 - tail_fraction))
    excess = s[s > u] - u
    beta = float(excess.mean()) if len(excess) else 0.0
    return u + beta * math.log(tail_fraction / rate)

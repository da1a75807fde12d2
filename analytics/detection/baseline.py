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
* :func:`day_spreads`, :func:`pooled_spread` — a robust spread of those residuals
  around each minute of the day, widened toward the day-wide spread while there are few
  days; :func:`loo_spreads` — the same without the day scored, so that the calibration
  scores (residual / spread) are out of sample for the spread too;
* :func:`tail_threshold` — the score whose exceedance probability per minute, on the
  out-of-sample scores, is ``rate``: the empirical quantile when the data hold enough
  exceedances, else an exponential tail fitted above the ``1 - tail_fraction`` quantile
  (scale: the mean excess, so a block of large out-of-sample deviations, such as a
  Saturday shift pooled with Sundays, raises the threshold rather than being ignored);
* :func:`daily_max_threshold` — the score a clean day's largest minute exceeds with
  probability ``day_rate``, from a Gumbel fit to the days' largest out-of-sample scores
  (events are counted per day, however clustered their minutes are).
"""

from __future__ import annotations

import math

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
    """Median over axis 0 ignoring NaN; NaN where all are NaN.

    One sort (NaN sorts last) instead of ``np.nanmedian``, whose masked-array path for
    short axes took most of a fit's time.
    """
    ordered = np.sort(stack, axis=0)
    n = (~np.isnan(stack)).sum(axis=0)
    lo = np.take_along_axis(ordered, np.expand_dims(np.maximum(n - 1, 0) // 2, 0), 0)[0]
    hi = np.take_along_axis(ordered, np.expand_dims(n // 2, 0), 0)[0]
    out: np.ndarray = np.where(n > 0, (lo + hi) / 2, np.nan)
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


def day_spreads(resid: np.ndarray, half_window: int) -> np.ndarray:
    """Each day's robust spread around each minute: 1.4826 x the median |residual| within
    ±``half_window`` minutes (a ramp at the end of a shift gets its own, wider spread)."""
    win = _windowed(np.abs(resid), half_window)  # (days, 2k+1, minutes)
    out: np.ndarray = MAD_TO_SIGMA * _nanmedian(win.transpose(1, 0, 2))
    return out


def pooled_spread(
    days: np.ndarray, prior_days: float, weight: np.ndarray | None = None
) -> np.ndarray:
    """The spread at each minute from some days' :func:`day_spreads` (NaN: no day).

    The median over the days, widened while there are few of them toward the day-wide
    spread, as if ``prior_days`` more days had shown that (``s² = (n·local² +
    prior·day²) / (n + prior)``, never narrower than the local one): a slot where the few
    days happened to agree (a capacitor bank on the same stage) does not get a spread
    the next day disproves. ``weight`` replaces the number of days per minute (the
    leave-one-day-out spreads widen as much as the spread that scores new days).
    """
    local = _nanmedian(days)
    n = (~np.isnan(days)).sum(axis=0) if weight is None else weight
    if np.isnan(local).all():
        return local
    day_wide = float(np.nanmedian(local))
    shrunk = np.sqrt((n * local**2 + prior_days * day_wide**2) / (n + prior_days))
    out: np.ndarray = np.fmax(local, shrunk)
    return out


def loo_spreads(days: np.ndarray, prior_days: float) -> np.ndarray:
    """For each day, the spread pooled from the other days (scores its residuals honestly)."""
    out = np.full(days.shape, np.nan)
    n = (~np.isnan(days)).sum(axis=0)
    for d in range(days.shape[0]):
        out[d] = pooled_spread(np.delete(days, d, axis=0), prior_days, n)
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


GUMBEL_MEDIAN, GUMBEL_MAD = 0.3659, 0.7668  # of the standard Gumbel distribution


def daily_max_threshold(day_max: np.ndarray, day_rate: float) -> float:
    """The score a clean day's largest minute exceeds with probability ``day_rate``.

    Each training day's largest out-of-sample score is one draw of a day's maximum; a
    Gumbel distribution fitted to them robustly (median and MAD, so one day holding a
    real event does not set it) gives the quantile. This counts days with at least one
    flagged minute, whatever the minutes' clustering (a compressor cycling all night
    puts many correlated minutes near the same score: a per-minute rate misjudges it).
    NaN with fewer than 3 days (or a rate that is not a probability).
    """
    m = day_max[~np.isnan(day_max)]
    if len(m) < 3 or not 0 < day_rate < 1:
        return math.nan
    med = float(np.median(m))
    beta = float(np.median(np.abs(m - med))) / GUMBEL_MAD
    mu = med - GUMBEL_MEDIAN * beta
    return mu - beta * math.log(-math.log1p(-day_rate))

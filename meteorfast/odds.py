"""Probabilities as log-odds and back: the one :func:`logit` and :func:`logistic` every stage uses."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

#: A probability is clipped this far from 0 and 1 before its logit is taken (a float32 1.0 would be infinite).
EPS = 1e-7


def logit(p: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """``log(p / (1 - p))`` of ``p`` clipped to ``[EPS, 1 - EPS]``, in float64, elementwise (a 0-d array for a
    number)."""
    q = np.clip(np.asarray(p, np.float64), EPS, 1 - EPS)
    return np.asarray(np.log(q / (1 - q)))


def logistic(z: float) -> float:
    """``1 / (1 + exp(-z))``, without overflow at either end."""
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


__all__ = ["EPS", "logistic", "logit"]

"""The second look: a verifier classifies a native-resolution crop around the located point of each item the first
look is unsure of (its probability in the verifier's band), and its probability, blended as the verifier's spec
says, becomes the model's (see :mod:`meteorfast.verify`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from meteorfast.backends.base import Backend
from meteorfast.errors import EngineMismatchError, InputError
from meteorfast.judges.base import BatchJudge, Setup, Verdict, Verifier, View
from meteorfast.preprocess import Preprocessor
from meteorfast.verify import VERIFY_KEY, combine, crops, in_band, read_spec


def open_verifier(
    path: Path | None, mode: str, explicit: bool, open_backend: Callable[[Path], Backend]
) -> Verifier | None:
    """The verifier at ``path`` opened with ``open_backend``, with its spec and its input's preprocessor; None
    without one, or for the automatic one (``explicit`` False) in a ``mode`` it does not serve. An explicit one
    must serve ``mode``."""
    if path is None:
        return None
    backend = open_backend(path)
    try:
        ins, outs = backend.input_specs, backend.output_specs
        shape: tuple[Any, ...] = ins["frames"].shape if "frames" in ins else ()
        spec = read_spec(backend.metadata)
        if "prob" not in outs or len(shape) != 4 or not all(isinstance(d, int) for d in shape[1:]) or spec is None:
            raise EngineMismatchError(
                f"verifier {str(path)!r}: expected a meteorfast verifier graph (input 'frames' of a fixed size, output "
                f"'prob', and {VERIFY_KEY} in its metadata), got inputs {sorted(ins)}, outputs {sorted(outs)} and "
                f"{'no' if spec is None else 'a'} {VERIFY_KEY}; train one with `meteorfast train --verifier-for MODEL`"
            )
        if mode not in spec.modes:
            if explicit:
                raise InputError(
                    f"verifier {str(path)!r}: expected a verifier for mode {mode!r}, got one for "
                    f"{', '.join(spec.modes)}; pass verifier=None (--verifier none) in this mode"
                )
            backend.close()
            return None
    except BaseException:
        backend.close()
        raise
    return Verifier(backend, spec, Preprocessor((int(shape[2]), int(shape[3])), int(shape[1])))


class SecondLook(BatchJudge):
    """The verifier's probability for the items in its band, in batches of ``batch_size`` crops."""

    name = "second_look"

    def __init__(self, verifier: Verifier, batch_size: int) -> None:
        self.verifier = verifier
        self.batch_size = batch_size

    @classmethod
    def build(cls, setup: Setup) -> SecondLook | None:
        return None if setup.verifier is None else cls(setup.verifier, setup.config.batch_size)

    def judge_all(self, views: Sequence[View], verdicts: Sequence[Verdict]) -> list[Verdict]:
        spec, prep = self.verifier.spec, self.verifier.prep
        first = np.array([d.prob for d in verdicts], np.float32)
        sel = [int(i) for i in np.flatnonzero(in_band(first, spec))]
        out = list(verdicts)
        if not sel:
            return out
        x = np.array([verdicts[i].x for i in sel], np.float32)
        y = np.array([verdicts[i].y for i in sel], np.float32)
        inputs, _ = prep.batch(crops([views[i].item.image for i in sel], x, y, prep.size))
        second = np.empty(len(sel), np.float32)
        for start in range(0, len(inputs), self.batch_size):
            part = inputs[start : start + self.batch_size]
            second[start : start + len(part)] = self.verifier.backend.probabilities(part)
        final = combine(first[sel], second, spec)
        for j, i in enumerate(sel):
            out[i] = verdicts[i].decided(self.name, float(final[j]), prob=float(final[j]))
        return out

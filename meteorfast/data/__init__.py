"""Data shipped inside the package (each file with its licence beside it)."""

from __future__ import annotations

from pathlib import Path

SAMPLES = Path(__file__).resolve().parent / "samples"
SAMPLE_VIDEO = SAMPLES / "CZ0003_20210307_021710_233167.mp4"
"""A real GMN station clip (1280x720, 25 fps, 201 frames) with one meteor, MIT licensed (``samples/LICENSE``)."""
SAMPLE_VIDEO_SHA256 = "91a9d56d31548d8a3e8289d9d0c935ee93a0bfd1cc6b3968215c4f316d688d9c"

MODELS = Path(__file__).resolve().parent / "models"
SHIPPED_MODELS = {"default": MODELS / "meteorfast-lite0.onnx", "fast": MODELS / "meteorfast-lite0-fast.onnx"}
"""The models shipped with the package, by name (see ``models/MODEL_CARD.md``): ``default`` takes 224x384 inputs and
is the more accurate; ``fast`` takes 224x224, with less arithmetic per frame, for CPUs that must run many cameras
frame by frame (see ``benchmarks/RESULTS.md``)."""
DEFAULT_MODEL = SHIPPED_MODELS["default"]
SHIPPED_VERIFIERS: dict[str, Path] = {"default": MODELS / "meteorfast-lite0-verify.onnx"}
"""The second-look models shipped for the shipped models, by the model's name (see :mod:`meteorfast.verify` and
``models/MODEL_CARD.md``): the default model's is two verifiers trained behind it, merged, on a 224 px crop of the
still at native resolution; it serves single frames."""
PROPOSAL_NET = MODELS / "meteorfast-propose.onnx"
"""The proposal net shipped for the second opinion on stills (see :mod:`meteorfast.judges.proposal`,
:mod:`meteorfast.proposals` and ``models/MODEL_CARD.md``): one logit per 16 px cell of a 1280x720 grey still at
native resolution."""


def proposal_net() -> Path:
    """The path of the shipped proposal net (:data:`PROPOSAL_NET`)."""
    from meteorfast.errors import InputError

    if not PROPOSAL_NET.is_file():
        raise InputError(
            f"rescue: expected the shipped proposal net at {PROPOSAL_NET}, which this install lacks; reinstall "
            "meteorfast, or pass rescue=False (--no-rescue) to run without it"
        )
    return PROPOSAL_NET


def shipped_model(name: str = "default") -> Path:
    """The path of the shipped model called ``name`` (``default`` or ``fast``)."""
    from meteorfast.errors import InputError

    if name not in SHIPPED_MODELS:
        raise InputError(f"model: expected a shipped model's name ({', '.join(SHIPPED_MODELS)}), got {name!r}")
    path = SHIPPED_MODELS[name]
    if not path.is_file():
        raise InputError(
            f"model: expected the shipped model at {path}, which this install lacks; pass --model PATH "
            "(an .onnx from `meteorfast export` or `meteorfast train`)"
        )
    return path


def default_model() -> Path:
    """The model shipped with the package as the default (see ``models/MODEL_CARD.md``)."""
    return shipped_model("default")


def resolve_model(model: str | Path | None) -> Path:
    """``model`` as a path: None or a shipped model's name (``default``, ``fast``) gives the shipped file; anything
    else is taken as a path."""
    if model is None:
        return default_model()
    if isinstance(model, str) and model in SHIPPED_MODELS:
        return shipped_model(model)
    return Path(model)


def resolve_verifier(verifier: str | Path | None, model: Path) -> Path | None:
    """The verifier a detector of ``model`` (a resolved path) uses: ``"auto"`` gives the one shipped for a shipped
    model that has one (None for any other model), None or ``"none"`` gives None, anything else is taken as a
    path."""
    from meteorfast.errors import InputError

    if verifier is None or (isinstance(verifier, str) and verifier == "none"):
        return None
    if not (isinstance(verifier, str) and verifier == "auto"):
        return Path(verifier)
    for name, path in SHIPPED_MODELS.items():
        if name in SHIPPED_VERIFIERS and model.resolve() == path.resolve():
            shipped = SHIPPED_VERIFIERS[name]
            if not shipped.is_file():
                raise InputError(
                    f"verifier: expected the verifier shipped for the {name} model at {shipped}, which this install "
                    "lacks; reinstall meteorfast, or pass verifier=None (--verifier none) to run without it"
                )
            return shipped
    return None

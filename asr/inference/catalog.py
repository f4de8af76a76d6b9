"""The models shipped inside the package, by name: ``--model an4``, ``asr models``.

A bundled model is ``asr/models/NAME.pt`` with its card ``NAME.yaml`` beside
it: what it was trained on, its language and its measured test figures (from
its recipe's RESULTS.md), which the model file itself does not hold.  A
card's ``aliases`` are former names that still select the model, so that a
command written for a model that was merged into another keeps working.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from asr.data.kaldi_fbank import FbankConfig

MODELS_DIR = Path(__file__).parents[1] / "models"
DEFAULT_NAME = "an4"


@dataclass
class BundledModel:
    """One shipped model: its name, file and card (free-form facts: description, language, test figures)."""

    name: str
    path: Path
    card: dict[str, Any] = field(default_factory=dict)

    @property
    def aliases(self) -> list[str]:
        """Other names that select this model (its card's ``aliases``)."""
        return [str(alias) for alias in self.card.get("aliases", [])]


def bundled_models(folder: Path = MODELS_DIR) -> dict[str, BundledModel]:
    """The shipped models by name, each with its card (empty where a model has none)."""
    models = {}
    for path in sorted(folder.glob("*.pt"), key=lambda path: path.stem):  # an4 before an4-robust, as names sort
        card_path = path.with_suffix(".yaml")
        card = yaml.safe_load(card_path.read_text(encoding="utf-8")) if card_path.exists() else {}
        models[path.stem] = BundledModel(path.stem, path, card or {})
    return models


def resolve_model(spec: str | Path | None, folder: Path = MODELS_DIR) -> Path:
    """The model file ``spec`` names: a bundled model's name (``an4``), or a path; None: the default model.

    A bare name that is a bundled model's wins over a file of that name in
    the working directory only when no such file exists, so a user's own
    ``an4`` file is never shadowed; anything else is taken as a path, and a
    missing one is a one-line error that lists the bundled names.
    """
    bundled = bundled_models(folder)
    names = {**{alias: model for model in bundled.values() for alias in model.aliases}, **bundled}
    if spec is None:
        spec = DEFAULT_NAME
    path = Path(spec)
    if path.exists() or str(spec) not in names:
        if not path.exists():
            raise FileNotFoundError(f"{spec}: no such model file, and not a bundled model "
                                    f"(bundled: {', '.join(bundled) or 'none'}; `asr models` lists them)")
        return path
    return names[str(spec)].path


def describe(model: BundledModel) -> dict[str, Any]:
    """What a user needs to pick a model: kind, input, vocabulary, decoding, figures, from the file and its card."""
    from asr.inference.model_file import ModelFile  # reading a .pt file needs torch; naming one does not

    spec = ModelFile.read(model.path)
    speech = isinstance(spec.features, FbankConfig)
    decoding = spec.decoding
    words = len(decoding.lexicon.splitlines()) if decoding is not None and decoding.lexicon else None
    return {
        "name": model.name,
        "kind": "speech" if speech else "handwriting",
        "input": f"audio at {spec.features.sample_rate} Hz (other rates are resampled)" if speech
        else f"text-line images, scaled to {spec.features.height} pixels high",
        "characters": len(spec.tokens) - 1,  # the output tokens, without the CTC blank
        "decoding": "greedy" if decoding is None else (
            f"{decoding.config.mode}" + (f", lexicon of {words} words" if words else "")
            + (", with its LM" if decoding.lm else "")),
        "size_mib": round(model.path.stat().st_size / 2**20, 1),
        **model.card,
    }

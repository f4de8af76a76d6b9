"""A BiLSTM-CTC speech recognizer with Kaldi-style data dirs and recipes.

    import asr
    model = asr.load_model()            # the pretrained AN4 model, or a path
    print(model.transcribe("a.wav").text)
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # Lazy, so that `import asr` (and `asr --help`) does not load torch.
    if name == "load_model":
        from asr.inference import load_model

        return load_model
    raise AttributeError(f"module 'asr' has no attribute {name!r}")

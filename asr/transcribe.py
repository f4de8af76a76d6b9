"""Transcribe audio files with a model file: audio -> fbank -> model -> text."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import torch

from asr.audio import AudioError, read_audio
from asr.decoding import DecodeConfig, make_decoder
from asr.features import fbank
from asr.package import Recognizer


@dataclass
class Transcript:
    source: str
    text: str | None  # None when the file failed
    error: str | None = None


def transcribe_files(
    recognizer: Recognizer, paths: Iterable[str | Path], config: DecodeConfig = DecodeConfig(), batch_files: int = 16
) -> Iterator[Transcript]:
    """Yield one transcript per input, in input order, batching files for the model.

    A file that cannot be read yields a Transcript with ``error`` set; the
    others are still transcribed.
    """
    paths = [str(p) for p in paths]
    decode = make_decoder(recognizer.tokenizer, config)
    for start in range(0, len(paths), batch_files):
        chunk = paths[start : start + batch_files]
        feats: dict[int, torch.Tensor] = {}
        errors: dict[int, str] = {}
        for i, path in enumerate(chunk):
            try:
                feats[i] = fbank(read_audio(path, recognizer.spec.features.sample_rate), recognizer.spec.features)
            except (AudioError, ValueError) as error:
                errors[i] = str(error)
        order = sorted(feats)
        log_probs = dict(zip(order, recognizer.log_probs([feats[i] for i in order])))
        for i, path in enumerate(chunk):
            if i in errors:
                yield Transcript(path, None, errors[i])
                continue
            hypotheses = decode(log_probs[i])
            yield Transcript(path, hypotheses[0].text if hypotheses else "")

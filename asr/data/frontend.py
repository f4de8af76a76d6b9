"""Features of one source as tensors, and the normalization before the model, for the torch stages.

Which kind a data dir or model uses, and the normalization's arithmetic, are
numpy code shared with the torch-free runtime (:mod:`asr.data.kinds`).
"""

from __future__ import annotations

from functools import lru_cache, partial

import numpy as np
import torch

from asr.data.audio import AudioError, cut_segment, read_audio, speed_perturb
from asr.data.datadir import Segment
from asr.data.features import fbank
from asr.data.images import image_features
from asr.data.kinds import FeatureConfig, normalization_arrays
from asr.data.line_images import ImageConfig, read_image


def normalization(config: FeatureConfig, cmvn: np.ndarray | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, 1/std) applied to features before the model (:func:`asr.data.kinds.normalization_arrays`)."""
    mean, inv_std = normalization_arrays(config, cmvn.numpy() if isinstance(cmvn, torch.Tensor) else cmvn)
    return torch.from_numpy(mean), torch.from_numpy(inv_std)


# Segments of one recording come one after another (utterance ids start with the
# recording's, as in Kaldi), so keeping the last recording reads each once.
# ``source`` is always a wav.scp value here, so a Kaldi pipe (``cmd |``) is allowed.
_read_recording = lru_cache(maxsize=1)(partial(read_audio, allow_pipe=True))


def utterance_samples(source: str, sample_rate: int, segment: Segment | None = None) -> np.ndarray:
    """The samples of one ``wav.scp`` entry, or of a segment of it, at ``sample_rate``.

    The feature stage and training's waveform augmentation both read
    utterances through here, so they see the same audio.
    """
    if segment is None:
        return read_audio(source, sample_rate, allow_pipe=True)
    recording = _read_recording(source, sample_rate)
    try:
        return cut_segment(recording, sample_rate, segment.start, segment.end)
    except AudioError as error:
        raise AudioError(f"{source}: {error}") from None


def compute_features(source: str, config: FeatureConfig, speed: float = 1.0, segment: Segment | None = None
                     ) -> torch.Tensor:
    """(T, D) features of one ``images.scp`` entry, or of one ``wav.scp`` entry or a segment of it, at a speed."""
    if isinstance(config, ImageConfig):
        return image_features(read_image(source), config)
    return fbank(speed_perturb(utterance_samples(source, config.sample_rate, segment), speed), config)

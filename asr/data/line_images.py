"""Line images of handwritten text as frame sequences, in numpy (no torch).

A line image becomes a (W, H) matrix, one frame per pixel column, so the rest
of the pipeline (ark/scp storage, batching, the model, the decoders) treats it
like a spectrogram.  Grey levels are inverted and stretched so that paper is 0
and the darkest ink 1: zero padding then looks like paper, the training
distortions (:mod:`asr.data.images`) can fill uncovered areas with zeros, and
no CMVN is needed.  The torch feature stage and the torch-free runtime
(:mod:`asr.runtime`) both read lines through here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")


class ImageError(ValueError):
    """An image that cannot be used: unreadable, empty or blank."""


@dataclass
class ImageConfig:
    """How a line image becomes frames; stored beside the features as image.yaml."""

    height: int = 32  # lines are scaled to this height, keeping their aspect ratio
    contrast: bool = True  # stretch grey levels: median (paper) -> 0, darkest ink -> 1
    deslant: bool = False  # shear slanted writing upright (costs ~25 resamplings per line)

    def __post_init__(self) -> None:
        if self.height < 8:
            raise ValueError(f"image height must be at least 8 pixels, got {self.height}")

    @property
    def dim(self) -> int:
        return self.height


def read_image(path: str | Path) -> np.ndarray:
    """Grey levels (H, W) in [0, 1], 1 being white, of any image Pillow reads."""
    try:
        with Image.open(path) as image:
            if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
                # Ink on a transparent background: put it on white paper first.
                image = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image.convert("RGBA"))
            grey = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    except (OSError, UnidentifiedImageError, ValueError) as error:
        raise ImageError(f"{path}: unreadable image ({error})") from None
    if grey.size == 0 or min(grey.shape) < 2:
        raise ImageError(f"{path}: empty image ({grey.shape[1]}x{grey.shape[0]} pixels)")
    return grey


def _shear(ink: np.ndarray, slope: float) -> np.ndarray:
    """Shift each row horizontally by ``slope`` times its height above the bottom row."""
    height, width = ink.shape
    margin = int(np.ceil(abs(slope) * height))
    image = Image.fromarray(ink, mode="F")
    # PIL's affine maps output (x, y) to input (a x + b y + c, d x + e y + f).
    offset = -margin if slope > 0 else 0
    sheared = image.transform((width + margin, height), Image.Transform.AFFINE,
                              (1, slope, offset, 0, 1, 0), resample=Image.Resampling.BILINEAR, fillcolor=0)
    return np.asarray(sheared, dtype=np.float32)


def upright_slope(ink: np.ndarray, max_slope: float = 1.0, steps: int = 25) -> float:
    """The shear that makes the vertical strokes of handwriting most upright.

    Upright strokes pile their ink into few columns, so the sum of squared
    column sums is largest at the right shear (the projection criterion of
    Vinciarelli and Luettin's deslanting).
    """
    slopes = np.linspace(-max_slope, max_slope, steps)
    scores = [float((_shear(ink, s).sum(axis=0) ** 2).sum()) for s in slopes]
    return float(slopes[int(np.argmax(scores))])


def deslant(ink: np.ndarray) -> np.ndarray:
    """Undo the slant of handwriting (see :func:`upright_slope`)."""
    return _shear(ink, upright_slope(ink))


def image_frames(grey: np.ndarray, config: ImageConfig) -> np.ndarray:
    """(W', height) float32 frames of a grey (H, W) line image: ink 1, paper 0."""
    ink = 1.0 - grey
    if config.contrast:
        paper, darkest = float(np.median(ink)), float(ink.max())
        if darkest - paper < 1e-3:
            raise ImageError("blank image (no ink)")
        ink = np.clip((ink - paper) / (darkest - paper), 0.0, 1.0)
    if config.deslant:
        ink = deslant(ink)
    height, width = ink.shape
    new_width = max(1, round(width * config.height / height))
    resized = Image.fromarray(ink.astype(np.float32), mode="F").resize(
        (new_width, config.height), Image.Resampling.BILINEAR)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0).T.copy()

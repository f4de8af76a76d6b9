"""Images of handwritten text lines as frame sequences, and their augmentation.

A line image becomes a (W, H) matrix, one frame per pixel column, so the rest
of the pipeline (ark/scp storage, batching, the model, the decoders) treats it
like a spectrogram.  Grey levels are inverted and stretched so that paper is 0
and the darkest ink 1: zero padding then looks like paper, the distortions
below can fill uncovered areas with zeros, and no CMVN is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
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


def image_features(grey: np.ndarray, config: ImageConfig) -> torch.Tensor:
    """(W', height) frames of a grey (H, W) line image: ink 1, paper 0."""
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
    return torch.from_numpy(np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0).T.copy())


@dataclass
class ImageAugmentConfig:
    """Random distortions of line images during training (per line, fresh each epoch).

    Horizontal scaling only shrinks: a line stretched about its centre would
    lose its first and last letters outside its own width.
    """

    probability: float = 0.5  # chance that a line gets the geometric distortions
    shear: float = 0.3  # max horizontal shift per unit of height
    scale: float = 0.12  # max relative change of height (and max shrink of width)
    translate: float = 0.05  # max vertical shift, as a fraction of the height
    elastic: float = 1.5  # std of the smooth random displacement, in pixels
    elastic_spacing: int = 12  # pixels between the displacement field's control points
    morphology: float = 0.3  # chance of a dilation or an erosion (one each half the time)
    noise: float = 0.03  # std of Gaussian pixel noise

    def __post_init__(self) -> None:
        if (not 0 <= self.probability <= 1 or not 0 <= self.morphology <= 1 or self.elastic_spacing < 1
                or not 0 <= self.scale < 1 or min(self.shear, self.translate, self.elastic, self.noise) < 0):
            raise ValueError(f"invalid image augmentation config: {self}")


def _uniform(n: int, low: float, high: float) -> torch.Tensor:
    return torch.rand(n) * (high - low) + low


def augment_images(feats: torch.Tensor, lengths: torch.Tensor, config: ImageAugmentConfig) -> torch.Tensor:
    """Distort a padded (B, T, H) batch of line images; padding stays 0.

    Each line is sheared, scaled and shifted about its own centre, then
    displaced by a smooth random field (elastic distortion), sampled with one
    ``grid_sample`` call; then dilated or eroded and given pixel noise.
    Uses the global torch RNG, so a seeded run is reproducible.
    """
    batch, frames, height = feats.shape
    images = feats.transpose(1, 2).unsqueeze(1)  # (B, 1, H, T)
    valid = (torch.arange(frames).unsqueeze(0) < lengths.unsqueeze(1)).to(feats.dtype)  # (B, T)
    apply = (torch.rand(batch) < config.probability).to(feats.dtype)
    shear = _uniform(batch, -config.shear, config.shear) * apply
    scale_y = 1 + _uniform(batch, -config.scale, config.scale) * apply
    scale_x = 1 - _uniform(batch, 0, config.scale) * apply
    shift_y = _uniform(batch, -config.translate, config.translate) * height * apply
    centre_x = (lengths.to(feats.dtype) - 1) / 2
    centre_y = (height - 1) / 2
    y = torch.arange(height, dtype=feats.dtype).view(1, height, 1)
    x = torch.arange(frames, dtype=feats.dtype).view(1, 1, frames)
    v = (y - centre_y).expand(batch, height, frames)
    u = x - centre_x.view(batch, 1, 1)
    # Output pixel (u, v) about the centre reads the input at this position.
    src_x = u / scale_x.view(batch, 1, 1) + shear.view(batch, 1, 1) * v + centre_x.view(batch, 1, 1)
    src_y = (v - shift_y.view(batch, 1, 1)) / scale_y.view(batch, 1, 1) + centre_y
    if config.elastic > 0:
        coarse = (height // config.elastic_spacing + 2, frames // config.elastic_spacing + 2)
        field = torch.randn(batch, 2, *coarse) * config.elastic * apply.view(batch, 1, 1, 1)
        field = F.interpolate(field, size=(height, frames), mode="bicubic", align_corners=True)
        src_x, src_y = src_x + field[:, 0], src_y + field[:, 1]
    grid = torch.stack([2 * src_x / max(1, frames - 1) - 1, 2 * src_y / max(1, height - 1) - 1], dim=3)
    out = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    morph = torch.rand(batch)
    dilate = (morph < config.morphology / 2).view(batch, 1, 1, 1)
    erode = ((morph >= config.morphology / 2) & (morph < config.morphology)).view(batch, 1, 1, 1)
    if dilate.any() or erode.any():
        padded = F.pad(out, (0, 1, 0, 1))
        out = torch.where(dilate, F.max_pool2d(padded, 2, stride=1), out)
        out = torch.where(erode, -F.max_pool2d(-F.pad(out, (0, 1, 0, 1), value=1.0), 2, stride=1), out)
    if config.noise > 0:
        out = out + torch.randn_like(out) * config.noise
    out = out.clamp(0, 1) * valid.view(batch, 1, 1, frames)
    return out.squeeze(1).transpose(1, 2).contiguous()

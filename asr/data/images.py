"""Line images as feature tensors, and their augmentation in training.

Reading a line and turning it into frames is numpy code
(:mod:`asr.data.line_images`, shared with the torch-free runtime).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from asr.data.line_images import ImageConfig, image_frames


def image_features(grey: np.ndarray, config: ImageConfig) -> torch.Tensor:
    """(W', height) frames of a grey (H, W) line image, as a tensor (:func:`asr.data.line_images.image_frames`)."""
    return torch.from_numpy(image_frames(grey, config))


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

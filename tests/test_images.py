"""Line images as frames, on real handwritten lines from copiste-lines."""

import pytest
import torch
from PIL import Image

from asr.data.images import ImageAugmentConfig, augment_images, image_features
from asr.data.line_images import ImageConfig, ImageError, read_image

LINE = "lines/imp_wikitexte_0022_001.png"  # "La Fédération du Laos de football est une association"


def test_real_line_becomes_columns_of_ink(copiste_root):
    grey = read_image(copiste_root / LINE)
    assert grey.shape[0] == 64 and grey.shape[1] > 500 and grey.max() == 1.0  # white paper
    feats = image_features(grey, ImageConfig(height=32))
    assert feats.shape == (round(grey.shape[1] / 2), 32) and feats.dtype == torch.float32
    assert feats.min() == 0 and feats.max() > 0.9  # paper 0, ink near 1
    assert 0.02 < feats.mean() < 0.3  # mostly paper
    # Ink sits in the columns where the writing is: the first word starts near the left edge.
    assert feats[:40].sum() > 0


def test_contrast_stretch_is_independent_of_the_grey_levels(copiste_root):
    grey = read_image(copiste_root / LINE)
    faded = 0.5 + 0.4 * grey  # pale ink on grey paper
    torch.testing.assert_close(image_features(faded, ImageConfig()), image_features(grey, ImageConfig()),
                               atol=0.02, rtol=0)


def test_deslant_finds_the_shear_that_was_added(copiste_root):
    from asr.data.line_images import _shear, upright_slope

    ink = 1 - read_image(copiste_root / LINE)
    own = upright_slope(ink)  # the writer's own slant
    assert upright_slope(_shear(ink, 0.5)) == pytest.approx(own - 0.5, abs=0.1)
    assert upright_slope(_shear(ink, -0.4)) == pytest.approx(own + 0.4, abs=0.1)
    assert image_features(read_image(copiste_root / LINE), ImageConfig(deslant=True)).shape[1] == 32


def test_ink_on_a_transparent_background_is_read_on_white(tmp_path):
    image = Image.new("LA", (200, 40), (0, 0))  # black, fully transparent
    image.paste((0, 255), (20, 10, 180, 30))  # opaque black ink
    image.save(tmp_path / "alpha.png")
    grey = read_image(tmp_path / "alpha.png")
    assert grey[0, 0] == 1.0 and grey[20, 100] == 0.0


def test_bad_images_are_named(tmp_path):
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ImageError, match="broken.png: unreadable image"):
        read_image(tmp_path / "broken.png")
    Image.new("L", (1, 64), 255).save(tmp_path / "thin.png")
    with pytest.raises(ImageError, match="thin.png: empty image"):
        read_image(tmp_path / "thin.png")
    Image.new("L", (300, 64), 255).save(tmp_path / "blank.png")
    with pytest.raises(ImageError, match="blank image"):
        image_features(read_image(tmp_path / "blank.png"), ImageConfig())
    with pytest.raises(ValueError, match="at least 8"):
        ImageConfig(height=4)
    with pytest.raises(ValueError, match="augmentation"):
        ImageAugmentConfig(scale=1.0)


def test_augmentation_distorts_within_each_line_and_keeps_padding_paper(copiste_root):
    lines = sorted((copiste_root / "lines").glob("wikitexte_0014_2_00*.png"))[:3]
    feats = [image_features(read_image(p), ImageConfig()) for p in lines]
    lengths = torch.tensor([f.shape[0] for f in feats])
    batch = torch.nn.utils.rnn.pad_sequence(feats, batch_first=True)
    torch.manual_seed(0)
    out = augment_images(batch, lengths, ImageAugmentConfig(probability=1.0, morphology=1.0))
    assert out.shape == batch.shape and 0 <= out.min() and out.max() <= 1
    for b, length in enumerate(lengths):
        assert out[b, length:].abs().sum() == 0  # padding stays paper
        assert not torch.allclose(out[b, :length], batch[b, :length])  # the line itself changed
        # A distortion, not a different picture: the amount of ink stays comparable.
        assert 0.5 < out[b, :length].sum() / batch[b, :length].sum() < 2.0
    torch.manual_seed(0)
    again = augment_images(batch, lengths, ImageAugmentConfig(probability=1.0, morphology=1.0))
    torch.testing.assert_close(out, again)  # seeded: reproducible


def test_augmentation_with_everything_off_is_the_identity(copiste_root):
    feats = image_features(read_image(copiste_root / LINE), ImageConfig()).unsqueeze(0)
    off = ImageAugmentConfig(probability=0.0, elastic=0.0, morphology=0.0, noise=0.0)
    out = augment_images(feats, torch.tensor([feats.shape[1]]), off)
    torch.testing.assert_close(out, feats, atol=1e-4, rtol=0)  # float error of the sampling grid only

"""YAML configs: every value is checked against its field's type, in one line naming the file and key."""

import re
from pathlib import Path

import pytest

from asr.config import from_dict, load_config, to_dict
from asr.data.line_images import ImageConfig
from asr.decode.search import DecodeConfig
from asr.train.loop import TrainConfig

RECIPES = Path(__file__).resolve().parents[1] / "recipes"


@pytest.mark.parametrize("cls, text, message", [
    (TrainConfig, "epochs: two", "epochs: expected int, got 'two'"),
    (TrainConfig, "epochs: true", "epochs: expected int, got True"),  # bool is an int to Python, not to us
    (TrainConfig, 'lr: "0.001"', "lr: expected float, got '0.001' (a string: write numbers unquoted"),
    (TrainConfig, "lr: 1e-3", "lr: expected float, got '1e-3' (a string"),  # YAML 1.1 wants 1.0e-3
    (TrainConfig, "amp: null", "amp: expected str, got None"),
    (TrainConfig, "use_spec_augment: 1", "use_spec_augment: expected bool, got 1"),
    (TrainConfig, "model: {hidden: 1.5}", "model.hidden: expected int, got 1.5"),
    (TrainConfig, "model: {conv_channels: [4], conv_pool: [[2, x]]}",
     "model.conv_pool: expected tuple[tuple[int, int], ...], got [[2, 'x']]"),
    (TrainConfig, "model: {hiden: 3}", "unknown key 'model.hiden'"),
    (TrainConfig, "epochs: 0", "epochs must be at least 1, got 0"),
    (TrainConfig, "model: {rnn: rnnt}", "model: rnn must be 'lstm' or 'gru', got 'rnnt'"),
    (DecodeConfig, "lexicon: 3", "lexicon: expected str | None, got 3"),
    (DecodeConfig, "beam: {beam_size_token: many}", "beam.beam_size_token: expected int | None, got 'many'"),
])
def test_wrong_values_name_the_file_key_and_expected_type(tmp_path, cls, text, message):
    path = tmp_path / "conf.yaml"
    path.write_text(text + "\n")
    with pytest.raises(ValueError, match=f"^{re.escape(f'{path}: {message}')}"):
        load_config(cls, path)


def test_ints_stand_for_floats_lists_for_tuples_and_null_for_optional(tmp_path):
    path = tmp_path / "conf.yaml"
    path.write_text("lr: 1\nmodel: {stack: 1, conv_channels: [4, 8], conv_pool: [[2, 3], [2, 1]]}\n")
    config = load_config(TrainConfig, path)
    assert config.lr == 1.0 and isinstance(config.lr, float)
    assert config.model.conv_pool == ((2, 3), (2, 1))
    decode = from_dict(DecodeConfig, {"mode": "beam", "lexicon": None, "beam": {"beam_size_token": None,
                                                                                "unk_score": float("-inf")}})
    assert decode.beam.beam_size_token is None
    for config in (config, decode):  # what checkpoints and model files store comes back the same
        assert from_dict(type(config), to_dict(config)) == config


@pytest.mark.parametrize("path", sorted(RECIPES.glob("*/conf/*.yaml")), ids=lambda p: f"{p.parts[-3]}/{p.name}")
def test_the_recipes_configs_load(path):
    """train*.yaml go to `asr train --config`, image.yaml to `asr features --config` of an image data dir."""
    load_config(ImageConfig if path.name == "image.yaml" else TrainConfig, path)

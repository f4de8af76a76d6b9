"""`asr export --onnx`: the graph is checked, uses ONNX's RNN ops and matches the torch network on real inputs."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from asr.cli import main
from asr.data.audio import read_audio
from asr.data.features import fbank
from asr.data.frontend import normalization
from asr.data.images import image_features
from asr.data.kaldi_fbank import FbankConfig
from asr.data.line_images import ImageConfig, read_image
from asr.data.text import BLANK, WORD_BOUNDARY
from asr.inference import DEFAULT_MODEL, ModelFile
from asr.model import AcousticModel, ModelConfig
from asr.runtime import export_onnx, read_bundle

torch.set_num_threads(1)

TOLERANCE = 1e-4  # on log-probs, torch float32 against onnxruntime


@pytest.fixture(scope="module")
def an4_export(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("onnx") / "an4.onnx"
    assert main(["export", "--model", str(DEFAULT_MODEL), "--out", str(out), "--onnx"]) == 0
    return out


def torch_log_probs(contents: ModelFile, feats: list[torch.Tensor]) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """The float32 torch network's log-probs of a padded batch of normalized ``feats``; also the batch."""
    network = AcousticModel(contents.model)
    network.load_state_dict({name: tensor.float() for name, tensor in contents.weights.items()})
    mean, inv_std = normalization(contents.features, contents.cmvn)
    normalized = [(f - mean) * inv_std for f in feats]
    batch = torch.nn.utils.rnn.pad_sequence(normalized, batch_first=True)
    lengths = torch.tensor([len(f) for f in normalized])
    with torch.no_grad():
        out, out_lengths = network.eval()(batch, lengths)
    return [out[b, :n].numpy() for b, n in enumerate(out_lengths.tolist())], batch.numpy(), lengths.numpy()


def onnx_log_probs(path: Path, batch: np.ndarray, lengths: np.ndarray) -> list[np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out, out_lengths = session.run(["log_probs", "output_lengths"], {"features": batch, "lengths": lengths})
    return [out[b, :n] for b, n in enumerate(out_lengths.tolist())]


def assert_parity(path: Path, contents: ModelFile, feats: list[torch.Tensor]) -> None:
    expected, batch, lengths = torch_log_probs(contents, feats)
    got = onnx_log_probs(path, batch, lengths)
    assert [len(g) for g in got] == [len(e) for e in expected]
    worst = max(float(np.abs(g - e).max()) for g, e in zip(got, expected))
    assert worst < TOLERANCE, worst


def test_an4_model_exports_with_onnx_rnn_ops_and_matches_torch_on_real_audio(an4_export, an4_root):
    model = onnx.load(an4_export)
    onnx.checker.check_model(model, full_check=True)
    ops = Counter(node.op_type for node in model.graph.node)
    contents = ModelFile.read(DEFAULT_MODEL)
    assert ops["LSTM"] == contents.model.layers  # one fused bidirectional op per layer, no gathers around it
    assert all(a.s == b"bidirectional" for n in model.graph.node if n.op_type == "LSTM" for a in n.attribute
               if a.name == "direction")
    wavs = sorted((an4_root / "wav" / "an4test_clstk").glob("*/*.wav"))[:12]  # lengths differ: a padded batch
    assert_parity(an4_export, contents, [fbank(read_audio(w), contents.features) for w in wavs])


def test_an4_export_carries_tokens_features_cmvn_and_decoding(an4_export):
    contents = ModelFile.read(DEFAULT_MODEL)
    bundle = read_bundle(an4_export)
    assert bundle.tokens == contents.tokens and bundle.features == contents.features
    assert np.array_equal(bundle.cmvn, contents.cmvn.numpy())
    assert bundle.subsampling == contents.model.subsampling
    carried = contents.decoding
    assert bundle.decoding.beam == carried.config.beam and bundle.decoding.mode == "beam"
    assert Path(bundle.decoding.lexicon).read_text(encoding="utf-8") == carried.lexicon
    assert Path(bundle.decoding.lm).read_text(encoding="utf-8") == carried.lm
    record = json.loads(an4_export.with_suffix(".json").read_text(encoding="utf-8"))
    assert record["decoding"]["lexicon"] is True and record["decoding"]["lm"] is True  # an4.lexicon, an4.arpa


def random_weights(config: ModelConfig, seed: int = 0) -> dict[str, torch.Tensor]:
    """An untrained model's weights, batch-norm statistics included (so that the graph's use of them is seen)."""
    torch.manual_seed(seed)
    weights = AcousticModel(config).state_dict()
    for name, tensor in weights.items():
        if name.endswith(("running_mean", "bias")) and tensor.is_floating_point():
            weights[name] = torch.randn_like(tensor) * 0.1
        elif name.endswith(("running_var", "1.weight")):
            weights[name] = torch.rand_like(tensor) + 0.5
    return weights


@pytest.fixture(scope="module")
def handwriting_model(copiste_root) -> tuple[ModelFile, list[torch.Tensor]]:
    """A tiny untrained handwriting model (conv front end, BiLSTM) and the frames of 6 real copiste lines."""
    lines = sorted((copiste_root / "lines").glob("*.png"))[:6]
    texts = [row.split("\t")[3] for row in (copiste_root / "lines.tsv").read_text(encoding="utf-8").splitlines()[1:]]
    tokens = (BLANK, WORD_BOUNDARY, *sorted({c for t in texts for c in t if not c.isspace()}))
    config = ModelConfig(input_dim=ImageConfig().dim, num_tokens=len(tokens), stack=1, hidden=24, layers=2,
                         conv_channels=(8, 16), conv_pool=((2, 2), (2, 1)))
    contents = ModelFile(config, tokens, ImageConfig(), torch.zeros(2, ImageConfig().dim + 1), random_weights(config))
    return contents, [image_features(read_image(line), contents.features) for line in lines]


def test_handwriting_model_exports_and_matches_torch_on_real_lines(handwriting_model, tmp_path):
    contents, feats = handwriting_model
    exported = export_onnx(contents, tmp_path / "lines.onnx")
    assert exported.max_difference < TOLERANCE and exported.decoding == "greedy"
    assert_parity(tmp_path / "lines.onnx", contents, feats)
    assert read_bundle(tmp_path / "lines.onnx").features == ImageConfig()


@pytest.mark.parametrize("shape", [
    {"rnn": "gru", "stack": 3, "layers": 2},
    {"stack": 2, "layers": 3, "inter_ctc_layers": (1, 2), "self_condition": True},
    {"stack": 1, "layers": 1, "utterance_mean": True, "conv_channels": (4,), "conv_pool": ((2, 3),)},
])
def test_other_model_shapes_match_torch_on_real_audio(shape, an4_wavs, tmp_path):
    """Frame stacking, GRU layers, self-conditioned intermediate CTC and the utterance mean take their own paths
    through the graph."""
    features = FbankConfig()
    config = ModelConfig(input_dim=features.dim, num_tokens=28, hidden=32, **shape)
    feats = [fbank(read_audio(w), features) for w in an4_wavs]
    stats = np.stack([torch.cat(feats).sum(0).tolist() + [sum(map(len, feats))],
                      torch.cat(feats).square().sum(0).tolist() + [0.0]])
    contents = ModelFile(config, (BLANK, WORD_BOUNDARY, *"ABCDEFGHIJKLMNOPQRSTUVWXYZ"), features,
                         torch.from_numpy(stats), random_weights(config))
    export_onnx(contents, tmp_path / "model.onnx")
    assert_parity(tmp_path / "model.onnx", contents, feats)


def test_export_errors_are_one_line(tmp_path, capsys):
    projection = ModelConfig(input_dim=80, num_tokens=4, hidden=16, projection=8, layers=1)
    contents = ModelFile(projection, (BLANK, WORD_BOUNDARY, "a", "b"), FbankConfig(), torch.zeros(2, 81),
                         AcousticModel(projection).state_dict())
    with pytest.raises(ValueError, match="^an LSTM with projection \\(8\\) has no ONNX op"):
        export_onnx(contents, tmp_path / "p.onnx")
    for argv, message in ((["--out", str(tmp_path / "m.pt"), "--onnx"], "m.pt: an ONNX export is named NAME.onnx"),
                          (["--out", str(tmp_path / "m.pt"), "--quantize"], "--quantize is for --onnx exports"),
                          (["--out", str(tmp_path / "no" / "m.onnx"), "--onnx"], "cannot write it, no folder")):
        assert main(["export", "--model", str(DEFAULT_MODEL), *argv]) != 0
        error = capsys.readouterr().err.strip()
        assert message in error and "\n" not in error


def test_an_export_never_replaces_files_it_did_not_write(tmp_path, capsys):
    """A user's own m.arpa (or m.json, m.onnx) beside --out is left alone, in one line; an earlier export is replaced."""
    own = tmp_path / "m.arpa"
    own.write_text("my own LM\n")
    assert main(["export", "--model", str(DEFAULT_MODEL), "--out", str(tmp_path / "m.onnx"), "--onnx"]) == 1
    error = capsys.readouterr().err.strip()
    assert "m.arpa: exists and is not part of an earlier 'asr export --onnx'" in error and "\n" not in error
    assert own.read_text() == "my own LM\n" and not (tmp_path / "m.onnx").exists()
    own.unlink()
    for _ in range(2):  # the second export replaces the first's four files
        assert main(["export", "--model", str(DEFAULT_MODEL), "--out", str(tmp_path / "m.onnx"), "--onnx"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.arpa", "m.json", "m.lexicon", "m.onnx"]

"""``asr export --onnx``: a model file as ONNX and the files the torch-free runtime reads beside it.

It starts from a model file's contents as its one reader gives them
(:class:`asr.inference.ModelFile`, with the decoding to carry).  The graph
is built from the config and weights (:mod:`.graph`), checked by
``onnx.checker``, optionally quantized, and run once by onnxruntime against
the torch network on the same random batch, so that every export reports
how closely it matches.  Needs torch and onnx (the exporting side); the
runtime needs neither.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch

from asr.inference.model_file import ModelFile
from asr.model import AcousticModel
from asr.runtime.bundle import INPUTS, OUTPUTS, check_replaceable, write_bundle
from asr.runtime.graph import build_graph

# The random batch the export is checked on: lengths of its utterances, in input frames.
CHECK_LENGTHS = (400, 257, 96)


@dataclass(frozen=True)
class Exported:
    """What an export wrote, and how far onnxruntime's log-probs are from torch's on the check batch."""

    files: list[Path]
    max_difference: float
    decoding: str  # the carried search: greedy or beam


def quantize(source: Path, target: Path) -> None:
    """Dynamic int8 quantization of the RNN and output weights (activations stay float, quantized per batch).

    onnxruntime runs the LSTMs as ``DynamicQuantizeLSTM`` and the output
    layer as an integer matrix product; the conv front end stays float.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()  # the quantizer logs advice for static quantization at INFO and WARNING: not ours
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(source, target, op_types_to_quantize=["LSTM", "GRU", "MatMul"], weight_type=QuantType.QInt8)
    finally:
        root.setLevel(level)


def check_difference(network: AcousticModel, onnx_path: Path, input_dim: int) -> float:
    """Largest absolute difference between torch's and onnxruntime's log-probs on one random padded batch."""
    import onnxruntime as ort

    generator = torch.Generator().manual_seed(0)
    lengths = torch.tensor(CHECK_LENGTHS)
    feats = torch.randn(len(CHECK_LENGTHS), max(CHECK_LENGTHS), input_dim, generator=generator)
    with torch.no_grad():
        expected, expected_lengths = network(feats, lengths)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got, got_lengths = session.run(list(OUTPUTS), dict(zip(INPUTS, (feats.numpy(), lengths.numpy()))))
    if got_lengths.tolist() != expected_lengths.tolist():
        raise ValueError(f"{onnx_path}: output lengths {got_lengths.tolist()} differ from torch's "
                         f"{expected_lengths.tolist()}")
    return max(float(np.abs(got[b, :n] - expected[b, :n].numpy()).max()) for b, n in enumerate(got_lengths))


def export_onnx(contents: ModelFile, out: str | Path, quantized: bool = False, source: str = "") -> Exported:
    """Write ``out`` (NAME.onnx) and its JSON, lexicon and LM (:mod:`.bundle`) for a model file's ``contents``.

    ``source`` names the model file in the JSON's ``info``.
    """
    out = Path(out)
    if out.suffix != ".onnx":
        raise ValueError(f"{out}: an ONNX export is named NAME.onnx (its JSON, lexicon and LM go beside it)")
    if not out.parent.is_dir():
        raise FileNotFoundError(f"{out}: cannot write it, no folder {out.parent}")
    check_replaceable(out)
    weights = {name: tensor.float() for name, tensor in contents.weights.items()}
    graph = build_graph(contents.model, {name: tensor.numpy() for name, tensor in weights.items()})
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as folder:
        built = Path(folder) / "model.onnx"
        onnx.save(graph, built)
        if quantized:
            quantize(built, Path(folder) / "quantized.onnx")
            built = Path(folder) / "quantized.onnx"
            onnx.checker.check_model(str(built))
        network = AcousticModel(contents.model)
        network.load_state_dict(weights)
        difference = check_difference(network.eval(), built, contents.model.input_dim)
        os.replace(built, out)
    carried = contents.decoding
    files = [out, *write_bundle(
        out, contents.tokens, contents.features, contents.cmvn.numpy(), contents.model.subsampling,
        carried.config if carried else None, carried.lexicon if carried else None, carried.lm if carried else None,
        {"exported_from": source, "quantized": quantized},
    )]
    return Exported(files, difference, carried.config.mode if carried else "greedy")

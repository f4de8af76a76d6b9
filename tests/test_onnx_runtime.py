"""The torch-free runtime: kaldi-native-fbank, onnxruntime and the shared decoding give the torch model's results."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
import torchaudio

import asr
from asr.cli import main
from asr.data.audio import read_audio
from asr.data.features import fbank
from asr.data.kaldi_fbank import FbankConfig, native_fbank
from asr.decode import DecodeConfig
from asr.inference import DEFAULT_MODEL, Recognizer
from asr.runtime import export_onnx, load_onnx_model, read_bundle
from test_onnx_export import an4_export, handwriting_model  # noqa: F401 (fixtures)

torch.set_num_threads(1)

# Transcribes the files named on its command line with the export named first, greedy and with the carried
# decoding, in a process where `import torch` fails; prints one JSON record per file and decoding.
TORCH_FREE = """
import json, sys
sys.modules["torch"] = None
from asr.decode import DecodeConfig
from asr.inference.output import render
from asr.runtime import load_onnx_model
model = load_onnx_model(sys.argv[1], threads=1)
for name, config in (("carried", model.config), ("greedy", DecodeConfig())):
    model.configure(config)
    for result in model.transcribe_files(sys.argv[2:]):
        record = json.loads(render("json", result))
        print(json.dumps({"decoding": name, "record": record, "srt": render("srt", result)}))
loaded = sorted(m for m, module in sys.modules.items() if m.split(".")[0] in ("torch", "torchaudio") and module)
print(json.dumps({"torch modules": loaded}))
"""


@pytest.fixture(scope="module")
def test_wavs(an4_root) -> list[Path]:
    return sorted((an4_root / "wav" / "an4test_clstk").glob("*/*.wav"))[:8]


def test_kaldi_native_fbank_matches_torchaudio_on_all_an4_test_audio(an4_root):
    """Within 1e-3 of our torchaudio fbank but for a few of its 2.8 million values, which are rounding.

    No setting differs.  Both compute in float32, always in the lowest mel
    bins of the quietest frames, where a float32 FFT's rounding is a large
    part of the energy; torchaudio's rounding there depends on the CPU. On
    AN4 test kaldi-native-fbank is within 1.0e-3 of torchaudio's float64
    result, and torchaudio's float32 result up to 1.9e-3 from it on an AMD
    EPYC (5 values over 1e-3 between the two, at most 2.1e-3, in mel bins 1,
    2 and 7) and up to 4.0e-3 on an Intel Xeon with AMX (2 values, at most
    4.1e-3, in bins 1 and 7).  A setting that differed would move far more
    values, and the native result away from float64.
    """
    wavs = sorted((an4_root / "wav" / "an4test_clstk").glob("*/*.wav"))
    assert len(wavs) == 130
    config = FbankConfig()
    worst, over, low_bins, from_float64 = 0.0, 0, set(), 0.0
    for wav in wavs:
        samples = read_audio(wav, config.sample_rate)
        got = native_fbank(samples, config)
        difference = np.abs(got - fbank(samples, config).numpy())
        assert got.dtype == np.float32
        worst, over = max(worst, float(difference.max())), over + int((difference > 1e-3).sum())
        low_bins |= set(np.nonzero(difference > 1e-3)[1].tolist())
        if difference.max() > 1e-3:  # rounding, not a setting: both are as close to the float64 result
            exact = torchaudio.compliance.kaldi.fbank(torch.from_numpy(samples.astype(np.float64)).unsqueeze(0)
                                                      * 32768, num_mel_bins=config.num_mel_bins, dither=0.0,
                                                      energy_floor=0.0)
            from_float64 = max(from_float64, float(np.abs(got - exact.numpy()).max()))
    assert worst < 1e-2 and over <= 10 and max(low_bins) < 10 and from_float64 < 1.5e-3, (worst, over, low_bins)


def test_runtime_transcribes_an4_without_torch_as_the_torch_model_does(an4_export, test_wavs):
    run = subprocess.run([sys.executable, "-c", TORCH_FREE, str(an4_export), *map(str, test_wavs)],
                         capture_output=True, text=True, check=True)
    *lines, last = [json.loads(line) for line in run.stdout.splitlines()]
    assert last == {"torch modules": []}
    torch_model = asr.load_model(device="cpu")
    for name in ("carried", "greedy"):
        torch_model.configure(torch_model.config if name == "carried" else DecodeConfig())
        expected = torch_model.transcribe(test_wavs)
        got = [line for line in lines if line["decoding"] == name]
        assert [g["record"]["text"] for g in got] == [e.text for e in expected]
        for g, e in zip(got, expected):
            words = [w for segment in g["record"]["segments"] for w in segment["words"]]
            assert [w["word"] for w in words] == [w.word for w in e.words]
            # One 30 ms frame at most: fbank and the network's arithmetic differ a little (bfloat16 in torch here).
            assert all(abs(w["start"] - t.start) <= 0.031 and abs(w["end"] - t.end) <= 0.031
                       for w, t in zip(words, e.words))
            assert g["srt"].startswith("1\n00:00:0") and e.text.split()[0] in g["srt"]


def test_quantized_export_is_smaller_and_transcribes_as_the_float_one(an4_export, test_wavs, tmp_path):
    out = tmp_path / "int8.onnx"
    assert main(["export", "--model", str(DEFAULT_MODEL), "--out", str(out), "--onnx", "--quantize"]) == 0
    assert out.stat().st_size < an4_export.stat().st_size / 3
    assert read_bundle(out).info["quantized"] is True
    assert "DynamicQuantizeLSTM" in {node.op_type for node in onnx.load(out).graph.node}
    quantized, exact = (load_onnx_model(path, threads=1) for path in (out, an4_export))
    assert [r.text for r in quantized.transcribe(test_wavs)] == [r.text for r in exact.transcribe(test_wavs)]


def test_runtime_takes_arrays_and_names_bad_inputs(an4_export, test_wavs, copiste_root):
    model = load_onnx_model(an4_export, threads=1)
    from_file = model.transcribe(test_wavs[0])
    samples = read_audio(test_wavs[0], 16000)
    assert model.transcribe(np.stack([samples, samples]).astype(np.float64)).text == from_file.text  # stereo
    image = next((copiste_root / "lines").glob("*.png"))
    with pytest.raises(ValueError, match="this is a speech model; images need a handwriting model$"):
        model.transcribe(image)
    with pytest.raises(FileNotFoundError, match="no-such.wav: no such file$"):
        model.transcribe("no-such.wav")


def test_handwriting_runtime_matches_torch_on_real_lines(handwriting_model, copiste_root, tmp_path):
    contents, _ = handwriting_model
    export_onnx(contents, tmp_path / "lines.onnx")
    lines = sorted((copiste_root / "lines").glob("*.png"))[:6]
    expected = Recognizer(contents, "cpu").transcribe(lines)
    got = load_onnx_model(tmp_path / "lines.onnx", threads=1).transcribe(lines)
    assert [g.text for g in got] == [e.text for e in expected] and any(g.text for g in got)
    assert all(not g.words for g in got)  # an image has no time axis


def test_bundle_errors_name_the_file(an4_export, tmp_path):
    onnx_path = tmp_path / "alone.onnx"
    onnx_path.write_bytes(an4_export.read_bytes())
    with pytest.raises(FileNotFoundError, match="^.*alone.onnx: no alone.json beside it"):
        load_onnx_model(onnx_path)
    record = json.loads(an4_export.with_suffix(".json").read_text(encoding="utf-8"))
    for change, message in (({"format": "asr-onnx-9"}, "made by a newer version of asr"),
                            ({"format": "x"}, "not the JSON of an exported asr model"),
                            ({"cmvn": [[0.0]]}, "cmvn must be 2 x 81 Kaldi stats"),
                            ({"features": {"num_mel_bins": "many"}}, "features"),
                            ({}, "its lexicon alone.lexicon is missing beside it")):
        onnx_path.with_suffix(".json").write_text(json.dumps({**record, **change}), encoding="utf-8")
        with pytest.raises((ValueError, FileNotFoundError), match=f"alone.json.*{message}"):
            load_onnx_model(onnx_path)
    onnx_path.with_suffix(".json").write_text(json.dumps({**record, "decoding": None}), encoding="utf-8")
    onnx_path.write_bytes(b"not onnx")
    with pytest.raises(ValueError, match="^.*alone.onnx: onnxruntime cannot load it"):
        load_onnx_model(onnx_path)


def test_the_cli_transcribes_an_onnx_model_without_torch(an4_export, test_wavs):
    """`asr transcribe --model X.onnx` in a process where `import torch` fails: the core install."""
    block = "import sys; sys.modules['torch'] = None; from asr.cli import main; sys.exit(main(sys.argv[1:]))"
    run = subprocess.run([sys.executable, "-c", block, "transcribe", "--model", str(an4_export),
                          *map(str, test_wavs[:2])], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert [line.split()[0] for line in run.stdout.splitlines()] == [str(w) for w in test_wavs[:2]]

"""CTC decoding: greedy best path, and decoding a data dir into hypotheses."""

from __future__ import annotations

import time
from pathlib import Path

import kaldiio
import torch

from asr.config import load_config
from asr.datadir import validate_data_dir, write_table
from asr.features import FbankConfig
from asr.package import load_recognizer


def ctc_greedy(log_probs: torch.Tensor, lengths: torch.Tensor) -> list[list[int]]:
    """Token ids of the best path for each (B, T, V) utterance: repeats merged, blanks removed."""
    best = log_probs.argmax(dim=-1)
    results = []
    for b in range(best.shape[0]):
        path = torch.unique_consecutive(best[b, : int(lengths[b])])
        results.append([int(t) for t in path if t != 0])
    return results


def decode_data_dir(model_path: str | Path, data_dir: str | Path, out_dir: str | Path) -> int:
    """Write ``out_dir/text`` (one hypothesis per utterance); returns the count.

    The data dir's features must have been made with the model's fbank
    settings: a mismatch would decode silently into nonsense.
    """
    recognizer = load_recognizer(model_path)
    data = validate_data_dir(data_dir, need_feats=True, need_text=False)
    fbank_yaml = Path(data_dir) / "fbank.yaml"
    if fbank_yaml.exists() and load_config(FbankConfig, fbank_yaml) != recognizer.spec.features:
        raise ValueError(f"{fbank_yaml}: features differ from the model's ({recognizer.spec.features})")
    keys = sorted(data.feats)
    started = time.time()
    feats = [torch.tensor(kaldiio.load_mat(data.feats[k]), dtype=torch.float32) for k in keys]
    log_probs = recognizer.log_probs(feats)
    hyps = {}
    for key, lp in zip(keys, log_probs):
        ids = ctc_greedy(lp.unsqueeze(0), torch.tensor([lp.shape[0]]))[0]
        hyps[key] = recognizer.tokenizer.decode(ids)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_table(out / "text", hyps)
    seconds = sum(f.shape[0] for f in feats) * recognizer.spec.features.frame_shift_ms / 1000
    (out / "decode.log").write_text(
        f"model {model_path}\ndata {data_dir}\nmode greedy\nutterances {len(keys)}\n"
        f"audio_seconds {seconds:.1f}\ndecode_seconds {time.time() - started:.2f}\n", encoding="utf-8")
    return len(keys)

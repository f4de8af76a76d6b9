#!/usr/bin/env python
"""Error rates of a model on AN4 test under the recording conditions users have, one markdown table.

    nice -n 19 python tools/bench_robustness.py [--model FILE] [--set test|dev] [--conditions clean 8k ...]
        [--limit N] [--seed 0] [--out FILE] [--hyp-dir DIR]

Each condition is made from the real AN4 test audio (16 kHz, close-talking)
with asr.data.degrade, the functions training augmentation uses too:

  clean        the audio as it is
  8k           resampled to 8 kHz and given to the model at 8 kHz (it resamples back)
  telephone    8 kHz, 300-3400 Hz band, mu-law (degrade.telephone), given at 8 kHz
  trimmed      leading and trailing silence cut to 50 ms (a VAD-cut or push-to-talk clip)
  gain-25      25 dB quieter; gain+15: 15 dB louder, clipped at full scale
  white-SNR    white noise at SNR 20, 10, 5 dB over the speech frames
  babble-SNR   5 talkers from AN4 training utterances (never test) at SNR 20, 10, 5 dB
  reverb-RT60  a random shoebox room with RT60 0.3, 0.5, 0.8 s, talker 1-3 m from the mic
  padded-S     S = 0.3 or 1 s of digital silence (exact zeros) before and after: an edited clip, TTS,
               a noise-suppressed call
  quiet-1      1 s of white noise at -90 dBFS (one 16-bit step) before and after: near-digital silence
  gated        the silence beyond 100 ms of the speech replaced by white noise at -90 dBFS, as a noise
               gate or suppressor leaves it (degrade.gate)
  8k-padded-1  8k with 1 s of digital silence before and after: a telephone clip, edited
  11k, 44k     resampled to 11025 or 44100 Hz and given at that rate: the rates of other recorders
               (44k goes up and back down, so it costs what two resamplings cost)

``--set dev`` scores the recipe's dev speakers instead (held out of
training), where augmentation settings are chosen; test is for the final
figures.  Columns: WER with greedy search, WER with the lexicon and word LM the model
file carries (its own decoding; "-" if it carries none), CER with greedy
search, all scored as `asr score` does (asr.scoring).  Randomness (noise,
talkers, rooms) is drawn per utterance from --seed, the utterance id and
the condition's kind, so --limit and --conditions subsets give every
utterance the very same audio, and the levels of one kind (white-20,
white-10, white-5) share one noise draw: only the level differs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from asr.data import degrade, read_audio, validate_data_dir, write_table
from asr.data.audio import resample
from asr.data.corpora.an4 import prepare_an4
from asr.decode.search import DecodeConfig
from asr.inference import Recognizer, Transcript, load_model
from asr.scoring import score

AN4 = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "an4"
NARROW_RATE = 8000
# Condition name -> (kind, parameter): the kind picks the degradation and seeds its draws.
CONDITIONS: dict[str, tuple[str, float]] = {
    "clean": ("clean", 0.0), "8k": ("rate", NARROW_RATE), "telephone": ("telephone", 0.0), "trimmed": ("trimmed", 50.0),
    "gain-25": ("gain", -25.0), "gain+15": ("gain", 15.0),
    **{f"{kind}-{snr}": (kind, float(snr)) for kind in ("white", "babble") for snr in (20, 10, 5)},
    **{f"reverb-{rt60}": ("reverb", rt60) for rt60 in (0.3, 0.5, 0.8)},
    **{f"padded-{seconds:g}": ("padded", seconds) for seconds in (0.3, 1.0)}, "quiet-1": ("quiet", 1.0),
    "gated": ("gated", -90.0), "8k-padded-1": ("8k-padded", 1.0), "11k": ("rate", 11025), "44k": ("rate", 44100),
}


def degraded(kind: str, value: float, samples: np.ndarray, rate: int, rng: np.random.Generator,
             babble_sources: Callable[[], list[np.ndarray]]) -> tuple[np.ndarray, int]:
    """One utterance under one condition, and the rate it is given to the model at."""
    if kind == "rate":
        return resample(samples, rate, int(value)), int(value)
    if kind == "8k-padded":
        zeros = np.zeros(round(value * NARROW_RATE), dtype=np.float32)
        return np.concatenate([zeros, resample(samples, rate, NARROW_RATE), zeros]), NARROW_RATE
    if kind == "telephone":
        return degrade.telephone(samples, rate), NARROW_RATE
    if kind == "trimmed":
        return degrade.trim_silence(samples, rate, keep_ms=value), rate
    if kind == "gain":
        return degrade.gain(samples, value), rate
    if kind == "gated":
        return degrade.gate(samples, rate, rng, level_db=value, keep_ms=100.0), rate
    if kind in ("padded", "quiet"):
        before, after = (np.zeros(round(value * rate), dtype=np.float32) if kind == "padded"
                         else degrade.white_noise(round(value * rate), rng, rms_db=-90.0) for _ in range(2))
        return np.concatenate([before, samples, after]), rate
    if kind == "reverb":
        return degrade.reverberate(samples, degrade.room_impulse_response(value, rate, rng)), rate
    if kind in ("white", "babble"):
        noise = (degrade.white_noise(len(samples), rng) if kind == "white"
                 else degrade.babble(babble_sources(), len(samples), rng))
        return degrade.add_noise(samples, noise, value, rate), rate
    return samples, rate


def model_searches(model: Recognizer) -> dict[str, DecodeConfig]:
    """Greedy search, and the decoding the model file carries ("word LM": its lexicon and LM) if it is a beam."""
    searches = {"greedy": DecodeConfig()}
    if model.config.mode == "beam":
        searches["word LM"] = model.config
    return searches


def transcribe_all(model: Recognizer, inputs: list[np.ndarray], rate: int, names: list[str], label: str
                   ) -> list[Transcript]:
    """The model's transcripts of ``inputs`` (all at ``rate``), one call; failures said on stderr, not raised."""
    results = list(model.transcribe_files(inputs, sample_rate=rate, names=names))
    failed = [result.error for result in results if result.error]
    if failed:
        print(f"{label}: {len(failed)} inputs failed, scored as empty: {failed[0]}", file=sys.stderr)
    return results


def emit_table(rows: list[str], out: Path | None) -> None:
    """A markdown table on stdout, and in ``out`` too if given."""
    table = "\n".join(rows) + "\n"
    print(table, end="")
    if out:
        out.write_text(table, encoding="utf-8")


def utterance_rng(seed: int, utt: str, kind: str) -> np.random.Generator:
    """The draws of one utterance under one kind of condition: the same whatever else is benchmarked."""
    return np.random.default_rng([seed, zlib.crc32(utt.encode()), zlib.crc32(kind.encode())])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="model file (default: the pretrained AN4 model)")
    parser.add_argument("--an4-root", type=Path, default=AN4)
    parser.add_argument("--set", choices=("test", "dev"), default="test",
                        help="AN4 test, or the recipe's dev speakers (for choosing settings)")
    parser.add_argument("--conditions", nargs="+", choices=list(CONDITIONS), default=list(CONDITIONS),
                        metavar="NAME", help=f"default: all of {' '.join(CONDITIONS)}")
    parser.add_argument("--limit", type=int, help="only the first N utterances (by id)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, help="write the table here too")
    parser.add_argument("--hyp-dir", type=Path, help="write each condition's hypotheses here (Kaldi text)")
    args = parser.parse_args()
    if args.limit is not None and args.limit < 1:
        parser.error(f"--limit must be at least 1, got {args.limit}")
    torch.set_num_threads(args.threads)

    model = load_model(args.model, word_timings=False)
    rate = model.spec.features.sample_rate
    searches = model_searches(model)
    with tempfile.TemporaryDirectory() as tmp:
        prepare_an4(args.an4_root, tmp)  # the recipe's own split: test, dev, and training speakers for babble
        test = validate_data_dir(Path(tmp) / args.set)
        train_audio = list(validate_data_dir(Path(tmp) / "train").source.values())
    utts = test.utts[: args.limit]
    refs = {utt: test.text[utt] for utt in utts}
    audio = {utt: read_audio(test.source[utt], rate) for utt in utts}
    sources: list[np.ndarray] = []

    def babble_sources() -> list[np.ndarray]:
        """AN4 training utterances with their silences trimmed (so the babble has no gaps), read once."""
        if not sources:
            sources.extend(degrade.trim_silence(read_audio(path, rate), rate) for path in train_audio)
        return sources

    rows = ["| condition | WER greedy | WER word LM | CER greedy |", "|---|---:|---:|---:|"]
    print(f"{len(utts)} AN4 {args.set} utterances, seed {args.seed}, model {args.model or 'an4.pt (shipped)'}",
          file=sys.stderr)
    for name in args.conditions:
        started = time.perf_counter()
        kind, value = CONDITIONS[name]
        inputs = [degraded(kind, value, audio[utt], rate, utterance_rng(args.seed, utt, kind), babble_sources)
                  for utt in utts]
        made = time.perf_counter() - started
        hyps = {}
        for search, config in searches.items():
            model.configure(config)
            # One call per condition: its inputs share one rate (8 kHz for 8k and telephone, 44100 Hz for 44k...).
            results = transcribe_all(model, [samples for samples, _ in inputs], inputs[0][1], utts, f"{name} {search}")
            hyps[search] = {utt: result.text or "" for utt, result in zip(utts, results)}
            if args.hyp_dir:
                args.hyp_dir.mkdir(parents=True, exist_ok=True)
                write_table(args.hyp_dir / f"{name}.{search.replace(' ', '_')}.txt", hyps[search])
        rates = [score(refs, hyps["greedy"]).totals.rate,
                 score(refs, hyps["word LM"]).totals.rate if "word LM" in hyps else None,
                 score(refs, hyps["greedy"], unit="char").totals.rate]
        rows.append(f"| {name} | " + " | ".join("-" if r is None else f"{100 * r:.2f}" for r in rates) + " |")
        print(f"{rows[-1]}   ({made:.0f} s to make, {time.perf_counter() - started:.0f} s in all)", file=sys.stderr)
    emit_table(rows, args.out)


if __name__ == "__main__":
    main()

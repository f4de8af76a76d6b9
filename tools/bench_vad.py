#!/usr/bin/env python
"""Which voice activity detector cuts long recordings better: accuracy and time of `asr transcribe --vad`.

    nice -n 19 python tools/bench_vad.py [--model FILE] [--part test] [--minutes 5] [--snr 10 20 40] [--threads 1]

Long recordings are built from REAL AN4 utterances (the data dirs that
`asr prepare an4` writes: all 130 of test by default, in id order), each
after a pause of 0.5-3 s and the last one followed by one too, and split
into recordings of at least ``--minutes`` each.  The pauses hold noise at
each ``--snr`` (dB of the recording's speech level, the mean power of its
utterances with their room noise, above the noise's), in two kinds with
the same utterances and pause lengths:

- ``white``: Gaussian white noise;
- ``babble``: 4 talkers, each one of 40 AN4 training utterances (whose
  speakers are in neither test nor dev) from a random offset, summed, as
  :func:`asr.data.degrade.babble` makes it for training and
  tools/bench_robustness.py.

Each recording is transcribed as `asr transcribe` does it (the shipped model
by default, text only), with each VAD (``energy``, ``silero``) and each
decoding (greedy; the word LM the model file carries), and scored against
its utterances' references joined, with :mod:`asr.scoring` (as `asr score`).
Printed: a markdown table of WER per decoding, and the seconds and real-time
factor (seconds / audio seconds) of the word-LM pass (what `asr transcribe`
does by default; the greedy pass when the model carries no LM), segmentation
included.  Seeded: the same command gives the same recordings.  Silero's
settings were chosen with ``--part dev``; report ``--part test``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

AN4 = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "an4"
PAUSE = (0.5, 3.0)  # seconds of noise before each utterance (and after the last)
BABBLE_TALKERS = 4
BABBLE_POOL = 40  # training utterances the talkers say


@dataclass
class Recording:
    """A long recording and its reference: the utterances' references joined."""

    name: str
    samples: np.ndarray
    text: str


def an4_utterances(root: Path, rate: int, part: str, count: int | None, seed: int
                   ) -> tuple[list[tuple[np.ndarray, str]], list[np.ndarray]]:
    """(samples, reference) of the first ``count`` AN4 utterances of ``part``, and the babble pool.

    Read through the corpus preparer's data dirs, as a recipe reads them;
    the babble comes from its train part, whose speakers are in neither test nor dev,
    with silences trimmed so that it has no gaps.
    """
    from asr.data import degrade, read_audio, read_table
    from asr.data.corpora.an4 import prepare_an4

    with tempfile.TemporaryDirectory() as tmp:
        prepare_an4(root, tmp)
        wavs, texts = read_table(Path(tmp) / part / "wav.scp"), read_table(Path(tmp) / part / "text")
        train = list(read_table(Path(tmp) / "train" / "wav.scp").values())
    keys = sorted(wavs)[:count]
    chosen = np.random.default_rng(seed).choice(len(train), BABBLE_POOL, replace=False)
    return ([(read_audio(wavs[k], rate), texts[k]) for k in keys],
            [degrade.trim_silence(read_audio(train[i], rate), rate) for i in chosen])


def build_recordings(utterances: list[tuple[np.ndarray, str]], pool: list[np.ndarray], noise: str, rate: int,
                     minutes: float, snr: float, seed: int) -> list[Recording]:
    """The utterances in order, after pauses of ``noise`` (``white`` or ``babble``), in recordings of >= ``minutes``.

    The pause lengths depend on ``seed`` only, so both noises pause alike.
    """
    pauses = (np.random.default_rng(seed).uniform(*PAUSE, len(utterances) + 1) * rate).astype(int)
    from asr.data import degrade

    rng = np.random.default_rng([seed, ("white", "babble").index(noise)])
    total = sum(len(s) for s, _ in utterances) + pauses.sum()
    groups = np.array_split(np.arange(len(utterances)), max(1, int(total / rate // (minutes * 60))))
    recordings = []
    for number, group in enumerate(groups, 1):
        speech = [utterances[i][0] for i in group]
        level = np.sqrt(np.mean(np.concatenate(speech).astype(np.float64) ** 2) / 10 ** (snr / 10))
        lengths = [*pauses[group], pauses[group[-1] + 1]]  # a pause before each utterance, and one after
        gaps = [level * (rng.standard_normal(n) if noise == "white"
                         else degrade.babble(pool, n, rng, talkers=BABBLE_TALKERS, rms_db=0.0)) for n in lengths]
        parts = [x for gap, samples in zip(gaps, speech) for x in (gap, samples)] + [gaps[-1]]
        recordings.append(Recording(f"{noise}-{number}", np.concatenate(parts).astype(np.float32),
                                    " ".join(utterances[i][1] for i in group)))
    return recordings


def run(model, recordings: list[Recording]) -> tuple[float, float]:
    """(WER in %, seconds) of transcribing ``recordings`` with ``model`` as it is configured."""
    from asr.scoring import score

    started = time.perf_counter()
    results = list(model.transcribe_files([r.samples for r in recordings], names=[r.name for r in recordings]))
    seconds = time.perf_counter() - started
    failed = [r.error for r in results if r.error]
    if failed:
        raise RuntimeError(failed[0])
    wer = score({r.name: r.text for r in recordings}, {r.source: r.text for r in results}).totals.rate
    return 100 * wer, seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="model file (default: the pretrained AN4 model)")
    parser.add_argument("--an4-root", default=str(AN4))
    parser.add_argument("--part", choices=("test", "dev"), default="test",
                        help="AN4 utterances to join: dev to choose settings, test to report (default: %(default)s)")
    parser.add_argument("--utterances", type=int, help="only the first N of them (default: all)")
    parser.add_argument("--minutes", type=float, default=5.0,
                        help="recordings are at least this long, unless all the utterances make less "
                             "(default: %(default)g)")
    parser.add_argument("--snr", type=float, nargs="+", default=[10.0, 20.0, 40.0],
                        help="dB of speech above the noise in the pauses, one condition each (default: 10 20 40: "
                             "loud, audible, nearly silent)")
    parser.add_argument("--seed", type=int, default=0, help="of the pauses, the noise and the babble pool")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)

    import torch

    from asr.decode import DecodeConfig
    from asr.inference import VADS, load_model

    torch.set_num_threads(args.threads)
    model = load_model(args.model, device="cpu", word_timings=False)
    rate = model.spec.features.sample_rate
    utterances, pool = an4_utterances(Path(args.an4_root), rate, args.part, args.utterances, args.seed)
    conditions = {f"{noise} {snr:g} dB": build_recordings(utterances, pool, noise, rate, args.minutes, snr, args.seed)
                  for noise in ("white", "babble") for snr in args.snr}
    for noise, recordings in conditions.items():
        minutes = ", ".join(f"{len(r.samples) / rate / 60:.1f}" for r in recordings)
        print(f"{noise}: {len(utterances)} {args.part} utterances in {len(recordings)} recording(s) of {minutes} min")
    decodings = {"greedy": DecodeConfig()}
    if model.config.mode == "beam":
        decodings["word LM"] = model.config
    results: dict[tuple[str, str, str], tuple[float, float]] = {}
    for decoding, config in decodings.items():
        model.configure(config)
        model.decode  # noqa: B018 -- builds the decoder (loads the LM) before the clock starts
        for vad in VADS:
            model.vad = vad
            for noise, recordings in conditions.items():
                results[decoding, vad, noise] = run(model, recordings)
    timed = list(decodings)[-1]
    print(f"\n| vad | noise | WER greedy | WER word LM | seconds ({timed}) | RTF |\n|---|---|---|---|---|---|")
    for vad in VADS:
        for noise, recordings in conditions.items():
            audio = sum(len(r.samples) for r in recordings) / rate
            wers = [f"{results[d, vad, noise][0]:.2f}" if d in decodings else "-" for d in ("greedy", "word LM")]
            seconds = results[timed, vad, noise][1]
            print(f"| {vad} | {noise} | {' | '.join(wers)} | {seconds:.1f} | {seconds / audio:.4f} |")


if __name__ == "__main__":
    main()

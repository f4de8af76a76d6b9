"""Isolated spoken digits from outside AN4, as users send them: 8 kHz, cut tight to the speech.

    nice -n 19 python tools/bench_digits.py --fsdd DIR [--model M] [--out FILE]
    nice -n 19 python tools/bench_digits.py --flite [--voices VOICE ...] [--model M]   # default: all five voices

AN4 test shares its microphone, room and read prompts with training; a clip
of one digit by another speaker, recorded elsewhere, is the first thing a
user tries.  The clips come from one of two places:

  --fsdd DIR   the Free Spoken Digit Dataset (github.com/Jakobovski/free-spoken-digit-dataset): its
               recordings/ folder or a copy of it, 8 kHz files named DIGIT_SPEAKER_INDEX.wav
  --flite      the digits zero to nine said by flite's voices (`apt install flite`), built on CMU ARCTIC
               speakers: synthetic, but no AN4 speaker

and each is scored as one word, right or wrong, under four conditions, all
given to the model at 8 kHz (FSDD's rate; flite's 16 kHz voices are
resampled):

  as-is        the clip as it comes
  tight        its silence cut to 50 ms each side (degrade.trim_silence, as the robustness bench's trimmed)
  tight+zeros  tight, with 0.4 s of digital silence (exact zeros) each side: an edited clip
  tight+room   tight+zeros with white noise at -60 dBFS throughout: the clip recorded in a quiet room

Columns: clips right with greedy search, and with the lexicon and word LM
the model file carries ("-" if none).  The noise is seeded per clip.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np
import torch

from asr.data import degrade, read_audio
from asr.inference import load_model
from bench_robustness import emit_table, model_searches, transcribe_all  # tools/, the script's own folder

RATE = 8000
DIGITS = ("ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE")
CONDITIONS = ("as-is", "tight", "tight+zeros", "tight+room")
PAD = 0.4  # seconds each side
ROOM_DBFS = -60.0
FSDD_NAME = re.compile(r"^(\d)_[^_]+_\d+\.wav$")


def fsdd_clips(folder: Path) -> list[tuple[str, np.ndarray]]:
    """(word, 8 kHz samples) of every FSDD-named file in ``folder``, by name; an empty folder is an error."""
    paths = sorted(path for path in folder.glob("*.wav") if FSDD_NAME.match(path.name))
    if not paths:
        raise SystemExit(f"{folder}: no files named DIGIT_SPEAKER_INDEX.wav (the FSDD recordings/ folder)")
    return [(DIGITS[int(path.name[0])], read_audio(path, RATE)) for path in paths]


def flite_clips(voices: list[str]) -> list[tuple[str, np.ndarray]]:
    """(word, 8 kHz samples) of each digit said by each flite voice."""
    flite = shutil.which("flite")
    if flite is None:
        raise SystemExit("flite not found: install it (apt install flite) or give --fsdd DIR")
    clips = []
    with tempfile.TemporaryDirectory() as tmp:
        for voice in voices:
            for word in DIGITS:
                wav = Path(tmp) / f"{voice}_{word}.wav"
                subprocess.run([flite, "-voice", voice, "-t", word.lower(), "-o", str(wav)], check=True)
                clips.append((word, read_audio(wav, RATE)))
    return clips


def condition(name: str, samples: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One clip under one condition, at 8 kHz."""
    if name == "as-is":
        return samples
    tight = degrade.trim_silence(samples, RATE, keep_ms=50.0)
    if name == "tight":
        return tight
    pad = round(PAD * RATE)
    padded = np.concatenate([np.zeros(pad, np.float32), tight, np.zeros(pad, np.float32)])
    if name == "tight+room":
        return padded + degrade.white_noise(len(padded), rng, rms_db=ROOM_DBFS)
    return padded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--fsdd", type=Path, metavar="DIR", help="FSDD recordings folder")
    source.add_argument("--flite", action="store_true", help="synthesize the digits with flite")
    parser.add_argument("--voices", nargs="+", default=["kal", "kal16", "awb", "rms", "slt"],
                        help="flite voices (default: all five that Debian's flite ships)")
    parser.add_argument("--model", help="model file (default: the pretrained AN4 model)")
    parser.add_argument("--out", type=Path, help="write the table here too")
    args = parser.parse_args()
    torch.set_num_threads(1)

    clips = fsdd_clips(args.fsdd) if args.fsdd else flite_clips(args.voices)
    model = load_model(args.model, word_timings=False)
    searches = model_searches(model)
    print(f"{len(clips)} clips ({'FSDD' if args.fsdd else 'flite ' + ' '.join(args.voices)}), "
          f"model {args.model or 'an4.pt (shipped)'}", file=sys.stderr)
    rows = ["| condition | right, greedy | right, word LM |", "|---|---:|---:|"]
    for name in CONDITIONS:
        inputs = [condition(name, samples, np.random.default_rng([i, zlib.crc32(name.encode())]))
                  for i, (_, samples) in enumerate(clips)]
        right = {}
        for search, config in searches.items():
            model.configure(config)
            results = transcribe_all(model, inputs, RATE, [f"clip{i}" for i in range(len(clips))], f"{name} {search}")
            right[search] = sum(result.text == word for (word, _), result in zip(clips, results))
        rows.append(f"| {name} | " + " | ".join(f"{right[s]} / {len(clips)}" if s in right else "-"
                                                 for s in ("greedy", "word LM")) + " |")
        print(rows[-1], file=sys.stderr)
    emit_table(rows, args.out)


if __name__ == "__main__":
    main()

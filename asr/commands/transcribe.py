"""Transcribe audio files: text, JSON (whisper's shape), CTM, SRT, VTT or TSV;
or, with a handwriting model, images of text lines (png, jpg, ...): text or JSON.

Inputs are audio files (wav, flac, ogg, mp3; any sample rate, any channels)
or line images, directories (searched for audio, or for images with a
handwriting model), '-' (paths read from stdin, one a line) or Kaldi
wav.scp / images.scp files (*.scp), whose entries are named by their
utterance ids in text and CTM output, so that the output scores against
the data dir's text.  Only a wav.scp value may be a Kaldi
pipe ('cmd args |'); any other input is a file, whatever its name.  Without
--model, the pretrained AN4 model that ships with the toolkit is used (AN4's
vocabulary only: letters, digits, a few command words).  A file that cannot
be transcribed, or whose transcript cannot be written, is reported on
stderr in one line and the others still are; the exit status is 1 if any
failed.  SRT, VTT and TSV hold one input a file: several inputs need
--output-dir.  On a terminal, 4 or more inputs show a progress bar on stderr.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from contextlib import nullcontext
from dataclasses import dataclass
from itertools import chain, groupby
from pathlib import Path
from typing import Iterator

from asr.commands.options import add_decode_arguments, config_from_args
from asr.device import add_device_arguments, set_threads

# Inputs from which a terminal shows a progress bar: a few files take seconds and need none.
PROGRESS_FROM = 4


@dataclass(frozen=True)
class Input:
    """One thing to transcribe.

    ``source`` is a path, or with ``from_scp`` a wav.scp/images.scp value
    (the only kind that may be a Kaldi pipe); ``name`` is what its output
    file is called under --output-dir (the file's stem, or the scp key).
    """

    source: str
    name: str
    from_scp: bool = False


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from asr.inference import DEFAULT_VAD, FORMATS, MIN_SEGMENT, VADS

    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="audio file (or line image), directory, wav.scp/images.scp, or - for stdin")
    parser.add_argument("--model", help="a bundled model's name (`asr models` lists them) or a model file: .pt, or "
                                         ".onnx from `asr export --onnx`, which runs without torch (default: an4)")
    parser.add_argument("--format", choices=[*FORMATS, "all"], default="txt",
                        help="txt (id, then text), json (whisper's shape: segments with timed words), ctm, srt, "
                             "vtt, tsv (whisper's: start and end in ms, text), or all: one file of each (needs "
                             "--output-dir; txt and json only with a handwriting model) (default: txt)")
    parser.add_argument("--output-dir",
                        help="write one file per input here instead of stdout: NAME.FORMAT, NAME being the input's "
                             "file name without extension (an scp entry's id); when an earlier input or an input "
                             "file already has that name, NAME-2.FORMAT, NAME-3.FORMAT, ... in input order "
                             "(default: none, print to stdout)")
    parser.add_argument("--max-segment", type=float, default=20.0,
                        help="longer recordings are cut (see --vad) into pieces of at most this many seconds "
                             f"(at least {MIN_SEGMENT:g}; default: %(default)g)")
    parser.add_argument("--vad", choices=VADS,
                        help="how longer recordings are cut: silero (only the speech Silero VAD finds, so noise "
                             "between utterances is skipped; needs the silero-vad package and torch) or energy (at "
                             f"quiet pauses; every sample is transcribed) (default: {DEFAULT_VAD}; energy for an "
                             ".onnx model)")
    parser.add_argument("--quiet", action="store_true",
                        help=f"no progress bar (default: a bar on stderr for {PROGRESS_FROM} or more inputs when "
                             "stderr is a terminal, never in a log file)")
    add_decode_arguments(parser)
    add_device_arguments(parser)


def expand_inputs(inputs: list[str], suffixes: tuple[str, ...] | None = None) -> Iterator[Input]:
    """The inputs named on the command line, in order; directories give their files with ``suffixes`` (default: audio).

    Paths read from stdin lose only their line ending: a name may begin or
    end with spaces, and is a file even when it ends in '|'.  A directory
    without such files is a one-line error (it may hold the other kind).
    """
    from asr.data import IMAGE_SUFFIXES, read_table
    from asr.inference import AUDIO_SUFFIXES

    suffixes = suffixes or AUDIO_SUFFIXES
    speech = suffixes == AUDIO_SUFFIXES
    for item in inputs:
        path = Path(item)
        if item == "-":
            lines = (line.rstrip("\r\n") for line in sys.stdin)
            yield from (Input(line, Path(line).stem) for line in lines if line.strip())
        elif path.is_dir():
            found = [p for p in sorted(path.rglob("*")) if p.suffix.lower() in suffixes]
            if not found:
                others = IMAGE_SUFFIXES if speech else AUDIO_SUFFIXES
                hint = ("; it holds images: this is a speech model; images need a handwriting model" if speech else
                        "; it holds audio: this is a handwriting model; audio needs a speech model")
                holds = any(p.suffix.lower() in others for p in path.rglob("*"))
                raise ValueError(f"{item}: no {'audio' if speech else 'image'} files in this directory "
                                 f"({' '.join(suffixes)}){hint if holds else ''}")
            yield from (Input(str(p), p.stem) for p in found)
        elif path.suffix == ".scp" and path.is_file():
            yield from (Input(value, key, from_scp=True) for key, value in read_table(path).items())
        else:
            yield Input(item, path.stem)


def output_paths(inputs: list[Input], out_dir: Path, fmt: str) -> list[Path]:
    """Where each input's transcript goes under ``out_dir`` (see --output-dir).

    Every input gets a name, failed ones too, so that a rerun maps each input
    to the same file; a name never replaces an input file, nor a case
    variant of a taken name (case-insensitive file systems).
    """
    taken = {str(Path(item.source).resolve()).casefold() for item in inputs}
    paths = []
    for item in inputs:
        stem = item.name.replace("/", "_") or "_"  # one file name, never a path out of out_dir
        path, n = out_dir / f"{stem}.{fmt}", 1
        while str(path.resolve()).casefold() in taken:
            n += 1
            path = out_dir / f"{stem}-{n}.{fmt}"
        taken.add(str(path.resolve()).casefold())
        paths.append(path)
    return paths


def write_stdout(text: str) -> None:
    """Print one transcript now; a failed write (full disk) ends the run in one line, as every later one would fail."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:  # a reader such as `head` has gone: the CLI stops quietly
        raise
    except OSError as error:
        raise ValueError(f"cannot write to stdout ({error.strerror or error})") from None


def make_output_dir(out_dir: Path) -> None:
    """Create --output-dir, with a one-line error if it cannot be (a regular file, no permission, ...)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"--output-dir {out_dir}: exists and is not a directory")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(f"--output-dir {out_dir}: cannot create it ({error.strerror or error})") from None


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    from asr.data import IMAGE_SUFFIXES, write_text_atomically
    from asr.decode import check_paths
    from asr.inference import (
        DEFAULT_VAD, FORMATS, ONE_INPUT_FORMATS, TIMED_FORMATS, check_max_segment, check_vad, render,
    )
    from asr.progress import progress_bar

    check_max_segment(args.max_segment, "--max-segment")  # before the model loads: a typo costs no wait
    onnx = bool(args.model) and Path(args.model).suffix.lower() == ".onnx"
    if not onnx and importlib.util.find_spec("torch") is None:  # the core install: say that first, not the VAD
        raise ModuleNotFoundError("No module named 'torch'", name="torch")
    vad = check_vad(args.vad or ("energy" if onnx else DEFAULT_VAD), "--vad")  # and a missing package neither
    check_paths(lexicon=args.lexicon, lm=args.lm)
    out_dir = Path(args.output_dir) if args.output_dir else None
    if args.format == "all" and out_dir is None:
        raise ValueError("--format all writes one file per format and input: give --output-dir")
    if out_dir:
        make_output_dir(out_dir)
    if onnx:  # an `asr export --onnx` model: no torch needed
        from asr.runtime import load_onnx_model

        if args.device not in ("auto", "cpu"):
            raise ValueError(f"--device {args.device}: an ONNX model runs on the CPU")
        model = load_onnx_model(args.model, max_segment=args.max_segment, word_timings=args.format != "txt",
                                vad=vad, threads=args.threads)
    else:
        from asr.inference import load_model

        set_threads(args.threads)
        model = load_model(args.model, device=args.device, max_segment=args.max_segment,
                           word_timings=args.format != "txt", vad=vad)
    if args.format == "all":  # a handwriting model has no times: txt and json only
        formats = [fmt for fmt in FORMATS if not (model.reads_images and fmt in TIMED_FORMATS)]
    else:
        formats = [args.format]
        if args.format in TIMED_FORMATS:
            model.require_time_axis(args.model)
    # Decoding flags go on top of what the model file carries (its LM, tuned weights).
    model.configure(config_from_args(args, base=model.config))
    suffixes = IMAGE_SUFFIXES if model.reads_images else None
    inputs = list(expand_inputs(args.inputs, suffixes))  # all of them: output names must not clash with any
    if out_dir is None and args.format in ONE_INPUT_FORMATS and len(inputs) > 1:
        # Cues numbered from 1 again and again, or headers between rows, would make one invalid stream.
        raise ValueError(f"--format {args.format} holds one input per file, and there are {len(inputs)} inputs: "
                         "give --output-dir")
    outputs = {fmt: output_paths(inputs, out_dir, fmt) for fmt in formats} if out_dir else {}
    # Consecutive scp values go together, as they may be pipes; other inputs are files.
    results = chain.from_iterable(model.transcribe_files([item.source for item in group], allow_pipe=from_scp)
                                  for from_scp, group in groupby(inputs, key=lambda item: item.from_scp))
    failed = 0
    with progress_bar("transcribe", len(inputs), not args.quiet and len(inputs) >= PROGRESS_FROM, unit="input",
                      delay=0, leave=True) as progress, \
            nullcontext() if progress.disable else logging_redirect_tqdm():
        for k, (item, result) in enumerate(zip(inputs, results)):
            progress.update()
            if result.error:
                failed += 1
                tqdm.write(f"asr transcribe: error: {result.error}", file=sys.stderr)
                continue
            name = item.name if item.from_scp else None  # an scp entry is known by its id
            if out_dir is None:  # on the bar's terminal too: clear the bar, write, draw it again
                shared = not progress.disable and sys.stdout.isatty()
                with tqdm.external_write_mode(file=sys.stdout) if shared else nullcontext():
                    write_stdout(render(args.format, result, name))
                continue
            try:
                for fmt in formats:
                    write_text_atomically(outputs[fmt][k], render(fmt, result, name))
            except OSError as error:  # a full disk, a read-only dir: this input fails, the others may still fit
                failed += 1
                tqdm.write(f"asr transcribe: error: {outputs[fmt][k]}: cannot write the transcript of "
                           f"{item.source} ({error.strerror or error})", file=sys.stderr)
    if failed:
        print(f"asr transcribe: {failed} input(s) failed", file=sys.stderr)
    return 1 if failed else 0

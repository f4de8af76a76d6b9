"""The feature stage: a data dir in, a data dir with ``feats.scp`` out.

Features (fbank of ``wav.scp`` audio, pixel columns of ``images.scp`` line
images) go to Kaldi ark/scp files through ``kaldiio`` so that Kaldi and
ESPnet users can bring their own.  Audio or images that cannot be read are
reported, counted and listed in ``dropped`` of the output dir (a Kaldi
table of ``utterance reason`` lines, sorted; empty when none failed),
instead of stopping the stage.

A run writes into a temporary dir inside the output dir and moves its files
in only when it succeeded, so a failed run (unreadable data, a full disk,
Ctrl-C) leaves the previous output usable.  In place (output dir = input
dir) the stage adds ``feats.scp``, ``utt2num_frames``, ``dropped``,
``cmvn.ark`` and ``<kind>.yaml`` and never rewrites the tables that say
what the utterances are (``SOURCE_TABLES``): a dropped utterance stays in
``wav.scp`` and ``text`` without features, so scoring counts it when told to
score every reference.  Into another dir it writes those tables too,
restricted to the utterances with features.
"""

from __future__ import annotations

import logging
import shlex
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

import kaldiio
import numpy as np

from asr.config import save_config
from asr.data.audio import AudioError
from asr.data.datadir import SOURCE_TABLES, Segment, spk2utt, validate_data_dir, write_table, writing
from asr.data.frontend import compute_features
from asr.data.kaldi_fbank import accumulate_cmvn
from asr.data.kinds import SOURCE_KIND, FeatureConfig, kind_of
from asr.data.line_images import ImageError
from asr.progress import progress_bar

log = logging.getLogger(__name__)


def perturbed_id(key: str, speed: float) -> str:
    """Kaldi's naming for speed-perturbed copies: ``sp0.9-<id>``."""
    return key if speed == 1.0 else f"sp{speed:g}-{key}"


def perturbed_source(source: str, speed: float) -> str:
    """The ``wav.scp`` value of ``source`` played ``speed`` times faster by sox, as Kaldi writes it.

    The value is run by a shell whenever it is read: a path is quoted (a
    space would split it, ``$(...)`` in a file name would run), and a
    command (``cmd |``) is piped into sox rather than pasted into its arguments,
    and a relative path that starts with ``-`` is given as ``./-...`` so that
    sox does not take it for an option.
    """
    text = source.strip()
    if text.endswith("|"):
        return f"{text[:-1].rstrip()} | sox -t wav - -t wav - speed {speed:g} |"
    if text.startswith("-"):
        text = f"./{text}"
    return f"sox {shlex.quote(text)} -t wav - speed {speed:g} |"


def in_place(src: str | Path, dst: str | Path, speeds: Iterable[float]) -> bool:
    """Whether ``dst`` is ``src``: then its tables stay as they are, which speed perturbation cannot allow.

    The perturbed copies are new utterances that need their own lines in
    ``wav.scp``, ``text`` and ``utt2spk``.
    """
    same = Path(src).resolve() == Path(dst).resolve()
    if same and tuple(speeds) != (1.0,):
        raise ValueError(f"{src}: speed perturbation adds utterances, and the tables of a data dir are not "
                         "rewritten in place: give another output dir")
    return same


@contextmanager
def staged_outputs(dst: Path, stale: Iterable[str] = ()) -> Iterator[Path]:
    """A new dir inside ``dst`` for a run's files, moved into ``dst`` only when the block succeeds.

    Writing straight into ``dst`` would truncate the ark that the previous
    ``feats.scp`` points into as soon as a run starts.  Moving in,
    ``feats.scp`` is removed first and comes back last, so even a move cut
    short leaves no ``feats.scp`` pointing into another run's ark.  The files
    named in ``stale`` that the run did not write are removed from ``dst``
    (e.g. the ``segments`` of the data an earlier run had).
    """
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=dst))
    try:
        yield staging
        written = sorted((path.name for path in staging.iterdir()), key=lambda name: name == "feats.scp")
        for name in ["feats.scp", *(name for name in stale if name not in written)]:
            (dst / name).unlink(missing_ok=True)
        for name in written:
            (staging / name).replace(dst / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _append(ark: BinaryIO, key: str, matrix: np.ndarray) -> int:
    """Write one ``key matrix`` record to an open ark; returns the matrix's offset, as ``feats.scp`` gives it."""
    ark.write(f"{key} ".encode())
    offset = ark.tell()
    kaldiio.save_mat(ark, matrix)
    return offset


def extract_features(
    src: str | Path, dst: str | Path, config: FeatureConfig, speeds: tuple[float, ...] = (1.0,), progress: bool = True
) -> int:
    """Compute features for every utterance of ``src`` (at each speed) into ``dst``.

    Writes ``feats.ark``/``feats.scp``, ``utt2num_frames``, ``dropped``, the
    CMVN stats of the whole dir (``cmvn.ark``, Kaldi layout), the feature
    config (``fbank.yaml`` or ``image.yaml``) and, unless ``dst`` is ``src``,
    the tables of ``src`` restricted to the utterances that succeeded.  A
    speed-perturbed copy of a segment lies in the perturbed copy of its
    recording, at times divided by the speed, as Kaldi's
    ``perturb_data_dir_speed.sh`` writes them.  ``progress``: a bar on a
    terminal (never in a log file).  Returns the number of utterances dropped.
    """
    data = validate_data_dir(src)
    kind = kind_of(config)
    if SOURCE_KIND[data.source_file] != kind:
        raise ValueError(f"{src}: {kind} features do not apply to {data.source_file}")
    if kind == "image" and tuple(speeds) != (1.0,):
        raise ValueError(f"{src}: speed perturbation applies to audio, not images")
    same = in_place(src, dst, speeds)
    dst = Path(dst).resolve()  # scp entries stay valid from any working dir
    dst.mkdir(parents=True, exist_ok=True)
    keep_source, keep_segments, keep_text, keep_spk, num_frames = {}, {}, {}, {}, {}
    scp: dict[str, str] = {}
    dropped: dict[str, str] = {}
    stats = None
    jobs = [(utt, speed) for speed in speeds for utt in data.utts]
    with staged_outputs(dst, () if same else SOURCE_TABLES) as staging:
        with writing(staging / "feats.ark"), open(staging / "feats.ark", "wb") as ark:
            for utt, speed in progress_bar(f"{kind} {dst.name}", len(jobs), progress, jobs):
                source, segment = data.source_of(utt)
                key = perturbed_id(utt, speed)
                try:
                    feats = compute_features(source, config, speed, segment).numpy()
                except (AudioError, ImageError, ValueError, OSError) as error:
                    # One line, whatever a command printed.
                    dropped[key] = " ".join(str(error).split()) or type(error).__name__
                    log.warning("dropping utterance %s: %s", key, error)
                    continue
                scp[key] = f"{dst / 'feats.ark'}:{_append(ark, key, feats.astype(np.float32))}"
                stats = accumulate_cmvn(stats, feats)
                num_frames[key] = str(feats.shape[0])
                source = source if speed == 1.0 else perturbed_source(source, speed)
                if segment is None:
                    keep_source[key] = source
                else:
                    recording = perturbed_id(segment.recording, speed)
                    keep_source[recording] = source
                    end = segment.end / speed if segment.end >= 0 else -1
                    keep_segments[key] = Segment(recording, segment.start / speed, end)
                keep_text[key] = data.text.get(utt, "")
                keep_spk[key] = perturbed_id(data.utt2spk[utt], speed)
        if stats is None:
            raise ValueError(f"{src}: no utterance could be read ({len(dropped)} failed)")
        write_table(staging / "feats.scp", scp)
        write_table(staging / "utt2num_frames", num_frames)
        write_table(staging / "dropped", dropped)
        if not same:
            write_table(staging / data.source_file, keep_source)
            if keep_segments:
                write_table(staging / "segments", {utt: str(segment) for utt, segment in keep_segments.items()})
            write_table(staging / "text", keep_text)
            write_table(staging / "utt2spk", keep_spk)
            write_table(staging / "spk2utt", spk2utt(keep_spk))
        with writing(staging / "cmvn.ark"):
            kaldiio.save_mat(str(staging / "cmvn.ark"), stats)
        with writing(staging / f"{kind}.yaml"):
            save_config(config, staging / f"{kind}.yaml")
    validate_data_dir(dst, need_feats=True)
    if dropped:
        log.warning("%s: %d of %d utterances dropped (unreadable input), listed in %s",
                    src, len(dropped), len(jobs), dst / "dropped")
    return len(dropped)

"""The feature stage: a data dir in, a data dir with ``feats.scp`` out.

Features (fbank of ``wav.scp`` audio, pixel columns of ``images.scp`` line
images) go to Kaldi ark/scp files through ``kaldiio`` so that Kaldi and
ESPnet users can bring their own.  Audio or images that cannot be read are
reported, counted and left out of the output dir, instead of stopping the stage.
"""

from __future__ import annotations

import logging
from pathlib import Path

import kaldiio
import numpy as np
from tqdm import tqdm

from asr.audio import AudioError
from asr.config import save_config
from asr.datadir import Segment, read_table, spk2utt, validate_data_dir, write_table
from asr.features import accumulate_cmvn
from asr.frontend import SOURCE_KIND, FeatureConfig, compute_features, kind_of
from asr.images import ImageError

log = logging.getLogger(__name__)


def perturbed_id(key: str, speed: float) -> str:
    """Kaldi's naming for speed-perturbed copies: ``sp0.9-<id>``."""
    return key if speed == 1.0 else f"sp{speed:g}-{key}"


def extract_features(
    src: str | Path, dst: str | Path, config: FeatureConfig, speeds: tuple[float, ...] = (1.0,)
) -> int:
    """Compute features for every utterance of ``src`` (at each speed) into ``dst``.

    Writes ``feats.ark``/``feats.scp``, ``utt2num_frames``, the CMVN stats of
    the whole dir (``cmvn.ark``, Kaldi layout), the feature config
    (``fbank.yaml`` or ``image.yaml``) and the tables of ``src`` restricted
    to the utterances that succeeded.  A speed-perturbed copy of a segment
    lies in the perturbed copy of its recording, at times divided by the
    speed, as Kaldi's ``perturb_data_dir_speed.sh`` writes them.  Returns the
    number of utterances skipped.
    """
    data = validate_data_dir(src)
    kind = kind_of(config)
    if SOURCE_KIND[data.source_file] != kind:
        raise ValueError(f"{src}: {kind} features do not apply to {data.source_file}")
    if kind == "image" and tuple(speeds) != (1.0,):
        raise ValueError(f"{src}: speed perturbation applies to audio, not images")
    dst = Path(dst).resolve()  # scp entries stay valid from any working dir
    dst.mkdir(parents=True, exist_ok=True)
    keep_source, keep_segments, keep_text, keep_spk, num_frames = {}, {}, {}, {}, {}
    stats = None
    failed = 0
    jobs = [(utt, speed) for speed in speeds for utt in data.utts]
    with kaldiio.WriteHelper(f"ark,scp:{dst / 'feats.ark'},{dst / 'feats.scp.unsorted'}") as writer:
        for utt, speed in tqdm(jobs, desc=f"{kind} {dst.name}", unit="utt", mininterval=2):
            source, segment = data.source_of(utt)
            try:
                feats = compute_features(source, config, speed, segment).numpy()
            except (AudioError, ImageError, ValueError) as error:
                failed += 1
                log.warning("skipping utterance %s: %s", utt, error)
                continue
            key = perturbed_id(utt, speed)
            writer(key, feats.astype(np.float32))
            stats = accumulate_cmvn(stats, feats)
            num_frames[key] = str(feats.shape[0])
            source = source if speed == 1.0 else f"sox {source} -t wav - speed {speed:g} |"
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
        raise ValueError(f"{src}: no utterance could be read ({failed} failed)")
    # kaldiio writes scp lines in processing order; Kaldi wants them sorted.
    write_table(dst / "feats.scp", read_table(dst / "feats.scp.unsorted"))
    (dst / "feats.scp.unsorted").unlink()
    write_table(dst / data.source_file, keep_source)
    if keep_segments:
        write_table(dst / "segments", {utt: str(segment) for utt, segment in keep_segments.items()})
    elif (dst / "segments").exists():  # left by an earlier run on other data: it would not match
        (dst / "segments").unlink()
    write_table(dst / "text", keep_text)
    write_table(dst / "utt2spk", keep_spk)
    write_table(dst / "spk2utt", spk2utt(keep_spk))
    write_table(dst / "utt2num_frames", num_frames)
    kaldiio.save_mat(str(dst / "cmvn.ark"), stats)
    save_config(config, dst / f"{kind}.yaml")
    validate_data_dir(dst, need_feats=True)
    if failed:
        log.warning("%s: %d of %d utterances skipped (unreadable input)", src, failed, len(jobs))
    return failed

"""Grid search of decoding weights (LM weight, word bonus) on a dev set.

The acoustic model runs once; each grid point only re-runs the search.
Weights are chosen on dev and then used unchanged on test.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
from pathlib import Path

from tqdm.contrib.logging import logging_redirect_tqdm

from asr.config import save_config
from asr.decode.beam_search import BeamSearchOptions
from asr.decode.search import DecodeConfig, make_decoder
from asr.inference.datadirs import best_text, data_dir_log_probs
from asr.progress import progress_bar
from asr.scoring import METRIC_UNITS, score

log = logging.getLogger(__name__)


def parse_grid(specs: list[str]) -> dict[str, list[float]]:
    """``["lm_weight=0.5,1", "word_score=-1,0"]`` -> {name: values}, names checked."""
    names = {f.name for f in dataclasses.fields(BeamSearchOptions)}
    grid = {}
    for spec in specs:
        name, _, values = spec.partition("=")
        if name not in names or not values:
            raise ValueError(f"grid entry {spec!r}: expected NAME=V1,V2,... with NAME one of {', '.join(sorted(names))}")
        try:
            grid[name] = [float(v) for v in values.split(",")]
        except ValueError:
            raise ValueError(f"grid entry {spec!r}: values must be numbers") from None
    return grid


def tune(
    model_path: str | Path, data_dir: str | Path, base: DecodeConfig, grid: dict[str, list[float]], out_dir: str | Path,
    metric: str = "wer", device: str = "auto", progress: bool = True,
) -> tuple[DecodeConfig, float]:
    """Decode ``data_dir`` at every grid point; write ``tune.tsv`` and the best ``decode.yaml``.

    Returns the best config and its error rate by ``metric`` (``wer``, or
    ``cer`` where characters are what counts, as in handwriting).  Ties keep
    the earlier grid point, so the result does not depend on floating-point noise.
    ``progress``: bars on a terminal (:func:`asr.progress.progress_bar`).
    """
    if metric not in METRIC_UNITS:
        raise ValueError(f"metric must be one of {', '.join(METRIC_UNITS)}, got {metric!r}")
    data = data_dir_log_probs(model_path, data_dir, device, need_text=True, progress=progress)
    rows, best, best_rate = [], base, float("inf")
    points = list(itertools.product(*grid.values()))
    for values in progress_bar("grid", len(points), progress, points, unit="point"):
        point = dict(zip(grid, values))
        config = dataclasses.replace(base, beam=dataclasses.replace(base.beam, **point))
        decode = make_decoder(data.recognizer.tokenizer, config)
        hyps = {k: best_text(decode(lp)) for k, lp in zip(data.keys, data.log_probs)}
        rate = score(data.text, hyps, unit=METRIC_UNITS[metric], mode="all").totals.rate
        rows.append((point, rate))
        with logging_redirect_tqdm():  # the line above the bar on a terminal, not through it
            log.info("%s: %s %.2f%%", " ".join(f"{k}={v:g}" for k, v in point.items()), metric.upper(), 100 * rate)
        if rate < best_rate:
            best, best_rate = config, rate
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    header = "\t".join([*grid, metric])
    lines = ["\t".join([*(f"{v:g}" for v in point.values()), f"{100 * rate:.2f}"]) for point, rate in rows]
    (out / "tune.tsv").write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    # Absolute paths: the file is read from other working dirs (asr export, transcription).
    resolved = {k: str(Path(v).resolve()) for k in ("lexicon", "lm") if (v := getattr(best, k))}
    save_config(dataclasses.replace(best, **resolved), out / "decode.yaml")
    return best, best_rate

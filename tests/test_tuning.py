"""Tuning beam-search weights on dev, with the pretrained AN4 model on real AN4 utterances; progress bars."""

import io
import sys

import pytest

from asr.decode.lm import build_lm
from asr.decode.search import DecodeConfig
from asr.inference.recognizer import DEFAULT_MODEL
from asr.inference.tuning import parse_grid, tune


def test_tune_by_cer_writes_every_point_and_keeps_the_best(mini_data, tmp_path):
    """(Tuning by WER runs in the AN4 recipe test.)"""
    from asr.data.datadir import read_table

    lm = tmp_path / "char.arpa"
    build_lm(read_table(mini_data / "train" / "text").values(), lm, order=4, unit="char", use_lmplz=False)
    grid = parse_grid(["lm_weight=0,0.5,8", "sil_score=0"])
    best, rate = tune(DEFAULT_MODEL, mini_data / "dev", DecodeConfig(mode="beam", lm=str(lm)), grid,
                      tmp_path / "out", metric="cer")
    rows = (tmp_path / "out" / "tune.tsv").read_text().splitlines()
    assert rows[0] == "lm_weight\tsil_score\tcer"
    rates = [float(row.split("\t")[-1]) for row in rows[1:]]
    assert len(rates) == 3 and min(rates) == pytest.approx(100 * rate, abs=0.005)
    assert rates[0] < rates[2]  # a weight of 8 lets the LM drown the acoustics
    assert best.beam.lm_weight == [0, 0.5, 8][rates.index(min(rates))]
    assert (tmp_path / "out" / "decode.yaml").exists()
    with pytest.raises(ValueError, match="metric"):
        tune(DEFAULT_MODEL, mini_data / "dev", DecodeConfig(mode="beam"), grid, tmp_path / "x", "ser")


def test_tune_starts_from_the_decoding_the_model_file_carries(mini_data, tmp_path, capsys):
    """As asr decode does by default: the shipped model's lexicon, LM and word score, with lm_weight tuned; the
    decode.yaml written names copies of the carried files that outlive the command."""
    from pathlib import Path

    from asr.cli import main
    from asr.decode.search import load_decode_config

    out = tmp_path / "tune"
    assert main(["tune", "--model", str(DEFAULT_MODEL), "--data", str(mini_data / "dev"), "--out", str(out),
                 "--grid", "lm_weight=0.5,1"]) == 0
    best = load_decode_config(out / "decode.yaml")
    assert best.mode == "beam" and best.beam.word_score == 1.0 and best.beam.lm_weight in (0.5, 1)
    for path in (best.lexicon, best.lm):
        assert Path(path).is_file() and Path(path).parent == (out / "carried").resolve()
    assert "\r" not in capsys.readouterr().err  # not a terminal: no progress bar redraws


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bars_are_drawn_only_on_a_terminal_and_not_when_asked_to_be_quiet(monkeypatch):
    """The rule of every progress bar of decode, align and tune: stderr a terminal, and no --quiet."""
    from asr.progress import progress_bar

    for stderr, show, drawn in ((Terminal(), True, True), (Terminal(), False, False), (io.StringIO(), True, False)):
        monkeypatch.setattr(sys, "stderr", stderr)
        with progress_bar("decoding", 100, show) as bar:
            assert bar.disable is not drawn
        assert list(progress_bar("items", 3, show, iter("abc"))) == ["a", "b", "c"]

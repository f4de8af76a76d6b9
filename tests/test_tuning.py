"""Tuning beam-search weights on dev, with the pretrained AN4 model on real AN4 utterances."""

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

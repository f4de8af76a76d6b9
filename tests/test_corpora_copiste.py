"""Handwriting corpora: copiste-lines (the real corpus) and IAM's line layout (a tiny tree)."""

import pytest

from asr.data.corpora.copiste import prepare_copiste, writer_of
from asr.data.corpora.iam import prepare_iam
from asr.data.datadir import validate_data_dir
from conftest import make_mini_copiste, make_mini_iam


def test_copiste_splits_by_writer(copiste_root, tmp_path):
    counts = prepare_copiste(copiste_root, tmp_path)
    assert counts == {"train": 4412, "dev": 317, "test": 662}  # SOURCE.md's figures
    writers = {}
    for part in counts:
        data = validate_data_dir(tmp_path / part)
        assert (tmp_path / part / "images.scp").exists()
        writers[part] = set(data.utt2spk.values())
        assert all(utt.startswith(writer + "-") for utt, writer in data.utt2spk.items())
    assert not writers["train"] & writers["test"] and not writers["train"] & writers["dev"]
    text = validate_data_dir(tmp_path / "train").text
    assert text["wikitexte_0022-imp_wikitexte_0022_001"] == "La Fédération du Laos de football est une association"
    assert writer_of("imp_wikitexte_0117_1") == writer_of("wikitexte_0117_1") == "wikitexte_0117_1"


def test_copiste_bad_input_names_the_line(copiste_root, tmp_path):
    root = make_mini_copiste(copiste_root, tmp_path / "corpus")
    rows = (root / "lines.tsv").read_text(encoding="utf-8").splitlines()
    (root / "lines.tsv").write_text("\n".join(rows[:3] + ["lines/missing.png\tp\ttrain\tx"]) + "\n", encoding="utf-8")
    with pytest.raises(FileNotFoundError, match="lines.tsv:4: no image .*missing.png"):
        prepare_copiste(root, tmp_path / "out")
    (root / "lines.tsv").write_text("\n".join(rows[:3] + [rows[2].replace("train", "valid")]) + "\n")
    with pytest.raises(ValueError, match="lines.tsv:4: unknown split 'valid'"):
        prepare_copiste(root, tmp_path / "out")


def test_iam_layout(copiste_root, tmp_path):
    root = make_mini_iam(copiste_root, tmp_path / "iam")
    counts = prepare_iam(root, tmp_path / "data", {"train": root / "train.lst", "test": root / "test.lst"})
    assert counts == {"train": 2, "test": 1}
    train = validate_data_dir(tmp_path / "data" / "train")
    assert train.text == {"000-a01-000u-00": "A MOVE to", "000-a01-000u-01": "stop Mr. Gaitskell"}
    assert set(train.utt2spk.values()) == {"000"}  # the writer, from forms.txt
    (root / "test.lst").write_text("c03-000-00\n")
    with pytest.raises(ValueError, match="test.lst:1: 'c03-000-00' is not in"):
        prepare_iam(root, tmp_path / "data", {"test": root / "test.lst"})
    (root / "ascii" / "lines.txt").write_text("a01-000u-00 ok 154\n")
    with pytest.raises(ValueError, match="lines.txt:1: expected"):
        prepare_iam(root, tmp_path / "data", {"train": root / "train.lst"})

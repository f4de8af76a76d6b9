"""Handwriting corpora: copiste-lines (the real corpus) and IAM's line layout (a tiny tree)."""

import pytest
from PIL import Image

from asr.corpora.copiste import prepare_copiste, writer_of
from asr.corpora.iam import prepare_iam
from asr.datadir import validate_data_dir
from conftest import make_mini_copiste


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


def _iam_tree(copiste_root, root):
    """IAM's layout, with real handwritten lines standing in for IAM's."""
    sources = sorted((copiste_root / "lines").glob("wikitexte_0014_2_00*.png"))[:3]
    ids = ["a01-000u-00", "a01-000u-01", "b02-100-00"]
    rows = ["#--- lines.txt ---", "# format: a01-000u-00 ok 154 19 408 746 1661 89 A|MOVE|to|stop|Mr.|Gaitskell|from"]
    for line_id, source, words in zip(ids, sources, ["A|MOVE|to", "stop|Mr.|Gaitskell", "from|nominating"]):
        form = line_id.rsplit("-", 1)[0]
        path = root / "lines" / form.split("-")[0] / form / f"{line_id}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.open(source).save(path)
        rows.append(f"{line_id} ok 154 19 408 746 1661 89 {words}")
    (root / "ascii").mkdir(parents=True)
    (root / "ascii" / "lines.txt").write_text("\n".join(rows) + "\n")
    (root / "ascii" / "forms.txt").write_text("# forms\na01-000u 000 2 prt 7 5 52 36\nb02-100 042 2 prt 7 5 52 36\n")
    (root / "train.lst").write_text("a01-000u\n")  # a whole form
    (root / "test.lst").write_text("b02-100-00\n")  # a single line
    return root


def test_iam_layout(copiste_root, tmp_path):
    root = _iam_tree(copiste_root, tmp_path / "iam")
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

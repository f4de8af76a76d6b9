"""LibriSpeech preparation on a tiny official-layout tree of real (AN4) audio written as flac."""

import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import soundfile

from asr.data.audio import read_audio
from asr.data.corpora import librispeech
from asr.data.corpora.librispeech import download_librispeech, prepare_librispeech, subset_name
from asr.data.datadir import validate_data_dir
from conftest import REPO

# subset -> speaker -> chapter -> transcripts, in the order they take the recordings of the
# an4_wavs fixture; the texts are those recordings' AN4 transcripts (one with odd white space).
TREE = {
    "dev-clean": {"84": {"121123": ["YES", "GO"]}},
    "train-clean-100": {"19": {"198": ["YES", "U M  N Y\tH SIX"]}, "26": {"495": ["H I N I C H"]}},
    "train-other-500": {"20": {"205": ["A M Y"]}},
}


def make_mini_librispeech(dest: Path, wavs: list[Path]) -> Path:
    """``dest/LibriSpeech/<subset>/...`` with the transcripts of TREE; returns ``dest``."""
    sources = iter(wavs * 2)
    for subset, speakers in TREE.items():
        for speaker, chapters in speakers.items():
            for chapter, lines in chapters.items():
                folder = dest / "LibriSpeech" / subset / speaker / chapter
                folder.mkdir(parents=True)
                ids = [f"{speaker}-{chapter}-{n:04d}" for n in range(len(lines))]
                (folder / f"{speaker}-{chapter}.trans.txt").write_text(
                    "".join(f"{utt} {line}\n" for utt, line in zip(ids, lines)))
                for utt in ids:
                    soundfile.write(folder / f"{utt}.flac", read_audio(next(sources)), 16000)
    return dest


@pytest.fixture
def tree(an4_wavs, tmp_path) -> Path:
    return make_mini_librispeech(tmp_path / "corpus", an4_wavs)


def chapter_dir(tree: Path, subset: str = "train-clean-100", speaker: str = "19", chapter: str = "198") -> Path:
    return tree / "LibriSpeech" / subset / speaker / chapter


def test_prepare_mini_librispeech(tree, an4_wavs, tmp_path):
    out = tmp_path / "data"
    counts = prepare_librispeech(tree, out, ("train-clean-100", "train_other_500", "dev-clean"),
                                 combine={"train_mini": ("train-clean-100", "train-other-500")})
    assert counts == {"train_clean_100": 3, "train_other_500": 1, "dev_clean": 2, "train_mini": 4}
    dirs = {name: validate_data_dir(out / name) for name in counts}
    train = dirs["train_clean_100"]
    assert train.utts == ["19-198-0000", "19-198-0001", "26-495-0000"]
    assert train.text["19-198-0001"] == "U M N Y H SIX"  # white space collapsed
    assert train.utt2spk == {"19-198-0000": "19-198", "19-198-0001": "19-198", "26-495-0000": "26-495"}
    assert (out / "train_clean_100" / "spk2utt").read_text() == "19-198 19-198-0000 19-198-0001\n26-495 26-495-0000\n"
    assert dirs["train_mini"].text == {**train.text, "20-205-0000": "A M Y"}
    assert dirs["dev_clean"].text == {"84-121123-0000": "YES", "84-121123-0001": "GO"}
    flac = Path(train.source["26-495-0000"])
    assert flac == (chapter_dir(tree, speaker="26", chapter="495") / "26-495-0000.flac").resolve()
    assert np.array_equal(read_audio(flac), read_audio(an4_wavs[4]))  # the fifth one written, read back intact

    # The LibriSpeech folder itself is accepted as the root too.
    again = prepare_librispeech(tree / "LibriSpeech", tmp_path / "again", ("dev-clean",))
    assert again == {"dev_clean": 2}
    assert (tmp_path / "again" / "dev_clean" / "wav.scp").read_text() == (out / "dev_clean" / "wav.scp").read_text()


@pytest.mark.parametrize(
    "damage, error, match",
    [
        # A transcript line without an id, or with one of another chapter.
        (lambda d: (d / "19-198.trans.txt").write_text("19-198-0000 NORTHANGER ABBEY\nIT WAS\n"),
         ValueError, r"19-198\.trans\.txt:2: expected '<speaker>-<chapter>-<number> WORDS', got 'IT WAS'"),
        (lambda d: (d / "19-198.trans.txt").write_text("19-198-0000 A\n19-199-0001 B\n"),
         ValueError, r"19-198\.trans\.txt:2: utterance '19-199-0001' is not of chapter '19-198'"),
        (lambda d: (d / "19-198.trans.txt").write_text("19-198-0000 A\n19-198-0000 B\n"),
         ValueError, r"19-198\.trans\.txt:2: duplicated utterance '19-198-0000'"),
        (lambda d: (d / "19-198-0001.flac").unlink(),
         FileNotFoundError, r"19-198\.trans\.txt:2: no audio .*/19/198/19-198-0001\.flac"),
        (lambda d: (d / "19-198-0001.flac").rename(d / "19-198-0007.flac"),
         FileNotFoundError, r"19-198\.trans\.txt:2: no audio"),
        (lambda d: (d / "19-198-0000.flac").rename(d / "take2.flac"),
         ValueError, r"take2\.flac: expected the name <speaker>-<chapter>-<number>\.flac"),
        (lambda d: (d / "19-198-0000.flac").rename(d / "19-199-0000.flac"),
         ValueError, r"19-199-0000\.flac: expected the name"),
        (lambda d: (d / "19-198.trans.txt").rename(d / "19-198.txt.trans.txt"),
         ValueError, r"19-198\.txt\.trans\.txt: expected the name <speaker>-<chapter>\.trans\.txt"),
        (lambda d: (d / "19-198.trans.txt").write_text("19-198-0000 NORTHANGER ABBEY\n"),
         ValueError, r"19-198-0001\.flac: no transcript line for '19-198-0001' \(1 such files\)"),
    ],
    ids=["line-without-id", "other-chapter", "duplicate", "missing-flac", "renamed-flac", "bad-flac-name",
         "flac-of-other-chapter", "bad-transcript-name", "flac-without-line"],
)
def test_bad_input_is_reported_in_one_line(tree, tmp_path, damage, error, match):
    damage(chapter_dir(tree))
    with pytest.raises(error, match=match):
        prepare_librispeech(tree, tmp_path / "data", ("train-clean-100",))


def test_bad_subsets_are_reported(tree, tmp_path):
    with pytest.raises(ValueError, match="unknown LibriSpeech subset 'train-clean-960'"):
        subset_name("train-clean-960")
    with pytest.raises(FileNotFoundError, match=r"LibriSpeech/test-clean: no \*/\*/\*\.trans\.txt"):
        prepare_librispeech(tree, tmp_path / "data", ("test-clean",))
    with pytest.raises(ValueError, match="'train_mini' needs subset 'train-other-500', which is not prepared"):
        prepare_librispeech(tree, tmp_path / "data", ("train-clean-100",),
                            combine={"train_mini": ("train-clean-100", "train-other-500")})
    with pytest.raises(FileNotFoundError, match="no such LibriSpeech folder"):
        prepare_librispeech(tmp_path / "nowhere", tmp_path / "data", ("dev-clean",))


def test_download_unpacks_once(tree, tmp_path, monkeypatch):
    """The OpenSLR download path, served from file:// URLs: fetched, unpacked, stamped, archive deleted."""
    served = tmp_path / "openslr"
    served.mkdir()
    with tarfile.open(served / "dev-clean.tar.gz", "w:gz") as tar:
        tar.add(tree / "LibriSpeech" / "dev-clean", arcname="LibriSpeech/dev-clean")
    monkeypatch.setattr(librispeech, "URL", f"file://{served}/{{subset}}.tar.gz")
    dest = tmp_path / "downloads"
    corpus = download_librispeech(dest, ("dev_clean",))
    assert corpus == dest / "LibriSpeech" and (dest / "dev-clean.unpacked").exists()
    assert not list(dest.glob("*.tar.gz")) and not list(dest.glob("*.part"))
    assert prepare_librispeech(dest, tmp_path / "data", ("dev-clean",)) == {"dev_clean": 2}
    (served / "dev-clean.tar.gz").unlink()  # a second call must not fetch again
    assert download_librispeech(dest, ("dev-clean",)) == corpus


def test_recipe_prepares_a_local_copy(tree, tmp_path):
    """Stage 0 of recipes/librispeech/run.sh on the tiny tree: local path, no download; a re-run skips it."""
    env_bin = str(Path(sys.executable).parent)

    def stage0(*extra: str) -> subprocess.CompletedProcess:
        result = subprocess.run(
            ["bash", str(REPO / "recipes" / "librispeech" / "run.sh"), "--librispeech-root", str(tree),
             "--train-subsets", "train-clean-100 train-other-500", "--train-set", "train_mini",
             "--eval-subsets", "dev-clean", "--data", str(tmp_path / "data"), "--stop-stage", "0", *extra],
            cwd=tmp_path, capture_output=True, text=True,
            env={"PATH": f"{env_bin}:/usr/bin:/bin", "ASR_NO_SETUP": "1"},
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        return result

    assert "train_mini: 4 utterances" in stage0().stdout
    assert validate_data_dir(tmp_path / "data" / "train_mini").utts[-1] == "26-495-0000"
    assert validate_data_dir(tmp_path / "data" / "dev_clean").utts == ["84-121123-0000", "84-121123-0001"]
    assert "done before, skipped" in stage0().stdout
    assert "train_mini: 4 utterances" in stage0("--force", "true").stdout


def test_recipe_configs_load():
    """Every key of the GPU configs is a TrainConfig field (unknown keys are errors); one model, two batch sizes."""
    from asr.config import load_config
    from asr.train.loop import TrainConfig

    one, eight = (load_config(TrainConfig, REPO / "recipes" / "librispeech" / "conf" / f"train_{n}gpu.yaml")
                  for n in (1, 8))
    assert one.model == eight.model and one.device == eight.device == "cuda"
    assert one.lr < eight.lr < 8 * one.lr


def test_combine_option():
    import argparse

    from asr.commands.prepare import combine_spec

    assert combine_spec("train_960=train-clean-100,train_other_500") == ("train_960", ("train-clean-100", "train_other_500"))
    with pytest.raises(argparse.ArgumentTypeError, match="expected NAME=SUBSET,SUBSET..., got 'train_960'"):
        combine_spec("train_960")

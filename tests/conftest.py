"""Shared fixtures: real data from ../shared/corpora, tiny data dirs built from it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPORA = REPO.parent / "shared" / "corpora"
AN4 = CORPORA / "an4"


@pytest.fixture(scope="session")
def an4_root() -> Path:
    if not (AN4 / "etc" / "an4_train.transcription").exists():
        pytest.skip(f"AN4 corpus not found at {AN4}")
    return AN4


@pytest.fixture(scope="session")
def an4_wavs(an4_root: Path) -> list[Path]:
    """A few real AN4 training recordings, in a fixed order."""
    return sorted((an4_root / "wav" / "an4_clstk").glob("*/*.wav"))[:6]


def an4_test_utterances(an4_root: Path, count: int) -> dict[str, tuple[str, Path]]:
    """The first ``count`` real AN4 test utterances, in the corpus's order: id -> (reference text, wav file)."""
    lines = (an4_root / "etc" / "an4_test.transcription").read_text().splitlines()[:count]
    fileids = (an4_root / "etc" / "an4_test.fileids").read_text().split()[:count]
    utterances = {}
    for line, fileid in zip(lines, fileids):
        text, _, utt = line.rpartition(" (")
        utterances[utt.rstrip(")")] = (text.strip(), an4_root / "wav" / f"{fileid}.wav")
    return utterances


def make_mini_an4(an4_root: Path, dest: Path, speakers: int = 8, per_speaker: int = 4, test: int = 6) -> Path:
    """An AN4-layout tree with a handful of real utterances (links to the real wavs)."""
    from asr.data.corpora.an4 import speaker_of

    etc = dest / "etc"
    etc.mkdir(parents=True)
    for part, listed in (("train", None), ("test", test)):
        ids = (an4_root / "etc" / f"an4_{part}.fileids").read_text().split()
        lines = (an4_root / "etc" / f"an4_{part}.transcription").read_text().splitlines()
        chosen, count = [], {}
        for fileid, line in zip(ids, lines):
            spk = speaker_of(Path(fileid).name)
            if listed is None and count.get(spk, 0) < per_speaker and (spk in count or len(count) < speakers):
                count[spk] = count.get(spk, 0) + 1
                chosen.append((fileid, line))
            elif listed is not None and len(chosen) < listed:
                chosen.append((fileid, line))
        (etc / f"an4_{part}.fileids").write_text("".join(f"{f}\n" for f, _ in chosen))
        (etc / f"an4_{part}.transcription").write_text("".join(f"{t}\n" for _, t in chosen))
        for fileid, _ in chosen:
            link = dest / "wav" / f"{fileid}.wav"
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(an4_root / "wav" / f"{fileid}.wav")
    return dest


@pytest.fixture(scope="session")
def mini_an4(an4_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_mini_an4(an4_root, tmp_path_factory.mktemp("mini_an4"))


@pytest.fixture(scope="session")
def mini_data(mini_an4: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """train/dev/test data dirs of the mini AN4 tree, with fbank features."""
    from asr.data.corpora.an4 import prepare_an4
    from asr.data.extract import extract_features
    from asr.data.kaldi_fbank import FbankConfig

    out = tmp_path_factory.mktemp("data")
    prepare_an4(mini_an4, out, dev_speakers=2)
    for part in ("train", "dev", "test"):
        extract_features(out / part, out / part, FbankConfig())
    return out


COPISTE = CORPORA / "copiste-lines"


@pytest.fixture(scope="session")
def copiste_root() -> Path:
    if not (COPISTE / "lines.tsv").exists():
        pytest.skip(f"copiste-lines corpus not found at {COPISTE}")
    return COPISTE


def make_mini_copiste(root: Path, dest: Path, per_split: dict[str, int] | None = None) -> Path:
    """A copiste-lines tree with the first lines of each split (the real images, linked)."""
    per_split = per_split or {"train": 24, "dev": 6, "test": 6}
    rows = (root / "lines.tsv").read_text(encoding="utf-8").splitlines()
    chosen, count = [rows[0]], dict.fromkeys(per_split, 0)
    for row in rows[1:]:
        split = row.split("\t")[2]
        if count[split] < per_split[split]:
            count[split] += 1
            chosen.append(row)
    dest.mkdir(parents=True)
    (dest / "lines.tsv").write_text("\n".join(chosen) + "\n", encoding="utf-8")
    (dest / "lines").symlink_to(root / "lines")
    return dest


def make_mini_iam(copiste_root: Path, root: Path) -> Path:
    """IAM's line layout with 3 lines (real handwritten lines standing in for IAM's) and split lists."""
    from PIL import Image

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


def copy_recipe(name: str, tmp_path: Path) -> Path:
    """recipes/NAME and the TEMPLATE it sources copied under tmp_path without data and exp, beside a link to tools/."""
    recipe = tmp_path / "recipes" / name
    shutil.copytree(REPO / "recipes" / name, recipe, ignore=shutil.ignore_patterns("data", "exp"))
    shutil.copytree(REPO / "recipes" / "TEMPLATE", tmp_path / "recipes" / "TEMPLATE")
    (tmp_path / "tools").symlink_to(REPO / "tools")
    return recipe


def run_recipe(recipe: Path, *options: str) -> subprocess.CompletedProcess:
    """``bash run.sh OPTIONS`` with this interpreter's environment only; fails the test if it fails."""
    env_bin = str(Path(sys.executable).parent)
    result = subprocess.run(["bash", "run.sh", *options], cwd=recipe, capture_output=True, text=True,
                            env={"PATH": f"{env_bin}:/usr/bin:/bin", "ASR_NO_SETUP": "1"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result

"""N-gram estimation, ARPA writing and reading, on real text."""

from __future__ import annotations

import csv
import functools
import os
import random
import re
import stat
from pathlib import Path

import pytest
import torch

from asr.decode.lm import (
    BOS,
    EOS,
    UNK,
    Arpa,
    arpa_vocabulary,
    build_lm,
    kneser_ney_discounts,
    lm_units,
    read_arpa,
)
from asr.data.text import Tokenizer, normalize_text

torch.set_num_threads(1)

CORPORA = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"
_AN4_MARKUP = re.compile(r"</?s>|\([^)]*\)\s*$")


def _corpus_file(relative: str) -> Path:
    path = CORPORA / relative
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return path


@functools.lru_cache(maxsize=None)
def an4_lines() -> tuple[str, ...]:
    """AN4 training transcripts without ``<s>``, ``</s>`` and the utterance id."""
    text = _corpus_file("an4/etc/an4_train.transcription").read_text(encoding="utf-8")
    return tuple(normalize_text(_AN4_MARKUP.sub(" ", line)) for line in text.splitlines())


@functools.lru_cache(maxsize=None)
def copiste_lines(limit: int = 1000) -> tuple[str, ...]:
    """The first ``limit`` French training lines of Copiste d'un jour."""
    with _corpus_file("copiste-lines/lines.tsv").open(encoding="utf-8", newline="") as f:
        rows = csv.DictReader(f, delimiter="\t")
        texts = [normalize_text(r["text"]) for r in rows if r["split"] == "train"]
    return tuple(texts[:limit])


def context_sums(model: Arpa, contexts) -> list[float]:
    """sum_w P(w|h) over the predictable vocabulary, through backoff."""
    words = [w for w in model.vocabulary if w != BOS]
    return [sum(10 ** model.log10_prob(w, h) for w in words) for h in contexts]


def contexts_of(model: Arpa) -> list[tuple[str, ...]]:
    """Every history in the file (n-grams below the top order not ending in </s>)."""
    return [g for table in model.tables[:-1] for g in table if g[-1] != EOS]


def test_lm_units_match_the_tokenizer():
    line = "La Fédération du Laos"
    units = lm_units(line, "char")
    tokenizer = Tokenizer.from_texts([line])
    assert units == [tokenizer.tokens[i] for i in tokenizer.encode(line)]
    assert lm_units(line) == line.split()
    with pytest.raises(ValueError, match="reserved"):
        lm_units("<s> YES </s>")


def test_discounts_from_count_of_counts():
    # t1..t4 = 4, 2, 1, 1: Y = 4/8, D1 = 0.5, D2 = 2 - 3 * 0.5 / 2, D3 = 3 - 4 * 0.5
    counts = [1] * 4 + [2] * 2 + [3] + [4] + [9]
    assert kneser_ney_discounts(counts) == pytest.approx((0.5, 1.25, 1.0))
    assert kneser_ney_discounts([1, 1, 2, 3]) is None  # no t4: no estimate


def test_word_lm_is_normalized(tmp_path):
    model = build_lm(an4_lines(), tmp_path / "an4.arpa", use_lmplz=False)
    assert model.order == 3
    assert {BOS, EOS, UNK, "ENTER", "SIX"} <= set(model.vocabulary)
    contexts = contexts_of(model) + [("NEVER", "SEEN"), ()]
    sums = context_sums(model, contexts)
    assert sums == pytest.approx([1.0] * len(contexts), abs=1e-4)
    # KN really conditions: a frequent continuation beats its unigram share.
    assert model.log10_prob("T", ("P", "I")) > model.log10_prob("T") + 1


def test_char_lm_is_normalized(tmp_path):
    model = build_lm(copiste_lines(300), tmp_path / "fr.arpa", unit="char", use_lmplz=False)
    assert model.order == 6
    assert "|" in model.vocabulary and "é" in model.vocabulary
    assert all(len(w) == 1 for w in model.vocabulary if w not in (BOS, EOS, UNK))
    contexts = random.Random(0).sample(contexts_of(model), 200)
    assert context_sums(model, contexts) == pytest.approx([1.0] * len(contexts), abs=1e-4)
    assert arpa_vocabulary(tmp_path / "fr.arpa") == model.vocabulary


def test_tiny_corpus_falls_back_and_stays_normalized(tmp_path, caplog):
    model = build_lm(["a b", "b a c", "a"], tmp_path / "tiny.arpa", order=6, use_lmplz=False)
    assert model.order == 5  # <s> b a c </s> is the longest sentence
    assert "no valid discounts" in caplog.text
    contexts = contexts_of(model)
    assert context_sums(model, contexts) == pytest.approx([1.0] * len(contexts), abs=1e-4)


def test_flashlight_kenlm_scores_as_the_reader(tmp_path):
    from flashlight.lib.text.decoder.kenlm import KenLM
    from flashlight.lib.text.dictionary import Dictionary

    path = tmp_path / "an4.arpa"
    model = build_lm(an4_lines(), path, use_lmplz=False)
    sentence = ["ENTER", "SIX", "NOTAWORD", "FOUR"]
    words = Dictionary([*model.vocabulary, "NOTAWORD"])
    kenlm = KenLM(str(path), words)
    state, total = kenlm.start(False), 0.0
    for word in sentence:
        state, score = kenlm.score(state, words.get_index(word))
        total += score
    total += kenlm.finish(state)[1]
    history = [BOS, *sentence]
    expected = sum(model.log10_prob(w, history[: i + 1]) for i, w in enumerate([*sentence, EOS]))
    assert total == pytest.approx(expected, abs=1e-4)


GOOD_ARPA = """\\data\\
ngram 1=4
ngram 2=2

\\1-grams:
-1.0\t</s>
-99\t<s>\t-0.3
-1.5\t<unk>
-0.5\ta\t-0.2

\\2-grams:
-0.4\t<s> a
-0.2\ta </s>

\\end\\
"""


@pytest.mark.parametrize(
    "old, new, line, message",
    [
        ("ngram 2=2", "ngram 2=3", 3, "header says 3 2-grams, the section has 2"),
        ("-0.5\ta\t-0.2", "-0.5\ta\t-0.2\textra", 9, "needs 2 or 3 fields"),
        ("-0.4\t<s> a", "-0.4\t<s> a\t-0.1", 12, "needs 3 fields"),
        ("-1.5\t<unk>", "x1.5\t<unk>", 8, "'x1.5' is not a number"),
        ("-1.5\t<unk>", "1.5\t<unk>", 8, "is positive"),
        ("-0.2\ta </s>", "-0.2\tb </s>", 13, "context 'b'"),
        ("-1.5\t<unk>", "-1.5\ta", 9, "duplicate 1-gram 'a'"),
        ("\\end\\\n", "", 13, "missing '\\end\\'"),
        ("ngram 2=2", "ngram 3=2", 3, "expected 'ngram 2=<count>'"),
    ],
)
def test_read_arpa_names_the_bad_line(tmp_path, old, new, line, message):
    path = tmp_path / "lm.arpa"
    path.write_text(GOOD_ARPA.replace(old, new), encoding="utf-8")
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}:{line}: .*{re.escape(message)}"):
        read_arpa(path)


def test_read_arpa_accepts_a_valid_file(tmp_path):
    path = tmp_path / "lm.arpa"
    path.write_text(GOOD_ARPA, encoding="utf-8")
    model = read_arpa(path)
    assert model.vocabulary == (EOS, BOS, UNK, "a")
    assert model.log10_prob("a", [BOS]) == pytest.approx(-0.4)
    assert model.log10_prob("zzz", ["a"]) == pytest.approx(-0.2 - 1.5)  # backoff to <unk>


def test_lmplz_is_used_when_on_path(tmp_path, monkeypatch):
    """A stand-in lmplz records its arguments and input and writes a valid ARPA."""
    (tmp_path / "good.arpa").write_text(GOOD_ARPA, encoding="utf-8")
    fake = tmp_path / "bin" / "lmplz"
    fake.parent.mkdir()
    fake.write_text(
        '#!/bin/sh\necho "$@" > "$(dirname "$0")/args"\ncat > "$(dirname "$0")/stdin"\n'
        'while [ "$1" != --arpa ]; do shift; done\ncp "$(dirname "$0")/../good.arpa" "$2"\n'
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")

    model = build_lm(["la fête", "", "a"], tmp_path / "out.arpa", unit="char")

    assert model.vocabulary == (EOS, BOS, UNK, "a")
    assert (fake.parent / "stdin").read_text() == "l a | f ê t e\na\n"
    assert (fake.parent / "args").read_text().split()[:4] == ["-o", "6", "--discount_fallback", "-S"]


def test_a_failing_lmplz_is_one_line(tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "lmplz"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\necho "=== 1/5 Counting ===" >&2\necho "Out of memory" >&2\nexit 3\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(ValueError, match=r"out.arpa: lmplz failed with exit status 3: Out of memory$"):
        build_lm(["a b"], tmp_path / "out.arpa")


def test_orders_the_decoder_cannot_load_are_refused(tmp_path):
    with pytest.raises(ValueError, match="order 7 is above 6"):
        build_lm(["a b"], tmp_path / "x.arpa", order=7, unit="char", use_lmplz=False)

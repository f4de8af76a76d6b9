"""Tests of ``asr.scoring`` and ``asr score``.

Counts are checked four ways: small cases worked out by hand (ties included,
where Kaldi prefers an insertion plus a deletion to two substitutions), jiwer
on thousands of real AN4 / copiste sentences with seeded edits (an
independent implementation: the minimum edit distance of every utterance and
the rates must match; the S/D/I split may differ only on ties), Kaldi's own
programs without the shortcuts ``asr.scoring`` takes (kaldialign's public
functions, counts and alignments, on those sentences and on short sequences
full of ties), and Kaldi's printed lines byte for byte.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import re
import unicodedata
from pathlib import Path

import _kaldialign
import jiwer
import kaldialign
import pytest

from asr import scoring
from asr.commands import score as score_command
from asr.data.datadir import read_table, validate_data_dir
from asr.data.text import normalize_text
from asr.scoring.lowmem import _LowMemoryAlignment

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT.parent / "shared" / "corpora"
AN4_TEST = CORPORA / "an4" / "etc" / "an4_test.transcription"
AN4_SPEAKER = r"^\w+-(\w+)"  # an406-fcaw-b -> fcaw


def needs_corpora() -> None:
    if not CORPORA.is_dir():
        pytest.skip(f"shared corpora not found at {CORPORA}")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def counts_of(ref: str, hyp: str, unit: str = "word") -> tuple[int, int, int, int]:
    """(corr, sub, del, ins) of one pair."""
    c = scoring.score({"u": ref}, {"u": hyp}, unit).totals
    return c.corr, c.sub, c.dele, c.ins


# ---------------------------------------------------------------------------
# Hand-made cases


def test_edit_ops_marks_each_position() -> None:
    assert scoring.edit_ops("a b c".split(), "a x c d".split()) == (
        ("C", "a", "a"),
        ("S", "b", "x"),
        ("C", "c", "c"),
        ("I", None, "d"),
    )
    assert scoring.edit_ops([], ["a", "b"]) == (("I", None, "a"), ("I", None, "b"))
    assert scoring.edit_ops(["a"], []) == (("D", "a", None),)
    assert scoring.edit_ops([], []) == ()


@pytest.mark.parametrize(
    ("ref", "hyp", "expected"),
    [
        ("the cat sat on the mat", "the cat sat on the mat", (6, 0, 0, 0)),
        ("the cat sat on the mat", "the cat sat on mat", (5, 0, 1, 0)),
        ("the cat sat", "the cat sat down", (3, 0, 0, 1)),
        ("the cat sat", "a cat sit", (1, 2, 0, 0)),
        ("one two three four", "two three four five", (3, 0, 1, 1)),
        ("a b c", "", (0, 0, 3, 0)),
        ("", "a b", (0, 0, 0, 2)),
        ("", "", (0, 0, 0, 0)),
    ],
)
def test_word_counts_by_hand(ref: str, hyp: str, expected: tuple[int, int, int, int]) -> None:
    assert counts_of(ref, hyp) == expected


def test_char_counts_include_spaces() -> None:
    # "ab c" -> "abc": the space is deleted; "ab" -> "a b": a space is inserted.
    assert counts_of("ab c", "abc", "char") == (3, 0, 1, 0)
    assert counts_of("ab", "a b", "char") == (2, 0, 0, 1)
    assert counts_of("chat", "chut", "char") == (3, 1, 0, 0)


def test_rates_and_sums() -> None:
    a = scoring.ErrorCounts(1, 4, 3, 1, 0, 0, 1)
    b = scoring.ErrorCounts(1, 0, 0, 0, 0, 2, 1)
    total = a + b
    assert total == scoring.ErrorCounts(2, 4, 3, 1, 0, 2, 2)
    assert (total.err, total.rate, total.sent_rate) == (3, 0.75, 1.0)
    assert scoring.ErrorCounts.total([]) == scoring.ErrorCounts()
    assert b.rate == float("inf") and scoring.ErrorCounts().rate == 0.0


# ---------------------------------------------------------------------------
# Kaldi lines


def test_kaldi_lines_byte_for_byte() -> None:
    counts = scoring.ErrorCounts(snt=130, ref_tokens=773, corr=730, sub=40, dele=3, ins=3, sent_err=16)
    assert scoring.kaldi_line(counts) == "%WER 5.95 [ 46 / 773, 3 ins, 3 del, 40 sub ]"
    assert scoring.kaldi_line(counts, "CER", partial=True) == "%CER 5.95 [ 46 / 773, 3 ins, 3 del, 40 sub ] [PARTIAL]"
    assert scoring.ser_line(counts) == "%SER 12.31 [ 16 / 130 ]"


def test_kaldi_rounds_through_float32() -> None:
    # 100 * 1462 / 1491 = 98.054996... in double but 98.055000 in Kaldi's float32.
    counts = scoring.ErrorCounts(snt=1, ref_tokens=1491, corr=29, sub=1462, sent_err=1)
    assert scoring.kaldi_line(counts).startswith("%WER 98.06 ")


def test_kaldi_line_without_reference_words() -> None:
    assert scoring.kaldi_line(scoring.ErrorCounts(1, 0, 0, 0, 0, 2, 1)).startswith("%WER inf [ 2 / 0,")
    assert scoring.kaldi_line(scoring.ErrorCounts(1, 0, 0, 0, 0, 0, 0)).startswith("%WER 0.00 [ 0 / 0,")


# ---------------------------------------------------------------------------
# Against jiwer on real text


def _load_bench():
    """The benchmark's data builder, so that tests and timings use the same hypotheses."""
    spec = importlib.util.spec_from_file_location("bench_scoring", ROOT / "tools" / "bench_scoring.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def corpus_pairs() -> tuple[dict[str, str], dict[str, str]]:
    """3,000 real sentences with seeded edits, plus empty references and hypotheses."""
    needs_corpora()
    bench = _load_bench()
    refs, hyps = bench.make_pairs(bench.load_sentences(), 3000, seed=1)
    refs += ["", "", "un deux trois", "Noël à l'école"]
    hyps += ["", "quelque chose", "", "Noe\u0308l a\u0300 l'e\u0301cole"]  # last: decomposed accents
    return {f"u{i:04d}": text for i, text in enumerate(refs)}, {f"u{i:04d}": text for i, text in enumerate(hyps)}


def jiwer_split(chunks) -> tuple[int, int, int]:
    """(sub, del, ins) of one sentence from jiwer's alignment chunks."""
    size = {kind: 0 for kind in ("equal", "substitute", "delete", "insert")}
    for chunk in chunks:
        size[chunk.type] += max(chunk.ref_end_idx - chunk.ref_start_idx, chunk.hyp_end_idx - chunk.hyp_start_idx)
    return size["substitute"], size["delete"], size["insert"]


@pytest.mark.parametrize(("unit", "process"), [("word", jiwer.process_words), ("char", jiwer.process_characters)])
def test_counts_agree_with_jiwer(corpus_pairs, unit: str, process) -> None:
    refs, hyps = corpus_pairs
    result = scoring.score(refs, hyps, unit)
    # jiwer does not apply NFC, so it gets the normalized text.
    expected = process([normalize_text(t) for t in refs.values()], [normalize_text(t) for t in hyps.values()])
    ours = [(u.counts.sub, u.counts.dele, u.counts.ins) for u in result.utts]
    theirs = list(map(jiwer_split, expected.alignments))
    ties = 0
    for (s, d, i), (js, jd, ji) in zip(ours, theirs):
        assert s + d + i == js + jd + ji  # the minimum edit distance
        assert i - d == ji - jd  # fixed by the lengths
        ties += s != js  # the same cost split differently: Kaldi's and rapidfuzz's tie-breaks differ
    assert ties < len(ours) // 10
    totals = result.totals
    assert totals.err == expected.substitutions + expected.deletions + expected.insertions
    assert totals.rate == (expected.wer if unit == "word" else expected.cer)
    assert totals.sent_err == sum(r != h for r, h in zip(expected.references, expected.hypotheses))


def kaldi_reference(ref, hyp) -> tuple[tuple[int, int, int], list[scoring.Op]]:
    """(sub, del, ins) and alignment from kaldialign's public functions: Kaldi's full programs, no shortcut."""
    found = kaldialign.edit_distance(ref, hyp)
    ops = [  # "" for epsilon: no token is empty
        ("I", None, h) if r == "" else ("D", r, None) if h == "" else ("C" if r == h else "S", r, h)
        for r, h in kaldialign.align(ref, hyp, "")
    ]
    return (found["sub"], found["del"], found["ins"]), ops


def assert_kaldis(result: scoring.ScoreResult) -> None:
    for utt, ops in zip(result.utts, result.alignments, strict=True):
        split, kaldi_ops = kaldi_reference(utt.ref, utt.hyp)
        assert (utt.counts.sub, utt.counts.dele, utt.counts.ins) == split, utt.utt_id
        assert list(ops) == kaldi_ops, utt.utt_id


@pytest.mark.parametrize("unit", scoring.UNITS)
def test_counts_and_alignments_are_kaldis(corpus_pairs, unit: str) -> None:
    # The shortcuts (prefix cut, forced splits, single edits) must give what Kaldi's programs give.
    refs, hyps = corpus_pairs
    result = scoring.score(refs, hyps, unit, align=True)
    assert_kaldis(result)
    assert scoring.score(refs, hyps, unit).alignments == result.alignments  # made later, the same


@pytest.mark.parametrize("unit", scoring.UNITS)
def test_shortcuts_keep_kaldis_tie_breaks(unit: str) -> None:
    # Short sequences over two or three symbols: ties everywhere, repeated tokens around every edit.
    rng = random.Random(0)
    refs, hyps = {}, {}
    for i in range(3000):
        symbols = "ab" if i % 2 else "abc"
        ref = [rng.choice(symbols) for _ in range(rng.randint(0, 8))]
        hyp = list(ref)
        for _ in range(rng.randint(1, 3)):
            at = rng.randint(0, len(hyp))
            edit = rng.choice("SDI") if at < len(hyp) else "I"
            if edit == "S":
                hyp[at] = rng.choice(symbols)
            elif edit == "D":
                del hyp[at]
            else:
                hyp.insert(at, rng.choice(symbols))
        joiner = " " if unit == "word" else ""
        refs[f"u{i}"], hyps[f"u{i}"] = joiner.join(ref), joiner.join(hyp)
    assert_kaldis(scoring.score(refs, hyps, unit, align=True))


def random_pair(rng: random.Random, length: int, symbols: int, edits: float) -> tuple[list[int], list[int]]:
    """A coded pair: a random reference and a copy with about ``edits`` of its tokens edited (1.0: unrelated)."""
    ref = [rng.randrange(symbols) for _ in range(length)]
    if edits >= 1:
        return ref, [rng.randrange(symbols) for _ in range(rng.randint(0, 2 * length))]
    hyp = []
    for token in ref:
        roll = rng.random()
        if roll >= edits or roll < edits / 3:  # kept, or substituted
            hyp.append(token if roll >= edits else rng.randrange(symbols))
        elif roll < 2 * edits / 3:  # followed by an insertion
            hyp += [token, rng.randrange(symbols)]
        # else deleted
    return ref, hyp


def test_low_memory_alignment_is_kaldis() -> None:
    # Small rectangles and few cuts, so that short pairs go through every level of the piecewise search.
    rng = random.Random(0)
    for i in range(300):
        ref, hyp = random_pair(rng, rng.randint(0, 30), rng.choice((2, 3, 10)), rng.choice((0.1, 0.4, 1.0)))
        kaldi = _kaldialign.align(ref, hyp, -1, False)
        for leaf_cells, segments in ((1, 2), (6, 3), (40, 16)):
            assert _LowMemoryAlignment(ref, hyp, leaf_cells, segments).pairs() == kaldi, (i, ref, hyp)


@pytest.mark.parametrize("edits", [0.02, 0.3, 1.0])
def test_low_memory_alignment_of_long_pairs_is_kaldis(edits: float) -> None:
    ref, hyp = random_pair(random.Random(1), 3000, 30, edits)
    assert _LowMemoryAlignment(ref, hyp).pairs() == _kaldialign.align(ref, hyp, -1, False)


def test_long_pairs_are_aligned_without_kaldis_matrix(monkeypatch) -> None:
    # Kaldi's alignment keeps a (len(ref) + 1) x (len(hyp) + 1) matrix: 12 GiB for a 56k-character line pair.
    # Here it fails as it would beyond 2**24 cells; a 5k-character pair must be aligned anyway, as Kaldi aligns it.
    align = _kaldialign.align

    def bounded_align(a, b, eps, sclite_mode):
        if (len(a) + 1) * (len(b) + 1) > 1 << 24:
            raise MemoryError("std::bad_alloc")
        return align(a, b, eps, sclite_mode)

    rng = random.Random(2)
    ref = "".join(rng.choice("abcdefgh ") for _ in range(5000))
    hyp = "".join(c if rng.random() > 0.1 else rng.choice("abcdefgh ") for c in ref)
    monkeypatch.setattr(_kaldialign, "align", bounded_align)  # where the scoring modules look it up
    result = scoring.score({"u": ref}, {"u": hyp}, "char", align=True)
    monkeypatch.undo()
    assert_kaldis(result)


@pytest.mark.parametrize(
    ("ref", "hyp", "split"),
    [("A B", "B C", (0, 1, 1)), ("A B C", "B C D", (0, 1, 1)), ("A B", "C D", (2, 0, 0)), ("A", "B A", (0, 0, 1))],
)
def test_ties_are_broken_as_kaldi_does(ref: str, hyp: str, split: tuple[int, int, int]) -> None:
    counts = scoring.score({"u": ref}, {"u": hyp}).totals
    assert (counts.sub, counts.dele, counts.ins) == split


def test_real_an4_file_scores_against_itself() -> None:
    needs_corpora()
    refs = scoring.read_transcripts(AN4_TEST)
    result = scoring.score(refs, refs)
    assert len(refs) == 130 and refs["an406-fcaw-b"] == "RUBOUT G M E F THREE NINE"
    assert scoring.kaldi_line(result.totals) == "%WER 0.00 [ 0 / 773, 0 ins, 0 del, 0 sub ]"


def test_unicode_composed_equals_decomposed() -> None:
    composed, decomposed = "Noël à l'école", unicodedata.normalize("NFD", "Noël à l'école")
    assert composed != decomposed
    for unit in scoring.UNITS:
        assert scoring.score({"u": composed}, {"u": decomposed}, unit).totals.err == 0


def test_normalization_options() -> None:
    refs, hyps = {"u": "Bonjour, le <sil> MONDE !"}, {"u": "bonjour le monde"}
    assert scoring.score(refs, hyps).totals.err == 4
    loose = scoring.score(refs, hyps, lowercase=True, remove_punct=True, ignore_words=["<SIL>"])
    assert loose.totals.err == 0 and loose.totals.ref_tokens == 3


# ---------------------------------------------------------------------------
# Reading files


def test_read_kaldi_trn_and_plain(tmp_path: Path) -> None:
    kaldi = write(tmp_path / "text", "a1 hello  world\na2\n\na3 (laughs) yes\n")
    trn = write(tmp_path / "hyp.trn", "hello world (a1)\n(a2)\n(laughs) yes (a3)\n")
    plain = write(tmp_path / "lines.txt", "hello world\n\nyes\n")
    expected = {"a1": "hello  world", "a2": "", "a3": "(laughs) yes"}
    assert scoring.read_transcripts(kaldi) == expected
    assert scoring.read_transcripts(trn) == {"a1": "hello world", "a2": "", "a3": "(laughs) yes"}
    assert scoring.read_transcripts(plain, "plain") == {"1": "hello world", "2": "", "3": "yes"}
    assert scoring.read_transcripts(plain, "kaldi") == {"hello": "world", "yes": ""}


@pytest.mark.parametrize(
    ("content", "format", "message"),
    [
        ("a b (u1)\nc d\n", "auto", r"x:2: no utterance id"),
        ("u1 a\nu2 b\nu1 c\n", "kaldi", r"x:3: duplicate utterance id 'u1' \(first on line 1\)"),
        ("a (u1)\n\nb (u1)\n", "trn", r"x:3: duplicate utterance id 'u1'"),
        ("u1 ok\nu2 caf\xe9\n".encode("latin-1"), "kaldi", r"x:2: not UTF-8: byte 0xE9 at byte 7 of the line"),
        ("u1 ok\n".encode("utf-16"), "kaldi", r"x:1: file is UTF-16"),
    ],
)
def test_bad_input_names_file_and_line(tmp_path: Path, content, format: str, message: str) -> None:
    path = tmp_path / "x"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    with pytest.raises(ValueError, match=re.escape(str(tmp_path)) + "/" + message):
        scoring.read_transcripts(path, format)


def test_transcripts_read_as_in_a_data_dir(tmp_path: Path) -> None:
    # U+2028 (line separator) and U+0085 (next line) are white space inside a transcript, not line ends:
    # the scorer and the data dir read lines with the same reader (asr.data.datadir.read_lines), split on \n only.
    text = "a hello\u2028world\nb one\x85two three\nc x\x0cy\u2029z\r\n"
    write(tmp_path / "text", text)
    write(tmp_path / "wav.scp", "a /x/a.wav\nb /x/b.wav\nc /x/c.wav\n")
    write(tmp_path / "utt2spk", "a s\nb s\nc s\n")
    table = read_table(tmp_path / "text")
    assert table == {"a": "hello\u2028world", "b": "one\x85two three", "c": "x\x0cy\u2029z"}
    assert validate_data_dir(tmp_path).text == table
    transcripts = scoring.read_transcripts(tmp_path / "text")
    assert transcripts == {**table, "c": "x\x0cy\u2029z\r"}  # Kaldi's parsers take the \r for white space
    assert {utt: normalize_text(t) for utt, t in transcripts.items()} == {
        utt: normalize_text(t) for utt, t in table.items()
    }
    result = scoring.score(transcripts, {"a": "hello world", "b": "one two", "c": "x y"}, align=True)
    assert scoring.kaldi_line(result.totals) == "%WER 25.00 [ 2 / 8, 0 ins, 2 del, 0 sub ]"
    assert [len(utt.ref) for utt in result.utts] == [2, 3, 3]


def test_detect_format() -> None:
    assert scoring.detect_format(["", "A B (utt-1)"]) == "trn"
    assert scoring.detect_format(["utt-1 A B"]) == "kaldi"
    assert scoring.detect_format([]) == "kaldi"


# ---------------------------------------------------------------------------
# Pairing modes


REFS = {"a": "x y", "b": "z", "c": "w w"}
HYPS = {"a": "x y", "b": "q", "d": "extra"}


def test_strict_mode_refuses_unpaired_ids() -> None:
    message = "1 references without hypothesis (c), 1 hypotheses without reference (d)"
    with pytest.raises(ValueError, match=re.escape(message)):
        scoring.score(REFS, HYPS)


def test_present_mode_skips_refs_without_hyp() -> None:
    result = scoring.score(REFS, HYPS, mode="present")
    assert [u.utt_id for u in result.utts] == ["a", "b"]
    assert (result.missing_hyp, result.missing_ref, result.partial) == (("c",), ("d",), True)
    line = scoring.kaldi_line(result.totals, partial=result.partial)
    assert line == "%WER 33.33 [ 1 / 3, 0 ins, 0 del, 1 sub ] [PARTIAL]"
    assert scoring.scored_line(result) == (
        "Scored 2 sentences, 1 not present in hyp. Ignored 1 hypotheses without reference."
    )


def test_all_mode_counts_missing_hyp_as_deletions() -> None:
    result = scoring.score(REFS, HYPS, mode="all")
    assert result.totals == scoring.ErrorCounts(snt=3, ref_tokens=5, corr=2, sub=1, dele=2, ins=0, sent_err=2)


# ---------------------------------------------------------------------------
# Reports


@pytest.fixture(scope="module")
def an4_result() -> scoring.ScoreResult:
    """AN4 test set against a hypothesis with known errors."""
    needs_corpora()
    refs = scoring.read_transcripts(AN4_TEST)
    hyps = {utt: text.replace("THREE", "TREE").replace("RUBOUT ", "") for utt, text in refs.items()}
    return scoring.score(refs, hyps)


def test_sclite_table_per_speaker(an4_result: scoring.ScoreResult) -> None:
    table = scoring.sclite_table(an4_result, scoring.speaker_from_pattern(AN4_SPEAKER), title="hyp")
    rows = [line.replace("|", " ").split() for line in table.splitlines() if line.count("|") == 4]
    assert rows[0] == ["SPKR", "#", "Snt", "#", "Wrd", "Corr", "Sub", "Del", "Ins", "Err", "S.Err"]
    speakers = rows[1:-1]
    assert len(speakers) == 10 and speakers[0][0] == "fcaw"
    assert sum(int(row[1]) for row in speakers) == 130
    totals = an4_result.totals
    err = f"{100 * totals.err / totals.ref_tokens:.1f}"
    assert rows[-1][:3] == ["Sum/Avg", "130", "773"] and rows[-1][7] == err
    # Every line of the box has the same width.
    assert len({len(line) for line in table.splitlines()[2:]}) == 1


def test_speakers_from_utt2spk(tmp_path: Path) -> None:
    result = scoring.score(REFS, HYPS, mode="present")
    utt2spk = scoring.read_utt2spk(write(tmp_path / "utt2spk", "a s1\nb s2\nc s1\n"))
    per_speaker = scoring.speaker_counts(result, scoring.speaker_from_map(utt2spk))
    assert list(per_speaker) == ["s1", "s2"] and per_speaker["s2"].sub == 1
    with pytest.raises(ValueError, match="no speaker for utterance 'b'"):
        scoring.speaker_counts(result, scoring.speaker_from_map({"a": "s1"}))


@pytest.mark.parametrize(("pattern", "message"), [("an4", "needs a group"), ("(", "not a regular expression")])
def test_bad_speaker_pattern(pattern: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        scoring.speaker_from_pattern(pattern)


def test_markdown_row() -> None:
    counts = scoring.ErrorCounts(snt=130, ref_tokens=773, corr=730, sub=40, dele=3, ins=3, sent_err=16)
    assert scoring.markdown_header().splitlines()[0] == "| dataset | Snt | Wrd | Corr | Sub | Del | Ins | Err | S.Err |"
    assert scoring.markdown_row("test", counts) == "| test | 130 | 773 | 94.4 | 5.2 | 0.4 | 0.4 | 6.0 | 12.3 |"


def test_alignment_rows_line_up() -> None:
    ops = scoring.edit_ops("the big cat sat".split(), "a big cat sat down".split())
    ref, hyp, evaluation = scoring.alignment_rows(ops)
    assert ref == "the big cat sat ****"
    assert hyp == "a   big cat sat down"
    assert evaluation == "S               I"
    ref, hyp, evaluation = scoring.alignment_rows(scoring.edit_ops(["hello", "you"], ["hello"]))
    assert (ref, hyp, evaluation) == ("hello you", "hello ***", "      D")


def test_pra_shows_char_spaces() -> None:
    result = scoring.score({"u": "a b"}, {"u": "ab"}, "char")
    assert scoring.pra_text(result) == (
        "id: (u)\nScores: (#C #S #D #I) 2 0 1 0\nREF:  a <space> b\nHYP:  a ******* b\nEval:   D\n"
    )


def test_confusions_most_frequent_first(an4_result: scoring.ScoreResult) -> None:
    found = scoring.confusions(an4_result)
    assert found.substitutions[0][0] == ("THREE", "TREE")
    assert found.deletions[0][0] == "RUBOUT"
    assert [n for _, n in found.substitutions] == sorted((n for _, n in found.substitutions), reverse=True)
    report = scoring.confusion_report(found, top=1)
    assert "THREE ==> TREE" in report and "DELETIONS" in report


def test_bootstrap_interval(an4_result: scoring.ScoreResult) -> None:
    interval = scoring.bootstrap_interval(an4_result, draws=500, seed=3)
    assert interval == scoring.bootstrap_interval(an4_result, draws=500, seed=3)
    assert interval.low < an4_result.totals.rate < interval.high
    assert abs(interval.mean - an4_result.totals.rate) < 0.01
    line = scoring.bootstrap_line(interval)
    assert re.fullmatch(r"%WER \d+\.\d\d 95% Conf Interval \[ \d+\.\d\d, \d+\.\d\d \]", line)
    assert scoring.bootstrap_interval(scoring.score({"u": ""}, {"u": "a"})) is None


def test_summary_is_plain_json(an4_result: scoring.ScoreResult) -> None:
    data = json.loads(json.dumps(scoring.summary(an4_result, scoring.speaker_from_pattern(AN4_SPEAKER), top=2)))
    assert data["totals"]["err"] == an4_result.totals.err
    assert len(data["speakers"]) == 10 and len(data["utterances"]) == 130
    (ref, hyp), count = scoring.confusions(an4_result).substitutions[0]
    assert data["confusions"]["substitutions"][0] == {"ref": ref, "hyp": hyp, "count": count}
    empty_ref = scoring.summary(scoring.score({"u": ""}, {"u": "a"}))
    assert json.loads(json.dumps(empty_ref))["totals"]["rate"] is None


# ---------------------------------------------------------------------------
# The command


def run_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="asr score")
    score_command.add_arguments(parser)
    return score_command.run(parser.parse_args(argv))


def test_help_line_survives_argparse() -> None:
    # asr.cli uses the docstring's first line as help, which argparse %-formats.
    parser = argparse.ArgumentParser(prog="asr")
    sub = parser.add_subparsers()
    sub.add_parser("score", help=score_command.__doc__.splitlines()[0])
    assert "Score hypotheses" in parser.format_help()


def test_command_writes_reports(tmp_path: Path, capsys) -> None:
    ref = write(tmp_path / "text", "spk1-u1 the cat sat\nspk2-u2 Le Chat\nspk2-u3 a\n")
    hyp = write(tmp_path / "hyp.trn", "the hat sat down (spk1-u1)\nle chat (spk2-u2)\n(spk2-u3)\n")
    out = tmp_path / "scoring"
    argv = ["--ref", str(ref), "--hyp", str(hyp), "--lowercase", "--spk-pattern", r"^(\w+)-", "--out-dir", str(out)]
    assert run_command(argv + ["--bootstrap", "50"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "%WER 50.00 [ 3 / 6, 1 ins, 1 del, 1 sub ]",
        "%CER 36.84 [ 7 / 19, 5 ins, 1 del, 1 sub ]",
        "%SER 66.67 [ 2 / 3 ]",
        "Scored 3 sentences, 0 not present in hyp.",
        "Normalization: lowercase",
    ]
    names = {p.name for p in out.iterdir()}
    assert {"wer", "wer.sclite", "wer.pra", "wer.confusions", "cer", "results.json", "results.md"} <= names
    assert "95% Conf Interval" in (out / "wer").read_text().splitlines()[3]
    summary = json.loads((out / "results.json").read_text())
    assert summary["wer"]["speakers"]["spk1"]["err"] == 2 and summary["normalization"]["lowercase"] is True
    assert f"| {tmp_path.name} | 3 | 6 | 66.7 | 16.7 | 16.7 | 16.7 | 50.0 | 66.7 |" in (out / "results.md").read_text()
    assert "hat sat down" in (out / "wer.pra").read_text()


def test_command_writes_the_library_reports(tmp_path: Path, capsys) -> None:
    # The command is thin: what it prints and writes is console_lines and report_files of score_metrics.
    ref = write(tmp_path / "text", "s1-u1 the cat sat\ns2-u2 a b c\n")
    hyp = write(tmp_path / "hyp", "s1-u1 the hat sat down\ns2-u2 a c\n")
    out = tmp_path / "scoring"
    argv = ["--ref", str(ref), "--hyp", str(hyp), "--metric", "cer", "wer", "cer", "--spk-pattern", r"^(\w+)-"]
    assert run_command(argv + ["--ignore-words", "down", "--top", "3", "--out-dir", str(out)]) == 0
    refs, hyps = scoring.read_transcripts(ref), scoring.read_transcripts(hyp)
    normalization = {"lowercase": False, "remove_punct": False, "ignore_words": ["down"]}
    results = scoring.score_metrics(refs, hyps, ["cer", "wer", "cer"], align=True, **normalization)
    assert list(results) == ["cer", "wer"]
    assert capsys.readouterr().out == "\n".join(scoring.console_lines(results, **normalization)) + "\n"
    files = scoring.report_files(
        results, scoring.speaker_from_pattern(r"^(\w+)-"), ref=ref, hyp=hyp, mode="strict",
        normalization=normalization, bootstrap=1000, top=3,
    )
    assert {p.name: p.read_text() for p in out.iterdir()} == files
    assert scoring.dataset_name(ref) == tmp_path.name and scoring.dataset_name(tmp_path / "hyp.trn") == "hyp"
    assert scoring.normalization_line() is None
    assert scoring.normalization_line(True, True, ["uh", "um"]) == (
        "Normalization: lowercase, remove-punct, ignore-words uh um"
    )


def test_command_reports_bad_input_as_value_error(tmp_path: Path) -> None:
    ref = write(tmp_path / "ref", "u1 a\n")
    hyp = write(tmp_path / "hyp", "u2 a\n")
    with pytest.raises(ValueError, match="mode strict: 1 references without hypothesis"):
        run_command(["--ref", str(ref), "--hyp", str(hyp)])


def test_command_refuses_report_paths_it_cannot_write_before_scoring(tmp_path: Path) -> None:
    ref = write(tmp_path / "ref", "u1 a\n")
    taken = write(tmp_path / "taken", "")
    with pytest.raises(ValueError, match=f"^--out-dir {re.escape(str(taken))}: exists and is not a directory$"):
        run_command(["--ref", str(ref), "--hyp", str(ref), "--out-dir", str(taken)])
    with pytest.raises(ValueError, match=f"^--json {re.escape(str(tmp_path))}: is a directory"):
        run_command(["--ref", str(ref), "--hyp", str(ref), "--json", str(tmp_path)])


def test_command_mode_all_scores_missing_hypotheses_as_deletions(tmp_path: Path, capsys) -> None:
    # A decoded test set where utterance c could not be featurized: Kaldi's compute-wer --mode=all deletes its words
    # and still marks the rate partial; the default (strict) refuses, present leaves c out.
    ref = write(tmp_path / "ref", "a x y\nb z\nc w w\n")
    hyp = write(tmp_path / "hyp", "a x y\nb q\n")
    out = tmp_path / "scoring"
    assert run_command(["--ref", str(ref), "--hyp", str(hyp), "--mode", "all", "--out-dir", str(out)]) == 0
    assert capsys.readouterr().out.splitlines()[:4] == [
        "%WER 60.00 [ 3 / 5, 0 ins, 2 del, 1 sub ] [PARTIAL]",
        "%CER 57.14 [ 4 / 7, 0 ins, 3 del, 1 sub ] [PARTIAL]",
        "%SER 66.67 [ 2 / 3 ]",
        "Scored 3 sentences, 1 not present in hyp.",
    ]
    summary = json.loads((out / "results.json").read_text())
    assert summary["wer"]["missing_hyp"] == ["c"] and summary["wer"]["confusions"]["deletions"] == [
        {"ref": "w", "count": 2}
    ]
    assert "Scores: (#C #S #D #I) 0 0 2 0" in (out / "wer.pra").read_text()
    with pytest.raises(ValueError, match="mode strict: 1 references without hypothesis \\(c\\)"):
        run_command(["--ref", str(ref), "--hyp", str(hyp)])


def test_plain_text_read_as_kaldi_text_is_named_with_what_to_do(tmp_path: Path, capsys) -> None:
    """Sentences without ids, scored without --format plain: their first words are taken for ids."""
    # A repeated first word: a Kaldi file never repeats an id.
    ref = write(tmp_path / "ref.txt", "the cat sat on the mat\nthe dog ran\n")
    with pytest.raises(ValueError, match=r"ref.txt:2: duplicate utterance id 'the' \(first on line 1\); without ids, "
                                         r"one sentence a line\? read it as plain \(asr score --format plain\)$"):
        run_command(["--ref", str(ref), "--hyp", str(ref)])
    with pytest.raises(ValueError, match=r"\(first on line 1\)$"):  # said to be Kaldi text: no second guess
        run_command(["--ref", str(ref), "--hyp", str(ref), "--format", "kaldi"])
    # As many lines, "ids" that do not pair and hold no digit: strict refuses, with the hint; all warns.
    ref = write(tmp_path / "r.txt", "hello world\ngood morning\nhow are you\n")
    hyp = write(tmp_path / "h.txt", "hello word\ngood mourning\nwho are you\n")
    hint = (f"{ref} and {hyp} look like plain text, one sentence a line (as many lines, and first words such as "
            "'how' taken for ids do not pair): if they have no ids, give --format plain")
    with pytest.raises(ValueError, match=f"^mode strict: .*; {re.escape(hint)}$"):
        run_command(["--ref", str(ref), "--hyp", str(hyp)])
    assert run_command(["--ref", str(ref), "--hyp", str(hyp), "--mode", "all"]) == 0
    assert capsys.readouterr().err == f"asr score: warning: {hint}\n"
    assert run_command(["--ref", str(ref), "--hyp", str(hyp), "--format", "plain"]) == 0
    assert capsys.readouterr().out.startswith("%WER 42.86 [ 3 / 7,")


def test_kaldi_files_whose_ids_do_not_pair_get_no_plain_text_hint(tmp_path: Path, capsys) -> None:
    """Ids that number utterances (digits) are ids: a mismatch is the scorer's plain error."""
    ref = write(tmp_path / "ref", "an251-fash-b A B\nan252-fash-b C\n")
    hyp = write(tmp_path / "hyp", "an251-fash-b A B\nan253-fash-b C\n")
    with pytest.raises(ValueError, match="use mode present or all$"):
        run_command(["--ref", str(ref), "--hyp", str(hyp)])
    assert run_command(["--ref", str(ref), "--hyp", str(hyp), "--mode", "present"]) == 0
    assert capsys.readouterr().err == ""
    assert score_command.looks_plain(ref, hyp, {"u": "a"}, {"v": "a"}, "trn") is None

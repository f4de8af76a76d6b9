"""Beam search on synthetic posteriors whose answer is known, with real LMs."""

from __future__ import annotations

import re
from typing import Mapping, Sequence

import pytest
import torch

from asr.decode.beam_search import (
    BeamSearchDecoder,
    BeamSearchOptions,
    LexiconReport,
    read_lexicon,
    vocabulary_mismatch,
    write_lexicon,
)
from asr.data.text import Tokenizer
from asr.decode.lm import build_lm
from test_lm import an4_lines, copiste_lines

torch.set_num_threads(1)

SPACING = 3  # frames from one token spike to the next


def peaky_log_probs(
    frames: Sequence[Mapping[int, float]], vocab_size: int, noise: float = 0.3, seed: int = 0
) -> torch.Tensor:
    """(T, V) log-posteriors like a trained CTC model's, with a known answer.

    Frame t gives ``frames[t]``'s probabilities to its tokens and the rest to
    the blank; log-normal noise keeps the decoder from seeing a perfect input.
    """
    probs = torch.full((len(frames), vocab_size), 1e-3)
    for t, peaks in enumerate(frames):
        for token, p in peaks.items():
            probs[t, token] = p
        probs[t, 0] = max(1.0 - sum(peaks.values()), 1e-3)
    noise_ = noise * torch.randn(probs.shape, generator=torch.Generator().manual_seed(seed))
    return (probs.log() + noise_).log_softmax(-1)


def spike_frames(ids: Sequence[int], peak: float = 0.9) -> list[dict[int, float]]:
    """One frame per token at 1 + i * SPACING, blank frames around them."""
    frames: list[dict[int, float]] = [{} for _ in range(len(ids) * SPACING + 1)]
    for i, token in enumerate(ids):
        frames[1 + i * SPACING] = {token: peak}
    return frames


def spike_times(ids: Sequence[int]) -> tuple[int, ...]:
    return tuple(1 + i * SPACING for i in range(len(ids)))


def with_close_call(tokenizer: Tokenizer, text: str, position: int, rival: str) -> torch.Tensor:
    """Spikes for ``text``, except that the character at ``position`` shares
    its frame with ``rival``, which the acoustics slightly prefer."""
    ids = tokenizer.encode(text)
    frames = spike_frames(ids)
    index = tokenizer.tokens.index
    frames[1 + position * SPACING] = {index(rival): 0.5, ids[position]: 0.4}
    return peaky_log_probs(frames, len(tokenizer))


@pytest.fixture(scope="module")
def an4(tmp_path_factory):
    """AN4 tokens, lexicon and word trigram LM."""
    directory = tmp_path_factory.mktemp("an4")
    lines = an4_lines()
    tokenizer = Tokenizer.from_texts(lines)
    words = sorted({w for line in lines for w in line.split()})
    write_lexicon(words, tokenizer.tokens, directory / "lexicon.txt")
    lm = build_lm(lines, directory / "lm.arpa", use_lmplz=False)
    return tokenizer, directory / "lexicon.txt", directory / "lm.arpa", lm


def test_write_lexicon_reports_unspellable_words(tmp_path, caplog):
    tokens = Tokenizer.from_texts(["ENTER SIX"]).tokens
    path = tmp_path / "lexicon.txt"
    report = write_lexicon(["SIX", "SIX", "NAÏVE", "SIX|TEN", "<unk>", "ENTER"], tokens, path)
    assert report == LexiconReport(written=2, unspellable={"NAÏVE": "AVÏ", "SIX|TEN": "|"})
    assert "2 word(s) left out" in caplog.text
    assert path.read_text(encoding="utf-8") == "SIX\tS I X |\nENTER\tE N T E R |\n"
    assert read_lexicon(path, tokens) == {"SIX": [("S", "I", "X", "|")], "ENTER": [("E", "N", "T", "E", "R", "|")]}


@pytest.mark.parametrize(
    "text, message",
    [
        ("SIX\tS I X\nTWO\n", "2: expected 'word token...', got 'TWO'"),
        ("SIX\tS I X\n\nTWO\tT W O\n", "2: expected 'word token...', got ''"),
        ("SIX\tS I X\nÉTÉ\tÉ T É\n", "2: token(s) ['É', 'É'] of 'ÉTÉ' are not in the token list"),
    ],
)
def test_read_lexicon_names_the_bad_line(tmp_path, text, message):
    path = tmp_path / "lexicon.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=f"^{re.escape(f'{path}:{message}')}"):
        read_lexicon(path, Tokenizer.from_texts(["SIX TWO"]).tokens)


def test_read_lexicon_refuses_an_empty_file(tmp_path):
    # flashlight takes an empty lexicon and decodes every utterance to nothing.
    path = tmp_path / "lexicon.txt"
    path.write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}: empty lexicon"):
        read_lexicon(path)


@pytest.mark.parametrize("option", ["lexicon", "lm"])
def test_decoder_refuses_an_empty_path(option):
    # '--lexicon "$LEXICON"' with the variable unset: not the current directory, not "no lexicon".
    tokens = Tokenizer.from_texts(["SIX"]).tokens
    with pytest.raises(ValueError, match=f"^{option}: empty path"):
        BeamSearchDecoder(tokens, **{option: ""})


def test_vocabulary_mismatch_ignores_lm_symbols():
    assert vocabulary_mismatch(["A", "B", "<unk>"], ["<s>", "</s>", "<unk>", "B", "C"]) == (["C"], ["A"])


def test_recovers_a_noisy_sentence_and_its_frames():
    tokenizer = Tokenizer.from_texts(["ENTER SIX TWO FOUR"])
    ids = tokenizer.encode("ENTER SIX TWO FOUR")
    (best,) = BeamSearchDecoder(tokenizer.tokens).decode(peaky_log_probs(spike_frames(ids), len(tokenizer)))[0]
    assert best.text == "ENTER SIX TWO FOUR"
    assert best.tokens == tuple(ids)
    assert best.timesteps == spike_times(ids)


def test_batch_with_lengths_matches_single_utterances():
    texts = ["NINE EIGHT", "H I N I C H SEVEN"]
    tokenizer = Tokenizer.from_texts(texts)
    singles = [
        peaky_log_probs(spike_frames(tokenizer.encode(t)), len(tokenizer), seed=i) for i, t in enumerate(texts)
    ]
    batch = torch.nn.utils.rnn.pad_sequence(singles, batch_first=True)
    decoder = BeamSearchDecoder(tokenizer.tokens, options=BeamSearchOptions(nbest=3))
    batched = decoder.decode(batch, [len(s) for s in singles])
    assert batched == [decoder.decode(s)[0] for s in singles]
    assert [hyps[0].text for hyps in batched] == texts
    assert all(len(hyps) == 3 and hyps[0].score > hyps[1].score >= hyps[2].score for hyps in batched)
    with pytest.raises(ValueError, match="lengths must be"):
        decoder.decode(batch, [len(batch[0]) + 1, 1])


def test_lexicon_allows_only_its_words(an4):
    tokenizer, lexicon, _, _ = an4
    log_probs = with_close_call(tokenizer, "ENTER SIX", 8, rival="C")
    assert BeamSearchDecoder(tokenizer.tokens).decode(log_probs)[0][0].text == "ENTER SIC"
    best = BeamSearchDecoder(tokenizer.tokens, lexicon).decode(log_probs)[0][0]
    assert best.text == "ENTER SIX"
    # The word-closing "|" after SIX is the decoder's, not the model's: not reported.
    ids = tokenizer.encode("ENTER SIX")
    assert (best.tokens, best.timesteps) == (tuple(ids), spike_times(ids))


def test_word_lm_settles_a_close_call(an4):
    tokenizer, lexicon, lm_path, lm = an4
    # "P I T..." (PITTSBURGH) is frequent in AN4, "P I D" is not.
    assert lm.log10_prob("T", ["P", "I"]) > lm.log10_prob("D", ["P", "I"]) + 1
    log_probs = with_close_call(tokenizer, "P I T", 4, rival="D")

    def best(lm_weight: float) -> str:
        decoder = BeamSearchDecoder(tokenizer.tokens, lexicon, lm_path, BeamSearchOptions(lm_weight=lm_weight))
        return decoder.decode(log_probs)[0][0].text

    assert best(0.0) == "P I D"
    assert best(1.0) == "P I T"


def test_char_lm_settles_a_close_call(tmp_path):
    lines = copiste_lines()
    tokenizer = Tokenizer.from_texts(lines)
    lm_path = tmp_path / "char.arpa"
    build_lm(lines, lm_path, unit="char", use_lmplz=False)
    text = "la fédération de football"
    log_probs = with_close_call(tokenizer, text, text.index("football"), rival="t")

    def best(lm: object) -> str:
        return BeamSearchDecoder(tokenizer.tokens, lm=lm).decode(log_probs)[0][0].text

    assert best(None) == "la fédération de tootball"
    assert best(lm_path) == text


def test_reports_lm_words_missing_from_the_lexicon(an4, tmp_path):
    tokenizer, _, lm_path, lm = an4
    lexicon = tmp_path / "small.txt"
    write_lexicon(["SIX", "TWO", "SIXTWO"], tokenizer.tokens, lexicon)
    decoder = BeamSearchDecoder(tokenizer.tokens, lexicon, lm_path)
    assert decoder.unknown_to_lm == ("SIXTWO",)
    assert set(decoder.lm_only) == set(lm.vocabulary) - {"<s>", "</s>", "<unk>", "SIX", "TWO"}


def test_refuses_an_lm_or_option_of_the_wrong_kind(an4, tmp_path):
    tokenizer, lexicon, word_lm, _ = an4
    char_lm = tmp_path / "char.arpa"
    build_lm(an4_lines(), char_lm, unit="char", order=3, use_lmplz=False)
    with pytest.raises(ValueError, match="a character LM: decode without a lexicon"):
        BeamSearchDecoder(tokenizer.tokens, lexicon, char_lm)
    with pytest.raises(ValueError, match="a word LM: decode with a lexicon"):
        BeamSearchDecoder(tokenizer.tokens, lm=word_lm)
    with pytest.raises(ValueError, match="need a lexicon"):
        BeamSearchDecoder(tokenizer.tokens, options=BeamSearchOptions(word_score=1.0))


def test_a_malformed_lm_given_to_the_decoder_is_reported_with_its_line(an4, tmp_path):
    tokenizer, lexicon, word_lm, _ = an4
    lines = word_lm.read_text(encoding="utf-8").splitlines()
    bigram = lines.index("\\2-grams:") + 2
    prob, rest = lines[bigram].split("\t", 1)
    lines[bigram] = f"oops\t{rest}"
    bad = tmp_path / "bad.arpa"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=rf"^{re.escape(str(bad))}:{bigram + 1}: .*'oops' is not a number"):
        BeamSearchDecoder(tokenizer.tokens, lexicon, bad)


def test_kenlm_loading_banner_reaches_neither_stdout_nor_stderr(an4, capfd):
    """KenLM prints 'Loading the LM will be faster if you build a binary file', a ruler and stars from C++, on the
    process's file descriptors: the user's terminal (and asr transcribe's stdout) must not get them."""
    tokenizer, lexicon, lm_path, _ = an4
    print("before", flush=True)
    decoder = BeamSearchDecoder(tokenizer.tokens, lexicon, lm_path)
    print("after", flush=True)
    out, err = capfd.readouterr()
    assert out == "before\nafter\n" and err == ""
    ids = tokenizer.encode("P I T")
    assert decoder.decode(peaky_log_probs(spike_frames(ids), len(tokenizer)))[0][0].text == "P I T"
    # A file KenLM refuses is still reported, in one line naming it.
    bad = lm_path.parent / "cut.arpa"
    bad.write_text(lm_path.read_text(encoding="utf-8")[:200], encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(str(bad))):
        BeamSearchDecoder(tokenizer.tokens, lexicon, bad)
    print("restored", flush=True)
    assert capfd.readouterr() == ("restored\n", "")

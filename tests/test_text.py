import pytest

from asr.data.corpora.an4 import read_transcription
from asr.data.text import BLANK, WORD_BOUNDARY, Tokenizer, UnknownCharacterError, normalize_text


def test_normalize_is_off_by_default_but_collapses_space_and_composes_unicode():
    assert normalize_text("  Le  cafe\u0301\tFORT ") == "Le café FORT"


def test_normalize_options():
    text = "Euh, le Café -- uh FORT!"
    assert normalize_text(text, lowercase=True) == "euh, le café -- uh fort!"
    assert normalize_text(text, remove_punct=True) == "Euh le Café uh FORT"
    assert normalize_text(text, lowercase=True, remove_punct=True, ignore_words=["EUH", "uh"]) == "le café fort"


def test_tokenizer_round_trip_on_an4_transcripts(an4_root):
    texts = list(read_transcription(an4_root / "etc" / "an4_train.transcription").values())
    tokenizer = Tokenizer.from_texts(texts)
    assert tokenizer.tokens[:2] == (BLANK, WORD_BOUNDARY)
    assert set(tokenizer.tokens[2:]) == set("ABCDEFGHIJKLMNOPQRSTUVWXYZ'") & set("".join(texts))
    for text in texts:
        ids = tokenizer.encode(text)
        assert 0 not in ids
        assert tokenizer.decode(ids) == text


def test_encode_puts_boundaries_between_words_only():
    tokenizer = Tokenizer.from_texts(["AB C"])
    assert tokenizer.encode("AB C") == [2, 3, 1, 4]
    assert tokenizer.decode([1, 2, 1, 1, 3, 1]) == "A B"


def test_unknown_character_is_named():
    with pytest.raises(UnknownCharacterError, match="'é'"):
        Tokenizer.from_texts(["abc"]).encode("abé")


def test_tokens_file_round_trip_and_errors(tmp_path):
    tokenizer = Tokenizer.from_texts(["héllo wörld"])
    tokenizer.write(tmp_path / "tokens.txt")
    assert Tokenizer.read(tmp_path / "tokens.txt") == tokenizer
    (tmp_path / "bad.txt").write_text("<blk> 0\n| 2\n")
    with pytest.raises(ValueError, match="bad.txt:2"):
        Tokenizer.read(tmp_path / "bad.txt")

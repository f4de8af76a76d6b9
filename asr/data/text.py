"""Text normalization and the character token inventory.

One normalization serves training, decoding and scoring, so that a model is
never scored against text it was not trained to produce.  Tokens are
characters plus a word-boundary symbol ``|`` (flashlight's silence token) and
the CTC blank ``<blk>`` at index 0.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

BLANK = "<blk>"
WORD_BOUNDARY = "|"

_WHITESPACE = re.compile(r"\s+")


def normalize_text(
    text: str,
    lowercase: bool = False,
    remove_punct: bool = False,
    ignore_words: Iterable[str] = (),
) -> str:
    """Return ``text`` in NFC form with runs of white space collapsed.

    Unicode NFC matters for handwriting and any non-English text: an ``é``
    typed as ``e`` + combining accent must equal the precomposed one.
    The options are off by default: case folding, removing punctuation
    (Unicode category P*) and dropping filler words such as ``<sil>`` or
    ``uh``.  ``ignore_words`` is compared after case folding when it is on.
    """
    text = unicodedata.normalize("NFC", text)
    if lowercase:
        text = text.casefold()
    if remove_punct:
        text = "".join(" " if unicodedata.category(c).startswith("P") else c for c in text)
    words = text.split()
    if ignore_words:
        drop = {w.casefold() if lowercase else w for w in ignore_words}
        words = [w for w in words if w not in drop]
    return " ".join(words)


def ctc_min_frames(labels: Sequence[int]) -> int:
    """Frames CTC needs for a label sequence: one per label, plus a blank between repeats."""
    return len(labels) + sum(1 for a, b in zip(labels, labels[1:]) if a == b)


class UnknownCharacterError(ValueError):
    """A transcript holds a character that the token list does not."""


@dataclass(frozen=True)
class Tokenizer:
    """Maps normalized text to CTC token ids and back.

    ``tokens[0]`` is always the blank and ``tokens[1]`` the word boundary.
    """

    tokens: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.tokens) < 2 or self.tokens[0] != BLANK or self.tokens[1] != WORD_BOUNDARY:
            raise ValueError(f"token list must start with {BLANK!r} and {WORD_BOUNDARY!r}")
        if len(set(self.tokens)) != len(self.tokens):
            raise ValueError("token list has duplicates")
        object.__setattr__(self, "_index", {t: i for i, t in enumerate(self.tokens)})

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> "Tokenizer":
        """Build the inventory from training transcripts (sorted, so reproducible)."""
        chars = {c for text in texts for c in text if not c.isspace()}
        chars.discard(WORD_BOUNDARY)
        return cls((BLANK, WORD_BOUNDARY, *sorted(chars)))

    @classmethod
    def read(cls, path: str | Path) -> "Tokenizer":
        """Read a Kaldi-style ``tokens.txt`` (``symbol id`` per line)."""
        tokens = []
        for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
            fields = line.split()
            if len(fields) != 2 or not fields[1].isdigit() or int(fields[1]) != len(tokens):
                raise ValueError(f"{path}:{lineno}: expected '<symbol> {len(tokens)}', got {line!r}")
            tokens.append(fields[0])
        return cls(tuple(tokens))

    def write(self, path: str | Path) -> None:
        Path(path).write_text("".join(f"{t} {i}\n" for i, t in enumerate(self.tokens)), encoding="utf-8")

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``: characters, with ``|`` between words."""
        index = self._index  # type: ignore[attr-defined]
        ids = []
        for word_no, word in enumerate(text.split()):
            if word_no:
                ids.append(1)
            for c in word:
                if c not in index:
                    raise UnknownCharacterError(f"character {c!r} (U+{ord(c):04X}) is not in the token list")
                ids.append(index[c])
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        """Text of a token id sequence (blanks already removed)."""
        chars = [" " if i == 1 else self.tokens[i] for i in ids if i != 0]
        return " ".join("".join(chars).split())

"""N-gram language models in ARPA format, for the beam search decoder.

Estimation is interpolated modified Kneser-Ney (Chen & Goodman, 1998), the
smoothing that KenLM's ``lmplz`` implements.  ``lmplz`` is used when it is on
``PATH`` because it is fast and well tested on large text; the built-in
estimator below gives the same kind of model on machines without KenLM, which
is all a recipe on a small corpus needs.  Both write ARPA, which flashlight's
KenLM wrapper loads directly.

Word models predict the words of each line.  Character models predict the
tokens of :class:`asr.data.text.Tokenizer`: the characters of each line with
``|`` between words, so that a lexicon-free decoder can score exactly the
token sequence the acoustic model emits.
"""

from __future__ import annotations

import logging
import math
import shutil
import subprocess
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Literal, Mapping, Sequence

from asr.data.text import WORD_BOUNDARY

logger = logging.getLogger(__name__)

Unit = Literal["word", "char"]
NGram = tuple[str, ...]
# One table per order (index n - 1): n-gram -> (log10 probability, log10 backoff weight).
ArpaTables = list[dict[NGram, tuple[float, float]]]

BOS = "<s>"
EOS = "</s>"
UNK = "<unk>"
DEFAULT_ORDER: dict[str, int] = {"word": 3, "char": 6}
# The KenLM inside flashlight-text (the beam search's LM) is built for at most 6-grams.
MAX_DECODER_ORDER = 6
# Discounts KenLM uses with --discount_fallback when count-of-counts make the
# closed-form estimate impossible, as on tiny corpora.
FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)
# log10 probability of <s>, which is never predicted; the ARPA convention.
BOS_LOG10_PROB = -99.0
# How KenLM binary files (build_binary) start.
KENLM_BINARY_MAGIC = b"mmap lm "


def lm_units(line: str, unit: Unit = "word") -> list[str]:
    """Split a normalized text line into the units the LM predicts.

    ``"char"`` gives the same sequence as ``Tokenizer.encode`` but as strings:
    characters, and ``|`` between words (none at either end).
    """
    words = line.split()
    if unit == "word":
        units = words
    elif unit == "char":
        units = [c for word in words for c in (*word, WORD_BOUNDARY)][:-1]
    else:
        raise ValueError(f"unit must be 'word' or 'char', got {unit!r}")
    reserved = {BOS, EOS}.intersection(units)
    if reserved:
        raise ValueError(f"line {line!r} holds the reserved LM symbol(s) {sorted(reserved)}")
    return units


def count_ngrams(sentences: Iterable[Sequence[str]], order: int) -> list[Counter[NGram]]:
    """Raw counts of all n-grams up to ``order`` of ``<s> sentence </s>``.

    Only n-grams ending in a predicted unit are counted (so none ends in
    ``<s>``), and ``<s>`` occurs only at the start of an n-gram, as in KenLM.
    """
    counts: list[Counter[NGram]] = [Counter() for _ in range(order)]
    for sentence in sentences:
        padded = (BOS, *sentence, EOS)
        for end in range(1, len(padded)):
            for n in range(1, min(order, end + 1) + 1):
                counts[n - 1][padded[end - n + 1 : end + 1]] += 1
    return counts


def adjusted_counts(counts: Sequence[Mapping[NGram, int]]) -> list[dict[NGram, int]]:
    """Kneser-Ney adjusted counts: continuation counts below the top order.

    A lower-order n-gram is counted by how many distinct words precede it,
    because it is only used when the longer context was not seen.  N-grams
    starting with ``<s>`` cannot be extended to the left and keep raw counts.
    """
    adjusted = [dict(counts[-1])]
    for n in range(len(counts) - 1, 0, -1):
        continuation: Counter[NGram] = Counter(ngram[1:] for ngram in counts[n])
        adjusted.insert(0, {g: c if g[0] == BOS else continuation[g] for g, c in counts[n - 1].items()})
    return adjusted


def kneser_ney_discounts(counts: Iterable[int]) -> tuple[float, float, float] | None:
    """Discounts D1, D2, D3+ of one order from its count-of-counts.

    Chen & Goodman's estimate D_k = k - (k + 1) Y t_{k+1} / t_k with
    Y = t1 / (t1 + 2 t2).  When some t_k is zero or a discount falls outside
    (0, k], the estimate is meaningless and None is returned.
    """
    t = Counter(c for c in counts if c <= 4)
    if all(t[k] > 0 for k in range(1, 5)):
        y = t[1] / (t[1] + 2 * t[2])
        discounts = tuple(k - (k + 1) * y * t[k + 1] / t[k] for k in range(1, 4))
        if all(0 < d <= k for k, d in enumerate(discounts, 1)):
            return discounts  # type: ignore[return-value]
    return None


def _discount(count: int, discounts: tuple[float, float, float]) -> float:
    return discounts[min(count, 3) - 1]


def estimate_kneser_ney(sentences: Iterable[Sequence[str]], order: int) -> ArpaTables:
    """Interpolated modified Kneser-Ney estimate, as ARPA tables.

    p(w|h) = (a(hw) - D(a(hw))) / S(h) + gamma(h) p(w|h'), where S(h) sums the
    adjusted counts a(h.), gamma(h) is the discounted mass over S(h), and h'
    drops the oldest word of h.  Unigrams interpolate with the uniform
    distribution over the vocabulary (with ``<unk>``, without ``<s>``), so
    ``<unk>`` gets only that share.  In ARPA form the backoff weight of h is
    exactly gamma(h): an unseen hw gets gamma(h) p(w|h').
    """
    if order < 1:
        raise ValueError(f"order must be at least 1, got {order}")
    sentences = list(sentences)
    longest = max((len(s) for s in sentences), default=0) + 2
    if order > longest:
        logger.warning("no sentence has %d units with <s> and </s>: order lowered to %d", order, longest)
        order = longest
    adjusted = adjusted_counts(count_ngrams(sentences, order))
    vocabulary_size = len({g[0] for g in adjusted[0]} | {UNK})

    probs: list[dict[NGram, float]] = []
    gammas: list[dict[NGram, float]] = []  # gammas[n - 1]: contexts of the order-n distribution
    for n, table in enumerate(adjusted, 1):
        discounts = kneser_ney_discounts(table.values())
        if discounts is None:
            # KenLM fails here unless given --discount_fallback; small corpora
            # are legitimate in tests and demos, so do what that option does.
            logger.warning("order %d: no valid discounts from counts; using %s", n, FALLBACK_DISCOUNTS)
            discounts = FALLBACK_DISCOUNTS
        totals: dict[NGram, float] = defaultdict(float)
        mass: dict[NGram, float] = defaultdict(float)
        for ngram, count in table.items():
            totals[ngram[:-1]] += count
            mass[ngram[:-1]] += _discount(count, discounts)
        gamma = {h: mass[h] / totals[h] for h in totals}
        probs.append(
            {
                g: (c - _discount(c, discounts)) / totals[g[:-1]]
                + gamma[g[:-1]] * (probs[-1][g[1:]] if n > 1 else 1.0 / vocabulary_size)
                for g, c in table.items()
            }
        )
        gammas.append(gamma)
    probs[0].setdefault((UNK,), gammas[0][()] / vocabulary_size)

    backoffs = gammas[1:] + [{}]  # an n-gram's backoff is its gamma as an order-(n + 1) context
    tables: ArpaTables = [
        {g: (math.log10(p), math.log10(backoff[g]) if g in backoff else 0.0) for g, p in table.items()}
        for table, backoff in zip(probs, backoffs)
    ]
    tables[0][(BOS,)] = (BOS_LOG10_PROB, math.log10(backoffs[0][(BOS,)]) if order > 1 else 0.0)
    return tables


def write_arpa(tables: ArpaTables, path: str | Path) -> None:
    """Write ARPA tables, sorted so that the same text gives the same file."""
    order = len(tables)
    lines = ["\\data\\", *(f"ngram {n}={len(t)}" for n, t in enumerate(tables, 1)), ""]
    for n, table in enumerate(tables, 1):
        lines.append(f"\\{n}-grams:")
        for ngram in sorted(table):
            prob, backoff = table[ngram]
            fields = [f"{prob:.7g}", " ".join(ngram)]
            if n < order and backoff != 0.0:
                fields.append(f"{backoff:.7g}")
            lines.append("\t".join(fields))
        lines.append("")
    lines.append("\\end\\")
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def lmplz_command(order: int, arpa_path: str | Path, temp_dir: str | Path) -> list[str]:
    """KenLM ``lmplz`` arguments for an ARPA model read from standard input.

    ``--discount_fallback`` lets small corpora through; ``-S`` caps sorting
    memory so that it can run beside a training job.
    """
    return [
        "lmplz",
        *("-o", str(order)),
        "--discount_fallback",
        *("-S", "10%"),
        *("-T", str(temp_dir)),
        *("--arpa", str(arpa_path)),
    ]


def _run_lmplz(sentences: Iterable[Sequence[str]], order: int, arpa_path: Path) -> None:
    text = "".join(" ".join(s) + "\n" for s in sentences)
    with tempfile.TemporaryDirectory() as temp_dir:
        result = subprocess.run(
            lmplz_command(order, arpa_path, temp_dir), input=text, text=True, capture_output=True
        )
    if result.returncode:
        last = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise ValueError(f"{arpa_path}: lmplz failed with exit status {result.returncode}: {last}")


def build_lm(
    lines: Iterable[str],
    arpa_path: str | Path,
    order: int | None = None,
    unit: Unit = "word",
    use_lmplz: bool | None = None,
) -> Arpa:
    """Estimate an n-gram LM from text lines and write it as ARPA.

    ``lines`` should already be normalized as the transcripts are
    (:func:`asr.data.text.normalize_text`); blank lines are skipped.  ``order``
    defaults to 3 for words and 6 for characters.  ``use_lmplz`` None means
    "when it is on PATH".  The written file is read back with
    :func:`read_arpa`, so a broken model fails here and not in the decoder.
    """
    sentences = [units for line in lines if (units := lm_units(line, unit))]
    if not sentences:
        raise ValueError("no text to estimate a language model from")
    order = DEFAULT_ORDER[unit] if order is None else order
    if order > MAX_DECODER_ORDER:
        raise ValueError(f"{arpa_path}: order {order} is above {MAX_DECODER_ORDER}, the most the decoder's "
                         "KenLM (flashlight-text) loads")
    arpa_path = Path(arpa_path)
    if use_lmplz is None:
        use_lmplz = shutil.which("lmplz") is not None
    if use_lmplz:
        _run_lmplz(sentences, order, arpa_path)
    else:
        write_arpa(estimate_kneser_ney(sentences, order), arpa_path)
    return read_arpa(arpa_path)


@dataclass(frozen=True)
class Arpa:
    """A loaded ARPA model: enough to check it and to score with backoff."""

    tables: ArpaTables

    @property
    def order(self) -> int:
        return len(self.tables)

    @property
    def vocabulary(self) -> tuple[str, ...]:
        """The unigrams, in file order, ``<s>`` and ``</s>`` included."""
        return tuple(g[0] for g in self.tables[0])

    def log10_prob(self, word: str, context: Sequence[str] = ()) -> float:
        """log10 p(word | context) through backoff; unknown words score as ``<unk>``."""
        if (word,) not in self.tables[0]:
            word = UNK
        context = tuple(context)[max(0, len(context) - self.order + 1) :] if self.order > 1 else ()
        backoff = 0.0
        for start in range(len(context) + 1):
            history = context[start:]
            entry = self.tables[len(history)].get((*history, word))
            if entry is not None:
                return backoff + entry[0]
            if history:
                backoff += self.tables[len(history) - 1].get(history, (0.0, 0.0))[1]
        raise ValueError(f"{word!r} has no unigram and there is no {UNK} entry")


def _arpa_lines(path: Path) -> Iterator[tuple[int, str]]:
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if line:
                yield lineno, line


def arpa_vocabulary(path: str | Path) -> tuple[str, ...] | None:
    """The unigrams of an ARPA file, or None for a KenLM binary file.

    Reads only up to the end of the 1-grams, so that checking a decoder's
    vocabulary against a large LM costs little; :func:`read_arpa` validates.
    """
    with Path(path).open("rb") as f:
        if f.read(len(KENLM_BINARY_MAGIC)) == KENLM_BINARY_MAGIC:
            return None
    words = []
    in_unigrams = False
    for lineno, line in _arpa_lines(Path(path)):
        if line.startswith("\\"):
            if in_unigrams:
                break
            in_unigrams = line == "\\1-grams:"
        elif in_unigrams:
            fields = line.split()
            if len(fields) not in (2, 3):
                raise ValueError(f"{path}:{lineno}: a 1-gram line needs 2 or 3 fields, got {len(fields)}")
            words.append(fields[1])
    return tuple(words)


def _parse_float(text: str, what: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{where}: {what} {text!r} is not a number") from None


def read_arpa(path: str | Path) -> Arpa:
    """Read and validate an ARPA file; errors read ``path:lineno: what is wrong``.

    Checks what makes KenLM refuse or misread a file: the ``\\data\\`` header
    and its counts, section order, field counts (no backoff at the top
    order), numeric log probabilities that are not positive, duplicate
    n-grams, n-grams whose context is missing, and ``<s>``/``</s>``.
    """
    path = Path(path)
    lines = _arpa_lines(path)
    lineno, line = next(lines, (0, ""))
    if line != "\\data\\":
        raise ValueError(f"{path}:{lineno}: expected '\\data\\', got {line!r}")
    expected: list[tuple[int, int]] = []  # (count, header line) per order
    tables: ArpaTables = []
    for lineno, line in lines:
        where = f"{path}:{lineno}"
        if not tables and line.startswith("ngram "):
            n, _, count = line[len("ngram ") :].partition("=")
            if n.strip() != str(len(expected) + 1) or not count.strip().isdigit():
                raise ValueError(f"{where}: expected 'ngram {len(expected) + 1}=<count>', got {line!r}")
            expected.append((int(count), lineno))
        elif line.startswith("\\"):
            if tables and len(tables[-1]) != expected[len(tables) - 1][0]:
                count, header_line = expected[len(tables) - 1]
                raise ValueError(
                    f"{path}:{header_line}: header says {count} {len(tables)}-grams, "
                    f"the section has {len(tables[-1])}"
                )
            if line == "\\end\\":
                break
            if line != f"\\{len(tables) + 1}-grams:" or len(tables) == len(expected):
                raise ValueError(f"{where}: unexpected section {line!r}")
            tables.append({})
        elif tables:
            _parse_entry(line, tables, len(expected), where)
        else:
            raise ValueError(f"{where}: expected an 'ngram N=count' line, got {line!r}")
    else:
        raise ValueError(f"{path}:{lineno}: missing '\\end\\'")
    if len(tables) != len(expected) or not expected:
        raise ValueError(f"{path}:{lineno}: header announces {len(expected)} orders, file has {len(tables)}")
    missing = [s for s in (BOS, EOS) if (s,) not in tables[0]]
    if missing:
        raise ValueError(f"{path}:{lineno}: no unigram for {' '.join(missing)}")
    return Arpa(tables)


def _parse_entry(line: str, tables: ArpaTables, order: int, where: str) -> None:
    n = len(tables)
    fields = line.split()
    allowed = (n + 1, n + 2) if n < order else (n + 1,)
    if len(fields) not in allowed:
        needed = " or ".join(map(str, allowed))
        raise ValueError(f"{where}: a {n}-gram line needs {needed} fields, got {len(fields)}")
    prob = _parse_float(fields[0], "log10 probability", where)
    if prob > 0:
        raise ValueError(f"{where}: log10 probability {prob} is positive")
    backoff = _parse_float(fields[-1], "log10 backoff", where) if len(fields) == n + 2 else 0.0
    ngram = tuple(fields[1 : n + 1])
    if ngram in tables[-1]:
        raise ValueError(f"{where}: duplicate {n}-gram {' '.join(ngram)!r}")
    if n > 1 and ngram[:-1] not in tables[-2]:
        context = " ".join(ngram[:-1])
        raise ValueError(f"{where}: the context {context!r} of this {n}-gram is not a {n - 1}-gram")
    tables[-1][ngram] = (prob, backoff)

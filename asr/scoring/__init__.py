"""Error rates, alignments and reports: Kaldi ``compute-wer`` and sclite in one package.

Recipes, tests and notebooks must get the same numbers as ``asr score``, so
everything here is a pure function of transcripts; the command only parses
options and writes files.  One module a job:

- :mod:`~asr.scoring.counts`: :class:`ErrorCounts`, the counts and their rates.
- :mod:`~asr.scoring.edits`: Kaldi's counts and alignment of one pair of
  token sequences, through Kaldi's compiled code, and why that code and its
  tie-breaking; :func:`edit_ops`.
- :mod:`~asr.scoring.lowmem`: Kaldi's alignment of long pairs in linear memory.
- :mod:`~asr.scoring.scorer`: :func:`score` a corpus: pair ids, normalize, tokenize.
- :mod:`~asr.scoring.reading`: transcripts in Kaldi ``text``, sclite ``trn``
  or plain format.
- :mod:`~asr.scoring.speakers`: speaker lookups and per-speaker counts.
- :mod:`~asr.scoring.bootstrap`: ``compute-wer-bootci``'s confidence interval.
- :mod:`~asr.scoring.reports`: Kaldi lines, sclite tables, RESULTS.md rows,
  alignments, confusions, JSON, and the report files of ``asr score``.

The names below are the package's public interface: import them from
``asr.scoring``, not from its modules.
"""

from asr.scoring.bootstrap import BootstrapInterval, bootstrap_interval, bootstrap_line
from asr.scoring.counts import ErrorCounts
from asr.scoring.edits import Op, edit_ops
from asr.scoring.reading import FORMATS, detect_format, read_transcripts, read_utt2spk
from asr.scoring.reports import (
    Confusions,
    alignment_rows,
    confusion_report,
    confusions,
    console_lines,
    dataset_name,
    kaldi_line,
    kaldi_lines,
    markdown_header,
    markdown_row,
    normalization_line,
    pra_text,
    report_files,
    sclite_table,
    scored_line,
    ser_line,
    summary,
)
from asr.scoring.scorer import METRIC_UNITS, MODES, UNITS, ScoreResult, UttScore, pair_utterances, score, score_metrics
from asr.scoring.speakers import SpeakerOf, speaker_counts, speaker_from_map, speaker_from_pattern

__all__ = [
    "FORMATS",
    "METRIC_UNITS",
    "MODES",
    "UNITS",
    "BootstrapInterval",
    "Confusions",
    "ErrorCounts",
    "Op",
    "ScoreResult",
    "SpeakerOf",
    "UttScore",
    "alignment_rows",
    "bootstrap_interval",
    "bootstrap_line",
    "confusion_report",
    "confusions",
    "console_lines",
    "dataset_name",
    "detect_format",
    "edit_ops",
    "kaldi_line",
    "kaldi_lines",
    "markdown_header",
    "markdown_row",
    "normalization_line",
    "pair_utterances",
    "pra_text",
    "read_transcripts",
    "read_utt2spk",
    "report_files",
    "sclite_table",
    "score",
    "score_metrics",
    "scored_line",
    "ser_line",
    "speaker_counts",
    "speaker_from_map",
    "speaker_from_pattern",
    "summary",
]

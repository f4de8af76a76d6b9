"""Speakers of utterances, from a ``utt2spk`` table or a pattern in the id, and counts per speaker.

sclite's tables list one row per speaker; these lookups name the utterance
they cannot place instead of grouping it silently.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Callable, Mapping

from asr.scoring.counts import ErrorCounts
from asr.scoring.scorer import ScoreResult

SpeakerOf = Callable[[str], str]


def speaker_from_pattern(pattern: str) -> SpeakerOf:
    """Speaker = first group of ``pattern`` searched in the id (AN4: ``^\\w+-(\\w+)``)."""
    try:
        regex = re.compile(pattern)
    except re.error as error:
        raise ValueError(f"speaker pattern {pattern!r} is not a regular expression: {error}") from None
    if regex.groups < 1:
        raise ValueError(f"speaker pattern {pattern!r} needs a group around the speaker, e.g. '^\\w+-(\\w+)'")

    def speaker_of(utt: str) -> str:
        match = regex.search(utt)
        if match is None or match.group(1) is None:
            raise ValueError(f"speaker pattern {pattern!r} finds no speaker in utterance id {utt!r}")
        return match.group(1)

    return speaker_of


def speaker_from_map(utt2spk: Mapping[str, str]) -> SpeakerOf:
    """Speaker lookup that names the utterance a ``utt2spk`` table lacks."""

    def speaker_of(utt: str) -> str:
        if utt not in utt2spk:
            raise ValueError(f"utt2spk has no speaker for utterance {utt!r}")
        return utt2spk[utt]

    return speaker_of


def speaker_counts(result: ScoreResult, speaker_of: SpeakerOf) -> dict[str, ErrorCounts]:
    """Counts per speaker, sorted by speaker id as sclite lists them."""
    groups: dict[str, list[ErrorCounts]] = defaultdict(list)
    for utt in result.utts:
        groups[speaker_of(utt.utt_id)].append(utt.counts)
    return {speaker: ErrorCounts.total(groups[speaker]) for speaker in sorted(groups)}

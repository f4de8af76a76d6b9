"""Option groups that several commands share: how to decode (decode, tune, transcribe).

The device options (``--device``, ``--threads``) are :func:`asr.device.add_device_arguments`.
"""

from __future__ import annotations

import argparse
import dataclasses

from asr.decode import BeamSearchOptions

_BEAM = BeamSearchOptions()
# Beam-search flag -> (type, help); the flag --a-b sets BeamSearchOptions.a_b.
BEAM_OPTIONS = {
    "beam-size": (int, "hypotheses kept after each frame"),
    "beam-threshold": (float, "prune hypotheses scoring this far below the best"),
    "lm-weight": (float, "weight of the LM's log10 probabilities, added to the acoustic (natural log) scores"),
    "word-score": (float, "bonus added per word; needs --lexicon"),
    "unk-score": (float, "bonus added per word outside the lexicon, --unk-score=-inf forbids them; needs --lexicon"),
    "sil-score": (float, "bonus added per | that is silence rather than part of a spelling; without a lexicon, "
                         "per |, which makes it the word insertion bonus"),
    "nbest": (int, "hypotheses kept per utterance (more than 1: an N-best list)"),
}


def add_decode_arguments(parser: argparse.ArgumentParser) -> None:
    """The search options: ``--config``, ``--mode``, ``--lexicon``, ``--lm`` and the beam-search settings."""
    group = parser.add_argument_group(
        "decoding", "how to search: each setting comes from its flag, else from --config, else (asr transcribe) "
                    "from the model file, else it is the default shown")
    group.add_argument("--config", help="decode YAML (DecodeConfig: mode, lexicon, lm, beam: {...}), e.g. the one "
                                        "'asr tune' writes (default: none)")
    group.add_argument("--mode", choices=["greedy", "beam"],
                       help="greedy best path, or beam search (default: greedy, or beam when a lexicon, LM or "
                            "beam-search option is given)")
    group.add_argument("--lexicon", help="flashlight lexicon (word, then its tokens ending in |); only its words "
                                         "are produced (default: none)")
    group.add_argument("--lm", help="ARPA (or KenLM binary) LM: word LM with --lexicon, character LM without "
                                    "(default: none)")
    for name, (kind, text) in BEAM_OPTIONS.items():
        group.add_argument(f"--{name}", type=kind, help=f"{text} (default: {getattr(_BEAM, name.replace('-', '_')):g})")


def config_from_args(args: argparse.Namespace, base=None):
    """The decode config of --config (else ``base``, else greedy), with the flags given on top."""
    from asr.decode import DecodeConfig, load_decode_config

    config = load_decode_config(args.config) if args.config else base or DecodeConfig()
    beam = {f.name: getattr(args, f.name) for f in dataclasses.fields(config.beam) if getattr(args, f.name, None) is not None}
    top = {k: getattr(args, k) for k in ("mode", "lexicon", "lm") if getattr(args, k) is not None}
    if (beam or top.get("lexicon") or top.get("lm")) and "mode" not in top:
        top["mode"] = "beam"
    if top.get("mode") == "greedy":  # drop a lexicon or LM that the base config carries
        top.setdefault("lexicon", None)
        top.setdefault("lm", None)
    return dataclasses.replace(config, beam=dataclasses.replace(config.beam, **beam), **top)

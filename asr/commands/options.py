"""Option groups that several commands share: how to decode (decode, tune, transcribe), progress bars.

The device options (``--device``, ``--threads``) are :func:`asr.device.add_device_arguments`.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

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


# --config's value for the decoding a model file carries (asr export --decode-config).
CARRIED = "carried"

# The --model help of the commands that read a model file.
MODEL_HELP = "model file, from 'asr average' or 'asr export', or a bundled model's name (`asr models`)"


def add_decode_arguments(parser: argparse.ArgumentParser) -> None:
    """The search options: ``--config``, ``--mode``, ``--lexicon``, ``--lm`` and the beam-search settings."""
    group = parser.add_argument_group(
        "decoding", "how to search: each setting comes from its flag, else from --config, else from the model "
                    "file (the lexicon, LM and settings 'asr export --decode-config' put in it), else it is the "
                    "default shown")
    group.add_argument("--config", metavar="YAML|carried",
                       help="decode YAML (DecodeConfig: mode, lexicon, lm, beam: {...}), e.g. the one 'asr tune' "
                            f"writes; or '{CARRIED}': the decoding the model file carries (default: {CARRIED} when "
                            "the model file has one, else greedy)")
    group.add_argument("--mode", choices=["greedy", "beam"],
                       help="greedy best path, or beam search (default: the model file's, else greedy; beam when a "
                            "lexicon, LM or beam-search option is given)")
    group.add_argument("--lexicon", help="flashlight lexicon (word, then its tokens ending in |); only its words "
                                         "are produced (default: none)")
    group.add_argument("--lm", help="ARPA (or KenLM binary) LM: word LM with --lexicon, character LM without "
                                    "(default: none)")
    for name, (kind, text) in BEAM_OPTIONS.items():
        group.add_argument(f"--{name}", type=kind, help=f"{text} (default: {getattr(_BEAM, name.replace('-', '_')):g})")


def config_from_args(args: argparse.Namespace, base=None):
    """The decode config of --config (else ``base``, else greedy), with the flags given on top.

    ``--config carried`` is ``base`` too: the caller passes the model file's decoding there.
    """
    from asr.decode import DecodeConfig, load_decode_config

    config = load_decode_config(args.config) if args.config and args.config != CARRIED else base or DecodeConfig()
    beam = {f.name: getattr(args, f.name) for f in dataclasses.fields(config.beam) if getattr(args, f.name, None) is not None}
    top = {k: getattr(args, k) for k in ("mode", "lexicon", "lm") if getattr(args, k) is not None}
    if (beam or top.get("lexicon") or top.get("lm")) and "mode" not in top:
        top["mode"] = "beam"
    if top.get("mode") == "greedy":  # drop a lexicon or LM that the base config carries
        top.setdefault("lexicon", None)
        top.setdefault("lm", None)
    return dataclasses.replace(config, beam=dataclasses.replace(config.beam, **beam), **top)


def model_decode_config(args: argparse.Namespace, out_dir: str | Path):
    """The decoding of ``asr decode`` and ``asr tune``: the same as ``asr transcribe``'s for the same model file.

    The flags on top of --config YAML, else of the decoding the model file
    carries (``--config carried``, the default), else of greedy search.  The
    carried lexicon and LM are written into ``out_dir/carried/``, so that the
    ``decode.yaml`` written there names files that outlive the command.
    ``--mode greedy`` without --config needs nothing from the model file.
    """
    from asr.decode import check_paths
    from asr.inference import ModelFile

    check_paths(lexicon=args.lexicon, lm=args.lm)  # a typo costs no model load
    if args.config and args.config != CARRIED or args.config is None and args.mode == "greedy":
        return config_from_args(args)
    carried = ModelFile.read(args.model).decoding
    if carried is None:
        if args.config == CARRIED:
            raise ValueError(f"{args.model}: carries no decoding for --config {CARRIED} (a model file gets one from "
                             "'asr export --decode-config'); give --config with a YAML file, or decoding flags")
        return config_from_args(args)
    if args.mode == "greedy":
        return config_from_args(args, base=carried.config)
    folder = Path(out_dir).resolve() / CARRIED  # absolute: the jobs of --nj and later readers of decode.yaml find it
    folder.mkdir(parents=True, exist_ok=True)
    return config_from_args(args, base=carried.unpack(folder))


def add_progress_argument(parser: argparse.ArgumentParser) -> None:
    """``--quiet``: no progress bars.

    Without it the library draws them with tqdm's ``disable=None``: on
    stderr, and only when stderr is a terminal, so that a log file (a
    recipe's, a parallel job's) never gets their carriage-return redraws.
    """
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bars (they are drawn on stderr only when it is a terminal, never into a "
                             "log file)")

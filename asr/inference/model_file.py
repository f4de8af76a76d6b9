"""The trained model as one self-contained file: :class:`ModelFile` alone reads and writes it.

A model file holds everything needed to go from audio to text: weights,
model config, token list, feature config and CMVN statistics, and
optionally the decoding it carries (`asr export --decode-config`: search
settings with the lexicon and LM, compressed), so that
``asr transcribe --model FILE a.wav`` needs nothing else.  On disk it is a
``torch.save``'d mapping; its keys are known here and nowhere else.

The model loaded for use, :class:`asr.inference.recognizer.Recognizer`, lives with
transcription, above :mod:`asr.decode.search`; its ONNX export is
:mod:`asr.runtime`'s.
"""

from __future__ import annotations

import lzma
import os
import re
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from asr.config import from_dict, to_dict
from asr.data.kinds import FeatureConfig, feature_config_from_dict, kind_of
from asr.decode.search import DecodeConfig
from asr.inference.catalog import resolve_model
from asr.model import AcousticModel, ModelConfig

VERSION = 2  # of the model file format; a newer asr may write newer ones
FORMAT = f"asr-model-{VERSION}"
# Format 2 holds the carried lexicon and LM xz-compressed (the copiste model's character 6-gram:
# 5.9 MB of ARPA text, 1.4 MB so); format 1 held them as text, and its files are read as well.
READS = ("asr-model-1", FORMAT)
MAX_UNPACKED = 2**31  # bytes a carried lexicon or LM may unpack to (ARPA files of large word LMs: hundreds of MB)


def atomic_save(obj: Any, path: str | Path) -> None:
    """torch.save through a temp file and rename: a kill never leaves half a file.

    A save that fails (a full disk) removes its temp file, so that failed
    saves do not pile up hidden files as large as the checkpoint, and is
    reported as one line naming the file.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException as error:
        tmp.unlink(missing_ok=True)
        if isinstance(error, OSError) and error.strerror:
            raise OSError(f"{path}: cannot save ({error.strerror})") from error
        if isinstance(error, (OSError, RuntimeError)):  # torch reports a failed write as a RuntimeError
            raise OSError(f"{path}: cannot save ({str(error).splitlines()[0]})") from error
        raise


def read_checkpoint(path: str | Path) -> Any:
    """torch.load with a one-line error for a missing, truncated or foreign file.

    torch's own messages run to paragraphs of advice about ``weights_only``
    (and its warnings about pickle protocols to more lines): what the user
    needs is which file, and what it seems to be.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a corrupt file, some with pages of advice
        raise ValueError(f"{path}: unreadable model file ({_unreadable_reason(path, error)})") from None


def _unreadable_reason(path: Path, error: Exception) -> str:
    """What a file that torch.load refused seems to be, in a few words."""
    head = path.read_bytes()[:4096]
    if not head:
        return "an empty file"
    if head.startswith((b"PK\x03\x04", b"\x80")):  # torch.save's zip archive, or a bare pickle (protocol 2 and up)
        if "Weights only load failed" in str(error):  # torch's paragraph would say to trust the file instead
            return "it holds Python objects besides tensors: a whole pickled model, or other software's file"
        return "damaged or cut short: a copy or a save that did not finish?"
    try:
        is_text = b"\0" not in head and bool(head.decode("utf-8"))
    except UnicodeDecodeError:  # (or a character cut at byte 4096: then the file is taken for binary)
        is_text = False
    return "a text file, not a model" if is_text else "not a file that PyTorch wrote"


def check_weights(config: ModelConfig, weights: Any, where: str) -> None:
    """Fail in one line, naming ``where``, unless ``weights`` are exactly the tensors a model of ``config`` has.

    torch's own complaint is a multi-line RuntimeError about a state_dict;
    this one names the weights that are missing, unexpected or misshapen.
    The model is built on the meta device: shapes only, no memory, no time.
    """
    with torch.device("meta"):
        expected = {name: tuple(t.shape) for name, t in AcousticModel(config).state_dict().items()}
    if not isinstance(weights, dict) or not all(isinstance(t, torch.Tensor) for t in weights.values()):
        raise ValueError(f"{where}: the weights are not a mapping of names to tensors")
    problems = {
        "missing": [name for name in expected if name not in weights],
        "unexpected": [name for name in weights if name not in expected],
        "misshapen": [f"{name} {tuple(weights[name].shape)} (the model config wants {shape})"
                      for name, shape in expected.items() if name in weights and tuple(weights[name].shape) != shape],
    }
    found = [f"{kind} {', '.join(names[:3])}{f' and {len(names) - 3} more' if len(names) > 3 else ''}"
             for kind, names in problems.items() if names]
    if found:
        raise ValueError(f"{where}: weights do not fit the model config: {'; '.join(found)}")


@dataclass
class CarriedDecoding:
    """The decoding a model file carries: search settings, with the lexicon and LM as text.

    ``config.lexicon`` and ``config.lm`` are None here, as paths mean nothing
    on another machine; :meth:`unpack` writes the texts out and points a
    config at them.
    """

    config: DecodeConfig
    lexicon: str | None = None  # flashlight lexicon text
    lm: str | None = None  # ARPA text

    @classmethod
    def from_config(cls, config: DecodeConfig) -> CarriedDecoding:
        """What a model file carries to decode as ``config`` does, with the lexicon and LM it names read in."""
        texts = {name: Path(path).read_text(encoding="utf-8") if path else None
                 for name, path in (("lexicon", config.lexicon), ("lm", config.lm))}
        return cls(replace(config, lexicon=None, lm=None), **texts)

    def unpack(self, folder: str | Path) -> DecodeConfig:
        """The config to decode with, its lexicon and LM written into ``folder``."""
        paths = {}
        for name in ("lexicon", "lm"):
            text = getattr(self, name)
            if text:
                paths[name] = str(Path(folder) / name)
                Path(paths[name]).write_text(text, encoding="utf-8")
        return replace(self.config, **paths)


@dataclass
class ModelFile:
    """A model file's contents, checked; :meth:`read` and :meth:`write` are the only code that knows its keys.

    The on-disk mapping (format ``asr-model-2``)::

        format        "asr-model-2" (or "asr-model-1": lexicon and LM as text)
        model         ModelConfig fields
        tokens        token list, blank first
        feature_kind  "fbank" or "image" (absent in files from before images: fbank)
        features      FbankConfig or ImageConfig fields
        cmvn          Kaldi CMVN stats, 2 x (D+1); unused by image models
        info          training provenance, free form (``config``: the TrainConfig fields)
        decoding      None (greedy), or {"config": DecodeConfig fields, "lexicon": xz-compressed
                      UTF-8 text as a uint8 tensor, or None, "lm": ARPA so, or None}
        state_dict    the network's weights (float16 in files exported with --half)

    A training checkpoint keeps all but ``state_dict`` as its ``spec`` (see
    :mod:`asr.train.checkpoint`): :meth:`to_dict` and :meth:`from_dict` with
    ``weights=False``.
    """

    model: ModelConfig
    tokens: tuple[str, ...]
    features: FeatureConfig  # FbankConfig for speech, ImageConfig for handwriting
    cmvn: torch.Tensor
    weights: dict[str, torch.Tensor] = field(default_factory=dict, repr=False)
    info: dict[str, Any] = field(default_factory=dict)
    decoding: CarriedDecoding | None = None  # None: greedy

    version = VERSION  # of the format this class reads and writes

    @classmethod
    def read(cls, path: str | Path) -> ModelFile:
        """A model file (a path, or a bundled model's name: ``an4``), its parts checked against each other,
        with one-line errors naming the file: every command that reads one takes a name as a path."""
        path = resolve_model(path)
        return cls.from_dict(read_checkpoint(path), str(path))

    def write(self, path: str | Path) -> None:
        """Write the file atomically (temp file and rename)."""
        atomic_save(self.to_dict(), path)

    def to_dict(self, weights: bool = True) -> dict[str, Any]:
        """The on-disk mapping; without ``weights``, the spec a training checkpoint keeps."""
        values = {
            "format": FORMAT,
            "model": to_dict(self.model),
            "tokens": list(self.tokens),
            "feature_kind": kind_of(self.features),
            "features": to_dict(self.features),
            "cmvn": self.cmvn,
            "info": self.info,
            "decoding": None if self.decoding is None else {
                "config": to_dict(self.decoding.config), "lexicon": _packed(self.decoding.lexicon),
                "lm": _packed(self.decoding.lm)},
        }
        return {**values, "state_dict": self.weights} if weights else values

    @classmethod
    def from_dict(cls, values: Any, where: str, weights: bool = True) -> ModelFile:
        """The contents of a model file (or, without ``weights``, a checkpoint's spec); errors name ``where``."""
        found = values.get("format") if isinstance(values, dict) else None
        if found not in READS:
            newer = re.fullmatch(r"asr-model-(\d+)", str(found))
            if newer and int(newer[1]) > VERSION:
                raise ValueError(f"{where}: made by a newer version of asr "
                                 f"(format {found}; this version reads {' and '.join(READS)})")
            raise ValueError(f"{where}: not an asr model file ({_foreign(values, found)}); asr model files "
                             "are written by 'asr average' and 'asr export'")
        model = from_dict(ModelConfig, _part(values, "model", where), f"{where}:model")
        tokens = tuple(_part(values, "tokens", where))
        if len(tokens) != model.num_tokens:
            raise ValueError(f"{where}: {len(tokens)} tokens, but the model has {model.num_tokens} outputs")
        contents = cls(
            model=model,
            tokens=tokens,
            # Files from before image support hold fbank features without a kind.
            features=feature_config_from_dict(values.get("feature_kind", "fbank"), _part(values, "features", where),
                                              f"{where}:features"),
            cmvn=_part(values, "cmvn", where),
            info=values.get("info") or {},
            decoding=_carried_decoding(values.get("decoding"), f"{where}:decoding", packed=found == FORMAT),
        )
        if weights:
            contents.weights = _part(values, "state_dict", where)
            check_weights(model, contents.weights, where)
        return contents


def _foreign(values: Any, found: Any) -> str:
    """What a loaded file that is not an asr model file holds, in a few words."""
    if isinstance(values, dict) and values and all(isinstance(v, torch.Tensor) for v in values.values()):
        return "bare weights, a state_dict, without the model config, tokens and features"
    if not isinstance(values, dict):
        return f"it holds a {type(values).__name__}"
    return f"format {found!r}, expected {FORMAT!r}" if found is not None else "no 'format' key"


def _part(values: dict[str, Any], key: str, where: str) -> Any:
    """``values[key]``, or a one-line error: a file cut down by hand or by other software must not end in a KeyError."""
    if key not in values:
        raise ValueError(f"{where}: no '{key}' in the file (damaged, or not written by asr)")
    return values[key]


def _carried_decoding(values: Any, where: str, packed: bool) -> CarriedDecoding | None:
    if not values:
        return None
    if not isinstance(values, dict):
        raise ValueError(f"{where}: expected a mapping, got {type(values).__name__}")
    texts = {name: _unpacked(values.get(name), where, label, packed)
             for name, label in (("lexicon", "lexicon"), ("lm", "LM"))}
    config = _part(values, "config", where)
    if not isinstance(config, dict):
        raise ValueError(f"{where}: config: expected a mapping, got {type(config).__name__}")
    # The paths the config named where it was exported mean nothing here: the texts replace them.
    config = from_dict(DecodeConfig, {**config, "lexicon": None, "lm": None}, where)
    return CarriedDecoding(config, **texts)


def _packed(text: str | None) -> torch.Tensor | None:
    """A carried lexicon or LM as a model file holds it: xz-compressed UTF-8, as a uint8 tensor.

    A tensor is stored as its raw bytes; torch.save's pickle would store
    ``bytes`` as a latin-1 string in UTF-8, half as large again.
    """
    return None if not text else torch.frombuffer(bytearray(lzma.compress(text.encode("utf-8"))), dtype=torch.uint8)


def _unpacked(value: Any, where: str, label: str, packed: bool) -> str | None:
    """A carried lexicon or LM (``label``) read back: ``packed`` (format 2) or text (format 1); None if none.

    Unpacking stops at :data:`MAX_UNPACKED` bytes, so that a damaged or
    crafted file cannot fill the memory.
    """
    if value is None or (isinstance(value, str) and not value):
        return None
    if not packed:
        if not isinstance(value, str):
            raise ValueError(f"{where}: the {label} must be text, got {type(value).__name__}")
        return value
    if not (isinstance(value, torch.Tensor) and value.dtype == torch.uint8 and value.dim() == 1):
        raise ValueError(f"{where}: the {label} must be compressed text (a 1-D uint8 tensor), got "
                         + (f"a {value.dtype} tensor of shape {tuple(value.shape)}" if isinstance(value, torch.Tensor)
                            else type(value).__name__))
    unpacker = lzma.LZMADecompressor()
    try:
        text = unpacker.decompress(value.numpy().tobytes(), max_length=MAX_UNPACKED)
        if not unpacker.eof:
            raise ValueError(f"{where}: the {label} is cut short or unpacks to over {MAX_UNPACKED >> 20} MiB")
        return text.decode("utf-8")
    except (lzma.LZMAError, UnicodeDecodeError) as error:
        raise ValueError(f"{where}: the {label} is damaged ({error})") from None

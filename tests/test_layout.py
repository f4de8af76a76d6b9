"""The package map of asr/README.md holds: each part imports only what the map allows.

Every ``import`` of the library is read from the source (function-level ones
too), so a new dependency that breaks the layering fails here with its file.
"""

from __future__ import annotations

import ast
from pathlib import Path

ASR = Path(__file__).resolve().parents[1] / "asr"
SUBPACKAGES = ("data", "train", "decode", "inference", "runtime", "scoring", "commands")
# Part -> the parts it may import (asr/README.md).  A part always imports itself.
ALLOWED = {
    "asr": {"inference"},
    "__main__": {"cli"},
    "cli": {"launch", "commands"},
    "config": set(),
    "device": set(),
    "precision": set(),
    "launch": set(),
    "progress": set(),
    "data": {"config", "progress"},
    "model": {"data"},
    "decode": {"config", "data"},
    "scoring": {"data"},
    "inference": {"config", "data", "decode", "device", "model", "precision", "progress", "scoring"},
    "runtime": {"config", "data", "decode", "inference", "model"},
    "train": {"config", "data", "decode", "device", "inference", "model", "precision", "scoring"},
    "parallel": {"data", "launch"},
    "commands": {"config", "data", "decode", "device", "inference", "parallel", "progress", "runtime", "scoring",
                 "train"},
}


def part(module: str) -> str:
    """``asr.data.audio`` -> ``data``; ``asr.precision`` -> ``precision``; ``asr`` -> ``asr``."""
    names = module.split(".")
    return names[1] if len(names) > 1 else "asr"


def imports(path: Path) -> list[str]:
    """The asr modules a source file imports, anywhere in it."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "asr":
            found += [f"asr.{a.name}" for a in node.names] if node.module == "asr" else [node.module]
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] == "asr"]
    return found


def modules() -> list[tuple[str, Path]]:
    return [(".".join(p.relative_to(ASR.parent).with_suffix("").parts).removesuffix(".__init__"), p)
            for p in sorted(ASR.rglob("*.py"))]


def test_every_part_is_on_the_map() -> None:
    assert {part(module) for module, _ in modules()} == set(ALLOWED)


def test_parts_import_only_what_the_map_allows() -> None:
    wrong = [f"{path.relative_to(ASR.parent)} imports {target}"
             for module, path in modules() for target in imports(path)
             if part(target) not in ALLOWED[part(module)] | {part(module)}]
    assert not wrong


def test_commands_use_the_subpackages_public_names() -> None:
    """asr.commands imports asr.data, not asr.data.datadir (corpora are modules of their own)."""
    wrong = [f"{path.relative_to(ASR.parent)} imports {target}"
             for module, path in modules() if part(module) == "commands" for target in imports(path)
             if part(target) in SUBPACKAGES and part(target) != "commands" and target.count(".") > 1
             and not target.startswith("asr.data.corpora.")]
    assert not wrong


def test_no_module_outgrows_one_job() -> None:
    long = {str(path.relative_to(ASR.parent)): n for _, path in modules()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > 400}
    assert not long

# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""The layer rule: which part of adhvit_hf may import which, read from every module's source with `ast`.

Bottom to top: the remote-code files (shipped next to saved models, so they import only torch, transformers, numpy,
the standard library and each other) < `utils`, `registration` < `data`, `publishing`, `videomae_v2` < `training`,
`inference` (never each other) < `cli`, `app`. matplotlib is imported only where a figure is drawn.
"""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest


PACKAGE_DIR = Path(__file__).resolve().parents[1] / "adhvit_hf"
REMOTE_CODE = ("configuration_adhvit", "modeling_adhvit", "processing_adhvit", "pipeline_adhvit")
# The third-party packages remote code may need: torch (torchvision's transforms.v2 for the video processor), numpy,
# transformers and safetensors, which transformers itself requires.
REMOTE_CODE_PACKAGES = {"numpy", "safetensors", "torch", "torchvision", "transformers"}
# Imports of the installed adhvit_hf that remote code makes where it can (inside `try: ... except ImportError`) and
# does without in a process that has only transformers.
OPTIONAL_INSTALLED_IMPORTS = {
    "adhvit_hf.pipeline_adhvit": {"adhvit_hf.data.decoding", "adhvit_hf.processing_adhvit"},
}
BELOW_TRAINING = {"remote_code", "utils", "registration", "data", "publishing", "videomae_v2"}
# layer -> the other layers it may import (its own modules it always may)
ALLOWED = {
    "remote_code": set(),
    "utils": set(),
    "registration": {"remote_code"},
    "data": {"remote_code", "utils"},
    "publishing": {"remote_code", "utils", "registration"},
    "videomae_v2": {"remote_code", "utils", "registration", "publishing"},
    "training": BELOW_TRAINING,
    "inference": BELOW_TRAINING,
    "cli": BELOW_TRAINING | {"training", "inference", "app", "package"},
    "app": BELOW_TRAINING | {"training", "inference", "cli", "package"},
    # `import adhvit_hf` registers the classes and re-exports the public API; the Trainer is imported on first use
    "package": {"remote_code", "registration", "publishing", "videomae_v2"},
}
# The modules that draw figures, the only ones that may import matplotlib.
FIGURE_MODULES = {"adhvit_hf.inference.timeline", "adhvit_hf.training.reporting"}


def package_modules() -> dict[str, Path]:
    """Dotted name -> file of every module of adhvit_hf (a package by its `__init__.py`)."""
    modules = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def layer_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "package"
    return "remote_code" if parts[1] in REMOTE_CODE else parts[1]


def is_optional(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Whether `node` sits in the body of a `try` whose handlers catch ImportError."""
    child, parent = node, parents.get(node)
    while parent is not None:
        if isinstance(parent, ast.Try) and child in parent.body:
            caught = [handler.type for handler in parent.handlers]
            names = {name.id for kind in caught for name in ast.walk(kind) if isinstance(name, ast.Name)}
            if names & {"ImportError", "ModuleNotFoundError"}:
                return True
        child, parent = parent, parents.get(parent)
    return False


def imported_modules(source: str, module: str, is_package: bool, known: set[str]):
    """(imported module, line, optional, relative) for every import statement of `source`, relative ones resolved."""
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno, is_optional(node, parents), False
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            for alias in node.names:
                # `from package import module` imports the module
                name = f"{target}.{alias.name}"
                yield (name if name in known else target), node.lineno, is_optional(node, parents), node.level > 0


def layer_violations(source: str, module: str, is_package: bool = False, known: set[str] = frozenset()) -> list[str]:
    """What `source` (the module `module` of adhvit_hf) imports that its layer may not."""
    layer = layer_of(module)
    if layer not in ALLOWED:
        return [f"{module}: layer {layer!r} is not in tests/test_layers.py's table; give it its place"]
    problems = []
    for target, line, optional, _ in imported_modules(source, module, is_package, known):
        top = target.split(".")[0]
        if top == "matplotlib" and module not in FIGURE_MODULES:
            problems.append(f"{module}:{line} imports {target}: only modules that draw figures import matplotlib")
        if top != "adhvit_hf":
            continue
        if optional and target in OPTIONAL_INSTALLED_IMPORTS.get(module, ()):
            continue
        target_layer = layer_of(target)
        if target_layer != layer and target_layer not in ALLOWED[layer]:
            problems.append(f"{module}:{line} imports {target}: the {layer} layer may not import {target_layer}")
    return list(dict.fromkeys(problems))  # one line per import statement, not per imported name


def remote_code_violations(source: str, module: str) -> list[str]:
    """What the remote-code file `module` imports beyond the standard library, its packages and each other."""
    problems = []
    for target, line, optional, relative in imported_modules(source, module, False, set()):
        top = target.split(".")[0]
        if top == "adhvit_hf":
            allowed = target in {f"adhvit_hf.{name}" for name in REMOTE_CODE}
            if optional and target in OPTIONAL_INSTALLED_IMPORTS.get(module, ()):
                continue
            if not allowed or not relative:
                problems.append(
                    f"{module}:{line} imports {target}: remote code imports only the other remote-code files, "
                    "relatively (`from .modeling_adhvit import ...`)"
                )
        elif top not in sys.stdlib_module_names and top not in REMOTE_CODE_PACKAGES:
            problems.append(
                f"{module}:{line} imports {target}: remote code may need only {sorted(REMOTE_CODE_PACKAGES)}"
            )
    return list(dict.fromkeys(problems))  # one line per import statement, not per imported name


def test_every_module_keeps_to_its_layer():
    modules = package_modules()
    problems = [
        problem
        for module, path in modules.items()
        for problem in layer_violations(
            path.read_text(encoding="utf-8"), module, path.name == "__init__.py", set(modules)
        )
    ]
    assert problems == []


def test_remote_code_files_import_only_torch_transformers_and_each_other():
    modules = package_modules()
    assert {f"adhvit_hf.{name}" for name in REMOTE_CODE} <= modules.keys()
    problems = [
        problem
        for name in REMOTE_CODE
        for problem in remote_code_violations(
            modules[f"adhvit_hf.{name}"].read_text(encoding="utf-8"), f"adhvit_hf.{name}"
        )
    ]
    assert problems == []


CROSSING = """
import json

from ...inference.features import extract_features
from ..data.collate import ClipCollator
from adhvit_hf.utils import atomic_write
import matplotlib.pyplot
"""


def test_the_checker_finds_a_crossing():
    """A synthetic training module importing inference (and matplotlib) fails; its data and utils imports pass."""
    known = {"adhvit_hf.inference.features", "adhvit_hf.data.collate"}
    assert layer_violations(CROSSING, "adhvit_hf.training.sub.fake", known=known) == [
        "adhvit_hf.training.sub.fake:4 imports adhvit_hf.inference.features: the training layer may not import inference",
        "adhvit_hf.training.sub.fake:7 imports matplotlib.pyplot: only modules that draw figures import matplotlib",
    ]
    assert layer_violations("from ..training import build\n", "adhvit_hf.data.fake") == [
        "adhvit_hf.data.fake:1 imports adhvit_hf.training: the data layer may not import training"
    ]
    assert layer_violations("from . import loading\n", "adhvit_hf.newpart", is_package=True) == [
        "adhvit_hf.newpart: layer 'newpart' is not in tests/test_layers.py's table; give it its place"
    ]


def test_the_checker_finds_what_remote_code_must_not_import():
    source = """
import os
import timm
from .configuration_adhvit import AdhVitConfig
from adhvit_hf.modeling_adhvit import AdhVitModel
from .utils import atomic_write
try:
    from adhvit_hf.data.decoding import read_view_frames
except ImportError:
    read_view_frames = None
from adhvit_hf.data.decoding import open_video
"""
    assert remote_code_violations(source, "adhvit_hf.pipeline_adhvit") == [
        "adhvit_hf.pipeline_adhvit:3 imports timm: remote code may need only "
        "['numpy', 'safetensors', 'torch', 'torchvision', 'transformers']",
        "adhvit_hf.pipeline_adhvit:5 imports adhvit_hf.modeling_adhvit: remote code imports only the other "
        "remote-code files, relatively (`from .modeling_adhvit import ...`)",
        "adhvit_hf.pipeline_adhvit:6 imports adhvit_hf.utils: remote code imports only the other remote-code files, "
        "relatively (`from .modeling_adhvit import ...`)",
        "adhvit_hf.pipeline_adhvit:11 imports adhvit_hf.data.decoding: remote code imports only the other "
        "remote-code files, relatively (`from .modeling_adhvit import ...`)",
    ]
    # An optional import outside the list is a layer crossing even inside `try`.
    guarded = "try:\n    from adhvit_hf.training import build\nexcept ImportError:\n    build = None\n"
    assert layer_violations(guarded, "adhvit_hf.modeling_adhvit") == [
        "adhvit_hf.modeling_adhvit:2 imports adhvit_hf.training: the remote_code layer may not import training"
    ]


@pytest.mark.slow
@pytest.mark.parametrize("module", ["adhvit_hf.cli.predict", "adhvit_hf"])
def test_predicting_never_imports_matplotlib(module):
    script = f"import json, sys\nimport {module}\nprint(json.dumps(sorted(m for m in sys.modules if m.startswith('matplotlib'))))"
    # Run from the checkout's root, so the subprocess imports this tree's adhvit_hf.
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=PACKAGE_DIR.parent
    )

    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


TESTS_DIR = Path(__file__).resolve().parent


def test_tests_import_only_the_helpers_never_each_other_or_conftest():
    """Shared test code lives in tests/helpers (fixtures in conftest.py, which pytest loads itself)."""
    test_modules = {path.stem for path in TESTS_DIR.glob("*.py")}
    crossings = []
    for path in sorted([*TESTS_DIR.glob("*.py"), *(TESTS_DIR / "helpers").glob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            crossings += [f"{path.name}: {name}" for name in names if name.split(".")[0] in test_modules]
    assert crossings == []

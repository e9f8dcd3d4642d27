"""Runs the walkthrough's code cells (docs/factories_walkthrough.md) with only their imports changed."""
from __future__ import annotations

import ast
import pathlib
import re

WALKTHROUGH = pathlib.Path(__file__).resolve().parents[1] / "docs" / "factories_walkthrough.md"

# The import contract: the original line on the left, ours on the right ('' drops the line).
IMPORTS = {
    "from yo_fluq_ds import *": "from sweeps_core.fluq import Query, fluq",
    "from tg.common.ml import batched_training as bt": "import sweeps_core as bt",
    "from tg.common.ml.batched_training import factories as btf": "from sweeps_core import factories as btf",
    "from tg.common.ml import dft": "from sweeps_core import dft",
    "from tg.common import Logger": "from sweeps_core import Logger",
    "from tg.common.delivery.sagemaker import Autonamer": "from sweeps import Autonamer",
}


def cells(document: pathlib.Path = WALKTHROUGH) -> list:
    """The code cells of a walkthrough document, in order, exactly as written."""
    return re.findall(r"```python\n(.*?)```", document.read_text(), re.S)


def import_table(document: pathlib.Path = WALKTHROUGH) -> dict:
    """The mapping table at the top of the walkthrough, as ``{original line: ours}`` ('' drops)."""
    rows = re.findall(r"^\| `([^`]+)` \| (?:`([^`]+)`|\(drop it)", document.read_text(), re.M)
    return dict(rows)


def translate(code: str, imports: dict = IMPORTS) -> str:
    """Change the import lines and nothing else."""
    lines = []
    for line in code.splitlines():
        stripped = line.strip()
        if stripped.startswith(("import ", "from ")) and "tg." in stripped or "yo_fluq" in stripped:
            if stripped not in imports:
                raise KeyError(f"no translation for the import line {stripped!r}")
            lines.append(imports[stripped])
        else:
            lines.append(line)
    return "\n".join(lines)


def run_cell(code: str, namespace: dict, imports: dict = IMPORTS):
    """Execute a cell like a notebook does and return the value of its last expression (or None)."""
    tree = ast.parse(translate(code, imports))
    last = tree.body[-1] if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    if last is not None:
        tree.body = tree.body[:-1]
    exec(compile(tree, "<walkthrough>", "exec"), namespace)
    if last is not None:
        return eval(compile(ast.Expression(last.value), "<walkthrough>", "eval"), namespace)
    return None

"""The outbox imports no other app of the project (DESIGN.md "Layout"): every app may use it."""

from __future__ import annotations

import ast
from pathlib import Path

OTHER_APPS = {"inventory", "fulfilment", "shipping", "labels", "ops"}


def test_outbox_imports_no_other_app():
    root = Path(__file__).resolve().parents[2] / "outbox"
    offenders = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in OTHER_APPS]
    assert offenders == []

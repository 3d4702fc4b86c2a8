"""A function a maintainer can read in one screen: none in the package is over 60 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import purchasegraph

PACKAGE = Path(purchasegraph.__file__).parent
LONGEST = 60


def test_no_function_in_the_package_is_over_sixty_lines() -> None:
    too_long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > LONGEST:
                    too_long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name} ({length} lines)")
    assert too_long == []

"""Kernel results must not depend on what else ran in the process before them."""

import ast
from pathlib import Path

import thermal._kernels

KERNELS = Path(thermal._kernels.__file__).parent


def test_no_power_operator_inside_kernels():
    """numba compiles ``x ** n`` once per process and reuses it, with the fastmath flags of the
    first kernel that used it: a fit run after a cooling model then differed from the same fit
    alone in the last bits (found by the CLI's kill-and-resume test). Kernels multiply out
    powers instead (``planck.pow4``)."""
    found = []
    for source in sorted(KERNELS.glob("*.py")):
        tree = ast.parse(source.read_text())
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef):
                continue
            for node in ast.walk(function):
                op = getattr(node, "op", None)
                if isinstance(node, ast.BinOp | ast.AugAssign) and isinstance(op, ast.Pow):
                    found.append(f"{source.name}:{node.lineno}")
    assert not found, f"'**' inside kernel functions: {found}"

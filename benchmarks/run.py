"""Entry point: run every benchmark section and print its table.

Each section is a module ``benchmarks/<name>.py`` with ``main(quick: bool) -> None``.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def sections() -> list[str]:
    here = Path(__file__).resolve().parent
    return sorted(
        m.name
        for m in pkgutil.iter_modules([str(here)])
        if not m.name.startswith("_") and m.name not in {"run"}
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--only", nargs="+", choices=sections(), help="sections to run")
    args = parser.parse_args(argv)
    for name in args.only or sections():
        module = importlib.import_module(f"benchmarks.{name}")
        module.main(quick=args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

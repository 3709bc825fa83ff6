"""The ``thermal`` command line: argument parsing and orchestration only, no science."""

from __future__ import annotations

import argparse
import sys


def _cmd_bands(args: argparse.Namespace) -> int:
    from thermal import bands

    header = ("name", "centre_um", "width_um", "range_um", "kind", "provenance", "instrument")
    rows = []
    for name in bands.names():
        band = bands.get(name)
        lo, hi = band.range
        rows.append(
            (
                name,
                f"{band.centre:.4f}",
                f"{band.width:.4f}",
                f"{lo:.4f}-{hi:.4f}",
                band.kind,
                band.provenance,
                band.instrument,
            )
        )
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    if args.verbose:
        print()
        for name in bands.names():
            print(f"{name}: {bands.get(name).reference}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``thermal`` and its subcommands."""
    from thermal import __version__

    parser = argparse.ArgumentParser(
        prog="thermal", description="Thermal emission modelling of volcanic hot spots."
    )
    parser.add_argument("--version", action="version", version=f"thermal {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("bands", help="list the known filter bands")
    p.add_argument("-v", "--verbose", action="store_true", help="also print references")
    p.set_defaults(func=_cmd_bands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``thermal`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

"""Sphinx directive ``thermal-cli-help``: the ``--help`` text of the ``thermal`` command line.

``.. thermal-cli-help::`` renders the top-level help; ``.. thermal-cli-help:: fit`` the help of
one subcommand. The text comes from the parser itself (``thermal.cli.build_parser``), so the
documentation cannot drift from the program.
"""

from __future__ import annotations

import contextlib
import io
import os

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

WIDTH = "92"  # columns argparse formats for, fixed so that builds are reproducible


def help_text(command: str | None) -> str:
    from thermal.cli import build_parser

    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH
    try:
        parser = build_parser()
        argv = [command, "--help"] if command else ["--help"]
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer), contextlib.suppress(SystemExit):
            parser.parse_args(argv)
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous
    text = buffer.getvalue()
    if not text.strip():
        raise ValueError(f"thermal {command or ''} --help printed nothing")
    return text.rstrip()


class CliHelp(SphinxDirective):
    optional_arguments = 1
    has_content = False

    def run(self):
        command = self.arguments[0] if self.arguments else None
        try:
            text = help_text(command)
        except Exception as error:  # report as a build warning, which -W turns into a failure
            raise self.error(f"thermal-cli-help {command or ''}: {error}") from error
        block = nodes.literal_block(text, text)
        block["language"] = "text"
        return [block]


def setup(app):
    app.add_directive("thermal-cli-help", CliHelp)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

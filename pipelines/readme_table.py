"""Copy each preset's leaderboard into the documents that quote it: ``python -m pipelines.readme_table``.

A quoted leaderboard sits between two marker lines,

    <!-- leaderboard:<preset> -->
    ...the preset's reports/leaderboard.md, verbatim...
    <!-- /leaderboard:<preset> -->

where ``<preset>`` is ``digits`` (the root's ``reports/leaderboard.md``) or the name of a
folder under ``presets/`` (``presets/<name>/reports/leaderboard.md``). The script replaces
every block of README.md and docs/*.md whose leaderboard exists and leaves the others as
they are; ``--check`` only reports the blocks that differ (exit 1), which is what the test
of the README asserts. ``--measured-at COMMIT`` also rewrites the last ``measured at <commit>``
in the few lines above a replaced block, so the quoted numbers say where they come from.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

BLOCK = re.compile(r"^<!-- leaderboard:(?P<name>[\w.-]+) -->\n(?P<body>.*?)^<!-- /leaderboard:(?P=name) -->$", re.M | re.S)
MEASURED = re.compile(r"measured at `?[0-9a-f]{7,40}(\+dirty)?`?")
NEAR = 12  # how many lines above a block its "measured at" may stand


def leaderboard_path(root: Path, preset: str) -> Path:
    """Where a preset's leaderboard lives: the root's for ``digits``, else the preset folder's."""
    base = root if preset == "digits" else root / "presets" / preset
    return base / "reports" / "leaderboard.md"


def documents(root: Path) -> list[Path]:
    """README.md and every markdown page under docs/."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def blocks(text: str) -> list[tuple[str, str]]:
    """The ``(preset, body)`` of every leaderboard block of ``text``, in order."""
    return [(m.group("name"), m.group("body")) for m in BLOCK.finditer(text)]


def render(body: str) -> str:
    """A leaderboard's text as it stands inside a block: ending in exactly one newline."""
    return body.rstrip("\n") + "\n"


def restamp(head: str, measured_at: str) -> str:
    """``head`` with its last ``measured at <commit>`` within ``NEAR`` lines of its end rewritten."""
    lines = head.split("\n")
    for i in range(len(lines) - 1, max(-1, len(lines) - 1 - NEAR), -1):
        found = list(MEASURED.finditer(lines[i]))
        if found:
            m = found[-1]
            lines[i] = lines[i][: m.start()] + f"measured at {measured_at}" + lines[i][m.end() :]
            break
    return "\n".join(lines)


def replace(text: str, root: Path, measured_at: str | None = None) -> str:
    """``text`` with every block whose leaderboard exists replaced by that leaderboard."""
    out: list[str] = []
    last = 0
    for m in BLOCK.finditer(text):
        source = leaderboard_path(root, m.group("name"))
        if not source.is_file():
            continue
        head = text[last : m.start()]
        if measured_at is not None:
            head = restamp(head, measured_at)
        name = m.group("name")
        out.append(f"{head}<!-- leaderboard:{name} -->\n{render(source.read_text())}<!-- /leaderboard:{name} -->")
        last = m.end()
    out.append(text[last:])
    return "".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pipelines.readme_table", description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=Path("."), help="the project root")
    ap.add_argument("--check", action="store_true", help="only list the documents whose blocks differ (exit 1)")
    ap.add_argument("--measured-at", help="the commit the leaderboards were measured at (rewrites 'measured at ...')")
    args = ap.parse_args(argv)
    stale = []
    for doc in documents(args.root):
        if not doc.is_file():
            continue
        text = doc.read_text()
        new = replace(text, args.root, args.measured_at)
        if new != text:
            stale.append(doc)
            if not args.check:
                doc.write_text(new)
    verb = "differ from their leaderboards" if args.check else "updated"
    for doc in stale:
        print(f"{doc}: {verb}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())

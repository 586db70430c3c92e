"""The README and docs/ stay true to the project: the quoted leaderboards equal the committed
ones (``python -m pipelines.readme_table`` copies them), every linked page and named make
target exists, and the families table covers every registered family."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from genmodels.models.core.registry import MODELS
from pipelines import readme_table

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text()


def quoted(doc: Path, preset: str) -> str:
    found = dict(readme_table.blocks(doc.read_text()))
    assert preset in found, f"{doc.name} has no leaderboard:{preset} block"
    return found[preset]


def test_the_readme_quotes_the_committed_digits_leaderboard() -> None:
    source = readme_table.leaderboard_path(ROOT, "digits")
    if not source.is_file():
        pytest.skip("reports/leaderboard.md is absent (run make repro)")
    assert quoted(ROOT / "README.md", "digits") == readme_table.render(source.read_text()), "run: make readme"


def test_every_quoted_leaderboard_that_exists_is_current() -> None:
    assert readme_table.main(["--root", str(ROOT), "--check"]) == 0, "run: make readme"


def test_replace_copies_existing_leaderboards_and_keeps_the_others(tmp_path: Path) -> None:
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "leaderboard.md").write_text("| model | fid |\n|---|---|\n| vae | 1 |\n\n")
    doc = (
        "# Results\n\nmeasured at abc1234\n<!-- leaderboard:digits -->\nold table\n<!-- /leaderboard:digits -->\n"
        "text between\n<!-- leaderboard:mnist5k -->\nkept\n<!-- /leaderboard:mnist5k -->\ntail\n"
    )
    (tmp_path / "README.md").write_text(doc)
    assert readme_table.main(["--root", str(tmp_path), "--check"]) == 1
    assert (tmp_path / "README.md").read_text() == doc  # --check writes nothing
    assert readme_table.main(["--root", str(tmp_path), "--measured-at", "def5678"]) == 0
    new = (tmp_path / "README.md").read_text()
    assert new == doc.replace("old table\n", "| model | fid |\n|---|---|\n| vae | 1 |\n").replace("abc1234", "def5678")
    assert readme_table.main(["--root", str(tmp_path), "--check"]) == 0  # idempotent


def test_restamping_reaches_the_provenance_line_of_each_quoted_leaderboard() -> None:
    for doc, preset in [(ROOT / "README.md", "digits"), (ROOT / "docs" / "mnist5k.md", "mnist5k")]:
        text = doc.read_text()
        head = text[: text.index(f"<!-- leaderboard:{preset} -->")]
        assert readme_table.MEASURED.search(head), f"{doc.name}: no 'measured at <commit>' before the block"
        assert "measured at 0000000" in readme_table.restamp(head, "0000000"), f"{doc.name}: its 'measured at' is too far above the block"


def test_the_readme_is_a_short_read_whose_links_and_targets_exist() -> None:
    assert len(README.splitlines()) <= 400
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        base = doc.parent
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text()):
            if "://" not in target:
                assert (base / target).exists(), f"{doc.name} links to a missing {target}"
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.M))
    named = set(re.findall(r"`make ([\w-]+)", README))
    assert named and named <= targets, f"the README names make targets the Makefile lacks: {named - targets}"


def test_the_families_table_has_a_row_per_registered_family() -> None:
    section = README.split("## Model families", 1)[1].split("\n## ", 1)[0]
    rows = {m.group(1) for m in re.finditer(r"^\| `(\w+)` \|", section, re.M)}
    assert rows == set(MODELS.names())

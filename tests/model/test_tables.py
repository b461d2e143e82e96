"""The one Markdown table renderer: GitHub pipe tables, cells printed as given."""

from __future__ import annotations

from ml.tables import markdown_table


def test_a_table_has_a_header_an_alignment_row_and_one_line_per_row() -> None:
    # GIVEN preformatted figures, one right-aligned column  WHEN rendered
    table = markdown_table(("item", "cost"), [("Lambda", "$1.50"), ("S3", "$0.02")], align=("left", "right"))
    # THEN every line is a pipe row of the same width, and the colons say the alignment
    lines = table.splitlines()
    assert lines == [
        "| item   |   cost |",
        "|:-------|-------:|",
        "| Lambda |  $1.50 |",
        "| S3     |  $0.02 |",
    ]
    assert not table.endswith("\n")


def test_cells_are_not_reparsed_as_numbers() -> None:
    # GIVEN figures a number parser would rewrite (trailing zeros, thousands separators, a blank cell)
    table = markdown_table(("a", "b", "c", "d"), [("0.9680", "1,000", "", 3)])
    # THEN they come out exactly as given
    assert [cell.strip() for cell in table.splitlines()[2].split("|")[1:-1]] == ["0.9680", "1,000", "", "3"]

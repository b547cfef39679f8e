"""The maintainers' page lists the files a sync crosses to the socket: the trace must agree."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import REPO_ROOT

PAGE = REPO_ROOT / "docs" / "layout.md"
TABLE_ROW = re.compile(r"^\| `(planasonix_provider/[\w/]+\.py)` \|", re.MULTILINE)
TRACED_FILE = re.compile(r"^\s*\d+\s+(planasonix_provider/\S+\.py)$")


def warm_trace() -> list[str]:
    printed = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "trace_call_path.py")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
    ).stdout
    warm = printed.split("--- warm", 1)[1]
    return [m[1] for line in warm.splitlines() if (m := TRACED_FILE.match(line))]


def test_the_path_of_a_sync_is_the_one_the_page_shows() -> None:
    section = PAGE.read_text().split("## The path of a sync", 1)[1]
    listed = TABLE_ROW.findall(section)
    assert listed, "docs/layout.md: no table of files under 'The path of a sync'"
    assert warm_trace() == listed, (
        "docs/layout.md lists other files than scripts/trace_call_path.py crosses on the warm "
        "path: update the table (or the code)"
    )

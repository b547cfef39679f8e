"""The documentation cannot rot: every sample in ``docs/*.md`` runs, and the site builds strictly.

Fenced blocks are found in every page and handled by language and by the HTML comment on the line
just before the fence:

* ```` ```python ```` with no comment: executed in a fresh namespace, in this process, against a
  sandbox (speed 10, reset before each sample) with ``PLANASONIX_BASE_URL``,
  ``PLANASONIX_API_KEY`` and ``AIRFLOW_CONN_PLANASONIX_DEFAULT`` set.
* ``<!-- dag-file: NAME.py -->``: a DAG file. It is copied into the Airflow dags folder and must
  load with ``DagBag`` without import errors; with ``test-run`` after the name it is also run
  with ``dag.test()`` against the sandbox and every task must succeed.
* ``<!-- not-executed: REASON -->``: skipped (for blocks that need a real Planasonix account).
* ```` ```bash ````: not run, but every ``make TARGET`` it mentions must exist in the Makefile.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from planasonix_provider.sandbox.testing import SandboxHandle, run_sandbox
from tests.conftest import DAGS_FOLDER, REPO_ROOT

DOCS = REPO_ROOT / "docs"
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
MARKER = re.compile(r"^\s*<!--\s*(?P<kind>[\w-]+)\s*:\s*(?P<argument>.*?)\s*-->\s*$")
KNOWN_MARKERS = ("dag-file", "not-executed")
MAKE_TARGET_USE = re.compile(r"\bmake\s+([A-Za-z0-9_.-]+)")
MAKE_TARGET_RULE = re.compile(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", re.MULTILINE)


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    lang: str
    code: str
    marker: str | None
    argument: str

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def blocks_of(path: Path) -> Iterator[Block]:
    text = path.read_text()
    for match in FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        before = [ln for ln in text[: match.start()].splitlines() if ln.strip()]
        marker = MARKER.match(before[-1]) if before else None
        yield Block(
            page=path.name,
            line=line,
            lang=match["lang"],
            code=textwrap.dedent(match["body"]),
            marker=marker["kind"] if marker else None,
            argument=marker["argument"] if marker else "",
        )


PAGES = sorted(DOCS.glob("*.md"))
BLOCKS = [block for page in PAGES for block in blocks_of(page)]
PYTHON = [b for b in BLOCKS if b.lang == "python" and b.marker is None]
DAG_FILES = [b for b in BLOCKS if b.lang == "python" and b.marker == "dag-file"]
DAG_RUNS = [b for b in DAG_FILES if "test-run" in b.argument.split()]


def dag_file_name(block: Block) -> str:
    name = block.argument.split()[0]
    assert re.fullmatch(r"docs_\w+\.py", name), f"{block.id}: dag-file name {name!r}"
    return name


@pytest.fixture(scope="module")
def docs_sandbox() -> Iterator[SandboxHandle]:
    with run_sandbox(speed=10, seed=3) as handle:
        yield handle


@pytest.fixture
def sample_env(docs_sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch) -> SandboxHandle:
    docs_sandbox.control.reset()
    monkeypatch.setenv("PLANASONIX_BASE_URL", docs_sandbox.base_url)
    monkeypatch.setenv("PLANASONIX_API_KEY", docs_sandbox.api_key)
    monkeypatch.setenv("AIRFLOW_CONN_PLANASONIX_DEFAULT", docs_sandbox.airflow_conn_json)
    monkeypatch.setenv("PLANASONIX_POLL_INTERVAL", "0.2")
    return docs_sandbox


# --- The inventory ---------------------------------------------------------------------------


def test_the_docs_have_samples_of_each_kind() -> None:
    assert len(PYTHON) >= 10
    assert len(DAG_FILES) >= 3
    assert DAG_RUNS


def test_every_marker_is_known_and_explained() -> None:
    for page in PAGES:
        for number, line in enumerate(page.read_text().splitlines(), 1):
            marker = MARKER.match(line)
            if marker:
                assert marker["kind"] in KNOWN_MARKERS, f"{page.name}:{number}: {line}"
                assert marker["argument"], f"{page.name}:{number}: a marker needs an argument"
    for block in BLOCKS:
        if block.marker is not None:
            assert block.lang == "python", f"{block.id}: markers are for python blocks"


# --- Python samples --------------------------------------------------------------------------


@pytest.mark.parametrize("block", PYTHON, ids=[b.id for b in PYTHON])
def test_python_sample_runs(block: Block, sample_env: SandboxHandle) -> None:
    namespace: dict[str, Any] = {"__name__": f"docs_sample_{block.page[:-3]}_{block.line}"}
    exec(compile(block.code, f"docs/{block.id}", "exec"), namespace)  # noqa: S102


# --- DAG samples -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dag_files() -> Iterator[dict[str, Path]]:
    """The DAG samples as files in the dags folder, for the length of this module only."""
    written: dict[str, Path] = {}
    try:
        for block in DAG_FILES:
            name = dag_file_name(block)
            assert name not in written, f"{block.id}: {name} is used twice"
            path = DAGS_FOLDER / name
            path.write_text(block.code)
            written[name] = path
        yield written
    finally:
        for path in written.values():
            path.unlink(missing_ok=True)


def test_dag_samples_load(dag_files: dict[str, Path]) -> None:
    from tests.lines import dag_bag

    bag = dag_bag(str(DAGS_FOLDER))
    ours = {str(path) for path in dag_files.values()}
    assert {f: e for f, e in bag.import_errors.items() if f in ours} == {}
    loaded = {dag.fileloc for dag in bag.dags.values()}
    assert ours <= loaded, ours - loaded


@pytest.mark.parametrize("block", DAG_RUNS, ids=[b.id for b in DAG_RUNS])
def test_dag_sample_runs(
    block: Block,
    dag_files: dict[str, Path],
    sample_env: SandboxHandle,
    airflow_db: None,
) -> None:
    from tests.lines import dag_bag

    path = dag_files[dag_file_name(block)]
    bag = dag_bag(str(path))
    assert bag.import_errors == {}
    (dag,) = bag.dags.values()
    run = dag.test()
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert set(states.values()) == {"success"}, states
    assert sample_env.control.jobs_started() >= 1


# --- Shell samples ---------------------------------------------------------------------------


def test_make_targets_in_bash_samples_exist() -> None:
    targets = set(MAKE_TARGET_RULE.findall((REPO_ROOT / "Makefile").read_text()))
    bash = [b for b in BLOCKS if b.lang in ("bash", "sh", "shell", "console")]
    used = {(b.id, target) for b in bash for target in MAKE_TARGET_USE.findall(b.code)}
    assert used, "no make target is mentioned at all: is the extraction broken?"
    missing = sorted((where, t) for where, t in used if t not in targets)
    assert missing == [], f"make targets the docs mention but the Makefile lacks: {missing}"


# --- The site --------------------------------------------------------------------------------


def test_every_page_is_in_the_nav() -> None:
    import yaml

    config = yaml.safe_load((REPO_ROOT / "mkdocs.yml").read_text())

    def pages(nav: Any) -> Iterator[str]:
        if isinstance(nav, str):
            yield nav
        elif isinstance(nav, list):
            for item in nav:
                yield from pages(item)
        elif isinstance(nav, dict):
            for value in nav.values():
                yield from pages(value)

    in_nav = set(pages(config["nav"]))
    on_disk = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")}
    assert on_disk <= in_nav, on_disk - in_nav


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(REPO_ROOT / "mkdocs.yml"),
            "--site-dir",
            str(tmp_path / "site"),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    assert (tmp_path / "site" / "index.html").exists()
    search = json.loads((tmp_path / "site" / "search" / "search_index.json").read_text())
    titles = {doc["title"] for doc in search["docs"]}
    assert "PlanasonixSyncOperator" in " ".join(titles)

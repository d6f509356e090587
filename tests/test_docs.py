"""The docs stand alone: every relative link resolves, the per-DAG reference matches the DAGs, and no
file cites a document that is not in the repository."""

from __future__ import annotations

import importlib.util
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)

# Files another change is moving out of the runtime package right now; they still cite the old design
# document. Empty this list once they have moved (their new copies must not cite it).


def relative_links(page: Path) -> list[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    targets = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # http:, mailto:, an anchor on the same page
        targets.append(target)
    return targets


def test_the_pages_exist():
    names = {p.name for p in PAGES}
    expected = {"architecture.md", "reports.md", "feeds.md", "summary-and-reminders.md", "production.md"}
    expected |= {"development.md", "benchmarks.md", "dags.md", "README.md"}
    assert expected <= names, expected - names


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_resolves(page):
    links = relative_links(page)
    dangling = [t for t in links if not (page.parent / t.split("#", 1)[0]).exists()]
    assert not dangling, f"{page.relative_to(ROOT)} links to files that do not exist: {dangling}"


def test_the_link_check_sees_a_dangling_link(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("[a](there.md) [b](https://example.org) [c](#here)\n```\n[d](code.md)\n```\n")
    assert relative_links(page) == ["there.md"]


def test_the_files_that_point_at_the_production_guide_find_it():
    for name in ("Dockerfile", "docker-compose.yaml", ".env.example"):
        assert "docs/production.md" in (ROOT / name).read_text(encoding="utf-8")
    assert (ROOT / "docs" / "production.md").is_file()


def test_the_readme_stays_short_and_starts_with_the_two_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.encode("utf-8")) < 12 * 1024
    first_block = text.split("```bash\n", 1)[1].split("```", 1)[0].splitlines()
    assert [line.split()[:2] for line in first_block] == [["make", "demo"], ["make", "test"]]


def test_the_production_guide_keeps_every_failure_alert():
    text = (ROOT / "docs" / "production.md").read_text(encoding="utf-8")
    for dag in ("provincial_reports", "job_feeds", "friday_consolidation", "report_reminders"):
        assert f"| `{dag}`" in text
    for alert in ("Inbox entry skipped", "Report file quarantined", "Feed defect", "Inbox security"):
        assert alert in text, alert


def _tracked_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return [line for line in out.stdout.splitlines() if line and not line.startswith((".venv/", ".git/"))]


def test_no_file_cites_the_design_document():
    citing = []
    for name in _tracked_files():
        path = ROOT / name
        if name == "tests/test_docs.py" or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # images and other binary files
        if "DESIGN" in text:
            citing.append(name)
    assert not citing, (
        f"these files cite DESIGN, a document outside the repository; say it in docs/: {citing}"
    )


def test_the_dag_reference_is_up_to_date():
    spec = importlib.util.spec_from_file_location("dag_reference", ROOT / "tools" / "dag_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = module.TARGET.read_text(encoding="utf-8") if module.TARGET.exists() else ""
    assert module.render() == committed, (
        f"docs/dags.md is stale: run `{module.COMMAND}` and commit the result"
    )


def test_the_readme_links_every_docs_page():
    linked = {Path(t.split("#", 1)[0]).name for t in relative_links(ROOT / "README.md")}
    unlinked = [p.name for p in PAGES if p.parent.name == "docs" and p.name not in linked]
    assert not unlinked, f"README.md does not link these pages of docs/: {unlinked}"

"""The documentation: generated reference pages equal what the code generates, README's links to docs/ resolve
(files and anchors; `mkdocs build --strict` checks the pages' own links), and README's map of the pages is the
site's home page map."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bert_classifier.settings import Settings
from tools import docs_reference

pytestmark = pytest.mark.unit

ROOT = Path(__file__).parents[2]
LINK = re.compile(r"\]\(([^)\s]+)\)")
MAP_LINE = re.compile(r"^- \[(?P<title>[^\]]+)\]\((?P<target>[^)]+)\): (?P<what>.+)$")


def test_the_committed_reference_pages_are_what_the_code_generates():
    assert docs_reference.stale() == [], "run `make docs-reference` (python -m tools.docs_reference) and commit"


def test_a_changed_setting_makes_the_committed_page_stale(tmp_path):
    docs_reference.write(tmp_path)
    assert docs_reference.stale(tmp_path) == []
    page = tmp_path / "settings.md"
    page.write_text(page.read_text().replace("`BERT_CLASSIFIER_MAX_LENGTH`", "`BERT_CLASSIFIER_MAXLEN`"))
    assert docs_reference.stale(tmp_path) == [page]


def test_every_setting_is_on_the_reference_page_with_its_default_env_variable_and_docstring():
    page = docs_reference.settings_page()
    docs = docs_reference.field_docstrings(Settings)
    for name, value in Settings().__dict__.items():
        shown = f"`{value}`" if value != "" else '`""`'  # an empty default shows as "", not as bare backticks
        assert f"| [`{name}`](#{name}) | {type(value).__name__} | {shown} |" in page
        section = page.split(f"## `{name}`\n", 1)[1].split("\n## ", 1)[0]
        assert " ".join(docs[name].split()) in section
        assert f"environment variable `BERT_CLASSIFIER_{name.upper()}`" in section


def test_the_reference_quotes_the_values_model_config_yaml_ships():
    config = yaml.safe_load((ROOT / "model-config.yaml").read_text())
    page = docs_reference.settings_page()
    assert f"| `maxRetryTimeoutInSec` | `{config['maxRetryTimeoutInSec']}` |" in page
    assert f"| [`max_length`](#max_length) | int | `256` | `{config['handler']['max_length']}` |" in page


def test_every_error_type_is_on_the_errors_page_with_its_status():
    page = docs_reference.errors_page()
    for cls in docs_reference.error_types():
        assert f"| {cls.status} | `{cls.__name__}` |" in page
    assert "ServiceUnavailable" in page


def slug(heading: str) -> str:
    """Python-Markdown's default heading id (what MkDocs links to)."""
    text = re.sub(r"[^\w\s-]", "", heading).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(page: Path) -> set[str]:
    return {slug(line.lstrip("#")) for line in page.read_text(encoding="utf-8").splitlines() if line.startswith("#")}


def relative_links(text: str) -> list[str]:
    return [t for t in LINK.findall(text) if not re.match(r"[a-z]+:", t) and not t.startswith("#")]


def test_every_relative_link_in_the_readme_resolves_to_a_file_and_anchor():
    links = relative_links((ROOT / "README.md").read_text(encoding="utf-8"))
    assert any(link.startswith("docs/") for link in links)
    broken = []
    for link in links:
        path, _, anchor = link.partition("#")
        target = ROOT / path
        if not target.exists() or (anchor and anchor not in anchors(target)):
            broken.append(link)
    assert broken == []


def test_a_broken_readme_link_is_found():
    links = relative_links("[x](docs/nowhere.md) [y](docs/security.md#no-such-section) [z](https://a.b/c)")
    assert links == ["docs/nowhere.md", "docs/security.md#no-such-section"]
    assert not (ROOT / "docs/nowhere.md").exists()
    assert "no-such-section" not in anchors(ROOT / "docs/security.md")


def docs_map(text: str, prefix: str) -> list[tuple[str, str, str]]:
    return [
        (m["title"], m["target"].removeprefix(prefix), m["what"]) for m in map(MAP_LINE.match, text.splitlines()) if m
    ]


def test_the_readmes_map_of_the_docs_is_the_home_pages_and_names_every_guide_page():
    readme = docs_map((ROOT / "README.md").read_text(encoding="utf-8"), "docs/")
    home = docs_map((ROOT / "docs" / "index.md").read_text(encoding="utf-8"), "")
    assert readme == home
    guides = {p.name for p in (ROOT / "docs").glob("*.md")} - {"index.md"}
    assert guides <= {target for _, target, _ in readme}


def test_the_readme_stays_short():
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 200

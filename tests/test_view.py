"""view.html, ``evalharness show`` and the entries behind them, on a synthetic run."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from viewrun import EVIL_ID, FILTERS, IMG, PAYLOAD, SCRIPT, Planted, make_run, make_viewed_run

from evalharness.commands.main import cli
from evalharness.view.diff import word_diff
from evalharness.view.entries import anchor_for
from evalharness.view.labels import HumanLabel, read_labels
from evalharness.view.pages import LIST_SIZE, PAGE_SIZE

SMALL = 40


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Planted]:
    run_dir = tmp_path_factory.mktemp("view") / "small"
    return run_dir, make_viewed_run(run_dir, SMALL)


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Planted]:
    run_dir = tmp_path_factory.mktemp("view") / "large"
    return run_dir, make_viewed_run(run_dir, 1000)


def sections(page: str) -> dict[str, list[str]]:
    """Listing id -> prompt ids of its index rows, in order."""
    out = {}
    for key, body in re.findall(
        r'<section class="listing[^"]*" id="l-([^"]+)">(.*?)</section>', page, re.S
    ):
        out[key] = rows(body)
    return out


def rows(fragment: str) -> list[str]:
    return [html.unescape(p) for p in re.findall(r'<tr data-prompt="([^"]*)"', fragment)]


def entries(page: str) -> list[str]:
    return [
        html.unescape(p)
        for p in re.findall(r'<article class="entry" id="[^"]+" data-prompt="([^"]*)"', page)
    ]


def test_small_run_is_one_self_contained_file(small: tuple[Path, Planted]) -> None:
    run_dir, planted = small
    page = (run_dir / "view.html").read_text(encoding="utf-8")
    assert not (run_dir / "view").exists()
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert re.search(r"<script|<img|<link|<iframe|src=\"http|url\(", page, re.I) is None
    assert entries(page) == sorted(planted.ids)


def test_untrusted_text_is_escaped_everywhere(small: tuple[Path, Planted]) -> None:
    page = (small[0] / "view.html").read_text(encoding="utf-8")
    assert SCRIPT not in page and IMG not in page and EVIL_ID not in page
    assert html.escape(SCRIPT) in page and html.escape(EVIL_ID, quote=True) in page
    assert "&amp;amp; done" in page  # an entity in the output is shown, not decoded
    assert f'id="{anchor_for(EVIL_ID)}"' in page
    assert "earlier turns (1 messages)" in page and html.escape(f"user: Earlier {SCRIPT}") in page
    assert f"<h4>Reference answer</h4><pre>{html.escape(f'Reference {IMG}')}</pre>" in page


def test_each_filter_lists_exactly_its_prompts(small: tuple[Path, Planted]) -> None:
    run_dir, planted = small
    found = sections((run_dir / "view.html").read_text(encoding="utf-8"))
    for key, attr in FILTERS.items():
        expected = getattr(planted, attr)
        assert expected, f"nothing planted for {key}"
        assert found[key] == sorted(expected), key
    assert found["all"] == sorted(planted.ids)


def test_orderings_put_the_planted_prompts_first(small: tuple[Path, Planted]) -> None:
    run_dir, planted = small
    found = sections((run_dir / "view.html").read_text(encoding="utf-8"))
    for key, first in (
        ("mass", planted.low_mass),
        ("disagreement", planted.order_flips),
        ("human-gap", planted.human_disagrees),
    ):
        assert set(found[key][: len(first)]) == first, key
        assert sorted(found[key]) == sorted(planted.ids), key


def test_score_difference_ordering_is_by_size(small: tuple[Path, Planted]) -> None:
    page = (small[0] / "view.html").read_text(encoding="utf-8")
    body = re.search(r'id="l-score-diff">(.*?)</section>', page, re.S).group(1)
    diffs = [abs(float(d)) for d in re.findall(r"<td class=num>([+-]\d\.\d\d)</td>", body)]
    assert len(diffs) == SMALL + 1 and diffs == sorted(diffs, reverse=True)


def test_entry_shows_orders_probabilities_diff_failure_and_label(
    small: tuple[Path, Planted],
) -> None:
    run_dir, planted = small
    page = (run_dir / "view.html").read_text(encoding="utf-8")
    blocks = dict(zip(entries(page), re.split(r'<article class="entry"', page)[1:], strict=True))
    flip = blocks[sorted(planted.order_flips)[0]]
    assert "<td class=num>0.80</td>" in flip and "<td class=num>0.30</td>" in flip
    assert "The orders disagree" in flip
    assert flip.count('class="dist"') == 8  # 4 criteria x 2 answers
    assert 'title="P(3) = ' in flip and "mass 95%" in flip
    assert "<ins>To answer the question:" in flip
    failed = blocks[sorted(planted.failures)[0]]
    assert "no verdict among 1,2,3,4,5" in failed and "I cannot decide." in failed
    labeled = blocks["p0000"]  # blind verdict "B" with tuned shown first -> base
    assert "<h4>Human labels</h4>" in labeled and "<li>base — ann" in labeled
    assert "The judge and the human label disagree" in labeled


def test_labels_are_read_tolerantly(small: tuple[Path, Planted]) -> None:
    labels = read_labels(small[0])
    assert labels.present and labels.unreadable == 1
    assert set(labels.by_prompt) == small[1].labeled
    assert labels.by_prompt["p0000"][0].verdict == "base"  # "B", tuned shown first
    assert labels.by_prompt["p0030"][0].verdict == "tuned"  # "A", tuned shown first
    assert labels.by_prompt["p0010"] == [HumanLabel("p0010", "tuned", "ann", PAYLOAD)]
    assert labels.by_prompt["p0020"][0].value == 0.0  # revision 1, not the later revision 0


def test_a_label_note_with_line_separators_stays_one_label(tmp_path: Path) -> None:
    note = "one\u2028two\u2029three\x85four"
    row = {"prompt_id": "p1", "verdict": "tuned", "annotator": "ann", "note": note}
    (tmp_path / "labels.jsonl").write_text(
        json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    labels = read_labels(tmp_path)
    assert labels.unreadable == 0
    assert labels.by_prompt == {"p1": [HumanLabel("p1", "tuned", "ann", note)]}


def test_large_run_is_paged_and_every_link_resolves(large: tuple[Path, Planted]) -> None:
    run_dir, planted = large
    folder = run_dir / "view"
    pages = {p.name: p.read_text(encoding="utf-8") for p in folder.iterdir()}
    pages["../view.html"] = (run_dir / "view.html").read_text(encoding="utf-8")
    entry_pages = sorted(n for n in pages if n.startswith("entries-"))
    assert len(entry_pages) == -(-len(planted.ids) // PAGE_SIZE) == 11
    seen = [pid for name in entry_pages for pid in entries(pages[name])]
    assert seen == sorted(planted.ids)
    assert max(len(entries(pages[n])) for n in entry_pages) == PAGE_SIZE
    anchors = {name: set(re.findall(r' id="([^"]+)"', text)) for name, text in pages.items()}
    for name, text in pages.items():
        for href in set(re.findall(r'href="([^"]+)"', text)):
            href = html.unescape(href)
            target, _, anchor = href.partition("#")
            if target in ("report.html", "../report.html"):
                continue
            if name == "../view.html":
                target = target.removeprefix("view/") if target else name
            else:
                target = target or name
            assert target in pages, (name, href)
            assert not anchor or anchor in anchors[target], (name, href)
    assert max(len(t) for t in pages.values()) < 2_000_000


def test_large_run_filters_span_pages(large: tuple[Path, Planted]) -> None:
    run_dir, planted = large
    folder = run_dir / "view"
    for key, attr in FILTERS.items():
        listed = []
        for page in sorted(folder.glob(f"list-{key}-*.html")):
            listed += rows(page.read_text(encoding="utf-8"))
        assert listed == sorted(getattr(planted, attr)), key
    everything = sorted(folder.glob("list-all-*.html"))
    assert len(everything) == -(-len(planted.ids) // LIST_SIZE)
    root = (run_dir / "view.html").read_text(encoding="utf-8")
    assert rows(root) == sorted(planted.ids)[:LIST_SIZE]


def test_rerendering_a_smaller_run_removes_stale_pages(tmp_path: Path) -> None:
    run_dir = tmp_path / "r"
    make_run(run_dir, PAGE_SIZE + 5, labels=False)
    assert CliRunner().invoke(cli, ["view", str(run_dir)]).exit_code == 0
    assert (run_dir / "view" / "entries-002.html").exists()
    for name in ("generations.jsonl", "pointwise.jsonl", "pairwise.jsonl", "probes.jsonl"):
        path = run_dir / name
        kept = [line for line in path.read_text().splitlines() if '"p00' in line]
        path.write_text("\n".join(kept) + "\n")
    assert CliRunner().invoke(cli, ["view", str(run_dir)]).exit_code == 0
    assert not (run_dir / "view").exists()
    assert len(entries((run_dir / "view.html").read_text(encoding="utf-8"))) == PAGE_SIZE


def test_view_of_a_bad_run_fails_cleanly(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["view", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "no manifest.json" in result.output
    run_dir = tmp_path / "r"
    make_run(run_dir, 3, labels=False)
    with (run_dir / "pairwise.jsonl").open("a") as handle:
        handle.write("{broken\n")
    result = CliRunner().invoke(cli, ["view", str(run_dir)])
    assert result.exit_code == 2
    assert "pairwise.jsonl:" in result.output and len(result.output.strip().splitlines()) == 1
    assert not (run_dir / "view.html").exists()


def test_show_prints_the_entry_as_text(small: tuple[Path, Planted]) -> None:
    run_dir, planted = small
    flip = sorted(planted.order_flips)[0]
    result = CliRunner().invoke(cli, ["show", str(run_dir), flip])
    assert result.exit_code == 0, result.output
    out = result.output
    assert flip in out and "order flip" in out and "the orders disagree" in out
    assert "0.80" in out and "0.30" in out and "E " in out and "mass 95%" in out
    assert "{+To answer the question:" in out
    result = CliRunner().invoke(cli, ["show", str(run_dir), "p0000"])
    assert "[bold red]markup[/]" in result.output  # shown, not parsed as console markup
    assert "judge ≠ human" in result.output or "judge and human disagree" in result.output
    failed = CliRunner().invoke(cli, ["show", str(run_dir), sorted(planted.failures)[0]])
    assert "no verdict among 1,2,3,4,5" in failed.output and "I cannot decide." in failed.output


def test_show_unknown_prompt_is_a_one_line_error(small: tuple[Path, Planted]) -> None:
    result = CliRunner().invoke(cli, ["show", str(small[0]), "p00011"])
    assert result.exit_code == 2
    assert "no prompt 'p00011'" in result.output and "did you mean" in result.output


@pytest.mark.parametrize(
    ("original", "variant"),
    [
        ("The answer is 5.", "Clearly, the answer is 5."),
        ("a  b\nc", "a b\nc d"),
        ("", "new"),
        ("old", ""),
        (PAYLOAD, "To answer: " + PAYLOAD + " In short."),
    ],
)
def test_word_diff_rebuilds_the_variant(original: str, variant: str) -> None:
    segments = word_diff(original, variant)
    assert "".join(t for op, t in segments if op != "delete") == variant
    kept = "".join(t for op, t in segments if op != "insert").split()
    assert kept == original.split()


def test_word_diff_marks_only_changed_words() -> None:
    segments = word_diff("The answer is 5.", "Clearly, the answer is 5.")
    assert segments == [("delete", "The"), ("insert", "Clearly, the"), ("equal", " answer is 5.")]


def test_reports_link_to_the_view_and_run_writes_it(tmp_path: Path) -> None:
    run_dir = tmp_path / "r"
    flags = ["--base", "fake:b", "--tuned", "fake:t", "--judge", "fake:j", "--no-bias"]
    result = CliRunner().invoke(cli, ["run", *flags, "--run-dir", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert "[view.html](view.html)" in (run_dir / "report.md").read_text(encoding="utf-8")
    assert '<a href="view.html">' in (run_dir / "report.html").read_text(encoding="utf-8")
    page = (run_dir / "view.html").read_text(encoding="utf-8")
    generated = [json.loads(x)["prompt_id"] for x in (run_dir / "generations.jsonl").open()]
    assert entries(page) == sorted(set(generated))

"""view.html: the run's prompts as self-contained pages, with an index, orderings and filters.

No script runs: orderings and filters are pre-rendered. A small run is one file whose index
sections are switched by CSS ``:target``; a large run puts its entries (``PAGE_SIZE`` per page)
and its index pages (``LIST_SIZE`` rows each) into ``view/`` next to ``view.html``. Every page
has the report's content-security policy and loads nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from evalharness.report.style import STYLE, esc
from evalharness.view import fmt
from evalharness.view.entries import PromptEntry, RunEntries
from evalharness.view.listings import Listing

CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
PAGE_SIZE = 100
LIST_SIZE = 500
VIEW_FILE = "view.html"
VIEW_DIR = "view"
ROOT, SUB = "root", "sub"

VIEW_STYLE = """
body { max-width: 1400px; }
nav.views { background: #f0f4f8; padding: .5rem .8rem; border-radius: 6px; margin: .8rem 0; }
nav.views a { margin-right: .7rem; white-space: nowrap; }
.listing { display: none; } .listing.default { display: block; }
.listing:target { display: block; } .listing:target ~ .listing.default { display: none; }
.pager a, .pager span { margin-right: .5rem; }
.entry { border: 1px solid #d9e2ec; border-radius: 6px; padding: .2rem 1rem 1rem;
         margin: 1.2rem 0; }
.entry:target { border-color: #2680c2; box-shadow: 0 0 0 2px #bae3ff; }
.meta { color: #52606d; font-size: .85rem; font-weight: normal; }
.tag { background: #fff3c4; color: #8d2b0b; font-size: .75rem; padding: .05rem .4rem;
       border-radius: 4px; margin-left: .3rem; font-weight: 600; }
.flag { color: #b44d12; font-weight: 600; } .fail { color: #cf1124; } .na { color: #7b8794; }
.dist { display: inline-flex; flex-direction: column; vertical-align: middle; }
.bars { display: flex; align-items: flex-end; gap: 2px; height: 28px;
        border-bottom: 1px solid #9aa5b1; }
.bar { width: 10px; background: #2680c2; display: inline-block; }
.levels { display: flex; gap: 2px; font-size: .62rem; color: #7b8794; }
.levels span { width: 10px; text-align: center; }
table.scores td { white-space: nowrap; }
del { background: #ffe3e3; color: #8a041a; } ins { background: #c1eac5; text-decoration: none; }
del + ins, ins + del { margin-left: .2em; }
.probe { border-left: 3px solid #d9e2ec; padding-left: .8rem; margin: .6rem 0; }
.cmp table { width: auto; }
td.num, .num { font-variant-numeric: tabular-nums; white-space: nowrap; }
"""


@dataclass(frozen=True)
class Layout:
    """Where every entry and index page lives, and the links between them."""

    single: bool
    entry_pages: int
    page_of: dict[str, int]

    @classmethod
    def for_entries(cls, entries: list[PromptEntry]) -> Layout:
        """One file for a run of up to PAGE_SIZE prompts, pages under view/ otherwise."""
        page_of = {e.prompt_id: i // PAGE_SIZE + 1 for i, e in enumerate(entries)}
        pages = max(1, math.ceil(len(entries) / PAGE_SIZE))
        return cls(single=len(entries) <= PAGE_SIZE, entry_pages=pages, page_of=page_of)

    @staticmethod
    def _prefix(here: str) -> str:
        return f"{VIEW_DIR}/" if here == ROOT else ""

    def entry_href(self, entry: PromptEntry, here: str) -> str:
        """Link to a prompt's entry."""
        if self.single:
            return f"#{entry.anchor}"
        return f"{self.entries_href(self.page_of[entry.prompt_id], here)}#{entry.anchor}"

    def entries_href(self, page: int, here: str) -> str:
        """Link to a page of entries."""
        return f"{self._prefix(here)}{entries_file(page)}"

    def listing_href(self, key: str, page: int, here: str) -> str:
        """Link to a page of a listing."""
        if self.single:
            return f"#l-{key}"
        return f"{self._prefix(here)}{listing_file(key, page)}"

    def index_href(self, here: str) -> str:
        """Link back to the index."""
        return "#l-all" if self.single else ("#index" if here == ROOT else f"../{VIEW_FILE}")

    @staticmethod
    def report_href(here: str) -> str:
        """Link to the run's report.html."""
        return "report.html" if here == ROOT else "../report.html"


def entries_file(page: int) -> str:
    """File name of a page of entries (under view/)."""
    return f"entries-{page:03d}.html"


def listing_file(key: str, page: int) -> str:
    """File name of a page of a listing (under view/)."""
    return f"list-{key}-{page:03d}.html"


def list_pages(listing: Listing) -> int:
    """How many pages a listing takes (at least one, even when empty)."""
    return max(1, math.ceil(len(listing.entries) / LIST_SIZE))


def pager_links(hrefs: list[str], current: int) -> str:
    """Numbered links to pages 1..n, the current one as plain text."""
    return " ".join(
        f"<span>{k}</span>" if k == current else f'<a href="{href}">{k}</a>'
        for k, href in enumerate(hrefs, 1)
    )


def document(title: str, body: str) -> str:
    """A whole self-contained page."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{STYLE}{VIEW_STYLE}</style>\n</head>\n"
        f'<body id="top">\n{body}\n</body>\n</html>\n'
    )


def summary(run: RunEntries, here: str) -> str:
    """The heading: what was compared, by which judge, and what the page holds."""
    c = run.config
    labels = run.labels
    if labels.present:
        labeled = sum(1 for e in run.entries if e.labels)
        left = f" ({labels.unreadable} label lines left out)" if labels.unreadable else ""
        label_text = f"{labeled} prompts have human labels{left}."
    else:
        label_text = "No human labels (labels.jsonl) in this run."
    return (
        "<h1>evalharness view</h1>"
        f'<p class="sub"><strong>Tuned</strong> {esc(c.tuned)} vs <strong>base</strong> '
        f"{esc(c.base)}, judged by {esc(c.judge)} with rubric {esc(c.rubric)} "
        f"({esc(c.judge_mode)} mode): {len(run.entries)} prompts. Win rates, biases and their "
        f'intervals are in <a href="{Layout.report_href(here)}">report.html</a>. '
        f"{esc(label_text)}</p>"
    )


def nav(layout: Layout, listings: list[Listing], here: str) -> str:
    """Links to every ordering and filter."""
    sorts = " ".join(
        f'<a href="{layout.listing_href(x.key, 1, here)}">{esc(x.title)}</a>'
        for x in listings
        if x.kind == "sort"
    )
    filters = " ".join(
        f'<a href="{layout.listing_href(x.key, 1, here)}">{esc(x.title)} ({len(x.entries)})</a>'
        for x in listings
        if x.kind == "filter"
    )
    return (
        f'<nav class="views"><strong>Sort:</strong> {sorts}<br>'
        f"<strong>Show only:</strong> {filters}</nav>"
    )


def index_table(layout: Layout, entries: list[PromptEntry], here: str, start: int) -> str:
    """Index rows of entries, numbered from ``start``."""
    if not entries:
        return '<p class="na">No prompts.</p>'
    head = (
        "<tr><th>#</th><th>prompt</th><th>category</th><th>tuned − base</th>"
        "<th>P(tuned), tuned first</th><th>P(tuned), base first</th><th>mean</th>"
        "<th>verdict</th><th>lowest mass</th><th>flags</th><th>human</th></tr>"
    )
    rows = []
    for number, e in enumerate(entries, start):
        main = e.main
        rows.append(
            f'<tr data-prompt="{esc(e.prompt_id)}"><td class=num>{number}</td>'
            f'<td><a href="{layout.entry_href(e, here)}">{esc(e.prompt_id)}</a></td>'
            f"<td>{esc(e.category or '')}</td><td class=num>{esc(fmt.signed(e.score_diff))}</td>"
            f"<td class=num>{esc(fmt.prob(main.p_xy if main else None))}</td>"
            f"<td class=num>{esc(fmt.prob(main.p_yx if main else None))}</td>"
            f"<td class=num>{esc(fmt.prob(main.p_mean if main else None))}</td>"
            f"<td>{esc(fmt.main_verdict(e))}</td><td class=num>{esc(fmt.pct(e.min_mass))}</td>"
            f"<td>{esc(', '.join(fmt.flags(e)))}</td><td>{esc(fmt.human_words(e))}</td></tr>"
        )
    return f"<table class=index><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def listing_section(layout: Layout, listing: Listing, page: int, here: str) -> str:
    """One page of a listing: heading, explanation, pager and rows."""
    pages = list_pages(listing)
    start = (page - 1) * LIST_SIZE
    shown = listing.entries[start : start + LIST_SIZE]
    pager = ""
    if pages > 1:
        hrefs = [layout.listing_href(listing.key, k, here) for k in range(1, pages + 1)]
        pager = f'<p class="pager">Page: {pager_links(hrefs, page)}</p>'
    kind = "Sorted" if listing.kind == "sort" else "Filter"
    return (
        f"<h2>{esc(listing.title)}</h2><p>{kind}: {esc(listing.explain)} "
        f"{len(listing.entries)} prompts.</p>{pager}"
        f"{index_table(layout, shown, here, start + 1)}{pager}"
    )

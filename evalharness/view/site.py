"""Render every page of a run's view and write them into the run directory."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from evalharness.config import RunConfig
from evalharness.config import saved_config as config_from_manifest
from evalharness.runstore import RunStore, write_text_atomic
from evalharness.templates import JudgeSetup
from evalharness.view.entries import RunEntries, build_entries
from evalharness.view.html_entry import entry_html
from evalharness.view.listings import DEFAULT, build_listings
from evalharness.view.pages import (
    PAGE_SIZE,
    ROOT,
    SUB,
    VIEW_DIR,
    VIEW_FILE,
    Layout,
    document,
    entries_file,
    list_pages,
    listing_file,
    listing_section,
    nav,
    pager_links,
    summary,
)


def _entries_pager(layout: Layout, page: int, here: str) -> str:
    hrefs = [layout.entries_href(k, here) for k in range(1, layout.entry_pages + 1)]
    links = pager_links(hrefs, page)
    return f'<p class="pager">Pages of prompts ({PAGE_SIZE} each, by prompt id): {links}</p>'


def render_site(run: RunEntries) -> dict[str, str]:
    """Every page of the view: relative path -> HTML. ``view.html`` is always there."""
    layout = Layout.for_entries(run.entries)
    listings = build_listings(run)
    title = f"evalharness view: {run.config.tuned} vs {run.config.base}"
    criteria = run.criteria
    if layout.single:
        sections = [
            f'<section class="listing" id="l-{x.key}">'
            f"{listing_section(layout, x, 1, ROOT)}</section>"
            for x in listings
            if x.key != DEFAULT
        ]
        default = next(x for x in listings if x.key == DEFAULT)
        sections.append(
            f'<section class="listing default" id="l-{DEFAULT}">'
            f"{listing_section(layout, default, 1, ROOT)}</section>"
        )
        entries = "\n".join(entry_html(e, criteria, layout.index_href(ROOT)) for e in run.entries)
        body = (
            summary(run, ROOT)
            + nav(layout, listings, ROOT)
            + f'<div class="listings">{"".join(sections)}</div>'
            + f'<h2 id="entries">Prompts</h2>\n{entries}'
        )
        return {VIEW_FILE: document(title, body)}
    pages: dict[str, str] = {}
    default = next(x for x in listings if x.key == DEFAULT)
    pages[VIEW_FILE] = document(
        title,
        summary(run, ROOT)
        + nav(layout, listings, ROOT)
        + _entries_pager(layout, 0, ROOT)
        + f'<section id="index">{listing_section(layout, default, 1, ROOT)}</section>',
    )
    back = f'<p class="meta"><a href="../{VIEW_FILE}">← view.html</a></p>'
    for listing in listings:
        for page in range(1, list_pages(listing) + 1):
            body = (
                back
                + summary(run, SUB)
                + nav(layout, listings, SUB)
                + listing_section(layout, listing, page, SUB)
            )
            pages[f"{VIEW_DIR}/{listing_file(listing.key, page)}"] = document(title, body)
    for page in range(1, layout.entry_pages + 1):
        chunk = run.entries[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        entries = "\n".join(entry_html(e, criteria, layout.index_href(SUB)) for e in chunk)
        pager = _entries_pager(layout, page, SUB)
        body = back + summary(run, SUB) + nav(layout, listings, SUB) + pager + entries + pager
        pages[f"{VIEW_DIR}/{entries_file(page)}"] = document(title, body)
    return pages


def write_site(run_dir: Path, pages: dict[str, str]) -> Path:
    """Write the pages; the view/ folder is replaced whole, view.html last. Returns view.html."""
    folder = run_dir / VIEW_DIR
    sub = {name: html for name, html in pages.items() if name != VIEW_FILE}
    if sub:
        staging = Path(tempfile.mkdtemp(dir=run_dir, prefix=f".{VIEW_DIR}."))
        try:
            for name, html in sub.items():
                (staging / Path(name).name).write_text(html, encoding="utf-8")
            if folder.exists():
                shutil.rmtree(folder)
            staging.rename(folder)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    elif folder.exists():
        shutil.rmtree(folder)
    write_text_atomic(run_dir / VIEW_FILE, pages[VIEW_FILE])
    return run_dir / VIEW_FILE


def write_view(store: RunStore, config: RunConfig, setup: JudgeSetup | None = None) -> Path:
    """Build the entries of a run and write view.html (and view/ for a large run)."""
    return write_site(store.dir, render_site(build_entries(store, config, setup)))


def saved_config(store: RunStore) -> RunConfig:
    """The config a run was made with (its manifest's; defaults for keys it lacks)."""
    return config_from_manifest(store.read_manifest().get("config", {}))


def write_view_if_run(store: RunStore, setup: JudgeSetup | None = None) -> Path | None:
    """Write the view of a run that has generations (as reports do); None when it has none.

    ``setup`` is the judge setup of the run's saved config, if the caller resolved it."""
    from evalharness.records import GenerationRecord

    if not (store.exists() and store.path(GenerationRecord.FILE).is_file()):
        return None
    return write_view(store, saved_config(store), setup)

"""view.html in headless Chromium: no console errors, injected script inert, filters right.

Needs the Debian packages ``chromium`` and ``chromium-driver`` and the ``selenium`` package.
Set EVALHARNESS_VIEW_SCREENSHOT=path.png to keep a screenshot of the small run's page.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from helpers import require_chromium, severe_console_errors

pytestmark = pytest.mark.browser
require_chromium()

from viewrun import FILTERS, PAYLOAD, Planted, make_viewed_run  # noqa: E402


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Planted]:
    run_dir = tmp_path_factory.mktemp("view-browser") / "small"
    return run_dir, make_viewed_run(run_dir, 40)


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Planted]:
    run_dir = tmp_path_factory.mktemp("view-browser") / "large"
    return run_dir, make_viewed_run(run_dir, 1000)


def open_page(driver: Any, path: Path) -> Any:
    driver.get(path.resolve().as_uri())
    assert driver.execute_script("return document.readyState") == "complete"
    return driver


def shown_rows(driver: Any) -> list[str]:
    """Prompt ids of the index rows that are visible now."""
    rows = driver.find_elements("css selector", "table.index tr[data-prompt]")
    return [r.get_attribute("data-prompt") for r in rows if r.is_displayed()]


def test_small_view_loads_cleanly_and_injected_html_is_inert(
    driver: Any, small: tuple[Path, Planted]
) -> None:
    page = open_page(driver, small[0] / "view.html")
    assert severe_console_errors(page) == []
    assert page.find_element("tag name", "h1").text == "evalharness view"
    assert page.execute_script("return window.__pwned") is None
    assert "pwned" not in page.title
    assert page.execute_script("return document.scripts.length + document.images.length") == 0
    shown = [e.text for e in page.find_elements("css selector", "article pre")]
    assert any(PAYLOAD in text for text in shown)


def test_each_filter_shows_exactly_its_prompts(driver: Any, small: tuple[Path, Planted]) -> None:
    run_dir, planted = small
    page = open_page(driver, run_dir / "view.html")
    assert shown_rows(page) == sorted(planted.ids)  # the default listing
    for key, attr in FILTERS.items():
        page.find_element("css selector", f'nav.views a[href="#l-{key}"]').click()
        assert shown_rows(page) == sorted(getattr(planted, attr)), key
    page.find_element("css selector", 'nav.views a[href="#l-mass"]').click()
    rows = shown_rows(page)
    assert len(rows) == len(planted.ids)
    assert set(rows[: len(planted.low_mass)]) == planted.low_mass
    assert severe_console_errors(page) == []


def test_index_link_jumps_to_the_entry(driver: Any, small: tuple[Path, Planted]) -> None:
    run_dir, planted = small
    page = open_page(driver, run_dir / "view.html")
    flip = sorted(planted.order_flips)[0]
    page.find_element("css selector", f'#l-all tr[data-prompt="{flip}"] a').click()
    target = page.execute_script("return document.querySelector(':target')")
    assert target.get_attribute("data-prompt") == flip
    assert "The orders disagree" in target.text


def test_large_view_is_paged_and_filters_follow_links(
    driver: Any, large: tuple[Path, Planted]
) -> None:
    run_dir, planted = large
    page = open_page(driver, run_dir / "view.html")
    assert severe_console_errors(page) == []
    assert len(shown_rows(page)) == 500
    page.find_element("css selector", 'nav.views a[href="view/list-order-flips-001.html"]').click()
    assert page.current_url.endswith("view/list-order-flips-001.html")
    assert shown_rows(page) == sorted(planted.order_flips)
    first = sorted(planted.order_flips)[0]
    page.find_element("css selector", f'tr[data-prompt="{first}"] a').click()
    assert "entries-001.html#p-" in page.current_url
    target = page.execute_script("return document.querySelector(':target')")
    assert target.get_attribute("data-prompt") == first
    assert len(page.find_elements("css selector", "article.entry")) == 100
    assert page.execute_script("return window.__pwned") is None
    assert severe_console_errors(page) == []


def test_screenshot(driver: Any, small: tuple[Path, Planted]) -> None:
    target = os.environ.get("EVALHARNESS_VIEW_SCREENSHOT")
    if not target:
        pytest.skip("set EVALHARNESS_VIEW_SCREENSHOT=path.png to save a screenshot")
    page = open_page(driver, small[0] / "view.html")
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert page.save_screenshot(str(path))
    assert path.read_bytes().startswith(b"\x89PNG")

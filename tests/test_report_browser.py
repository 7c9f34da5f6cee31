"""report.html in headless Chromium: loads cleanly, plots visible, injected scripts inert.

Needs the Debian packages ``chromium`` and ``chromium-driver`` and the ``selenium`` package.
Set EVALHARNESS_SCREENSHOT=path.png to keep a screenshot of the page.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from helpers import require_chromium, severe_console_errors

pytestmark = pytest.mark.browser
require_chromium()

from test_report import PAYLOAD, make_injected_run  # noqa: E402


@pytest.fixture(scope="module")
def report_html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = make_injected_run(tmp_path_factory.mktemp("browser-run") / "r")
    return run_dir / "report.html"


@pytest.fixture(scope="module")
def page(driver: Any, report_html: Path) -> Any:
    driver.get(report_html.resolve().as_uri())
    driver.execute_script("return document.readyState")
    return driver


def test_loads_without_severe_console_errors(page: Any) -> None:
    assert page.execute_script("return document.readyState") == "complete"
    assert severe_console_errors(page) == []
    assert page.find_element("tag name", "h1").text == "evalharness report"


def test_every_plot_is_drawn(page: Any) -> None:
    plots = page.find_elements("css selector", "img[data-plot]")
    assert len(plots) == 4
    for img in plots:
        assert page.execute_script("return arguments[0].complete", img)
        assert page.execute_script("return arguments[0].naturalWidth", img) > 0
        assert img.is_displayed() and img.size["width"] > 0


def test_injected_script_is_inert_and_shown_as_text(page: Any) -> None:
    assert page.execute_script("return window.__pwned") is None
    assert "pwned" not in page.title
    assert page.find_elements("css selector", "pre script, pre img") == []
    shown = [e.text for e in page.find_elements("tag name", "pre")]
    assert any(PAYLOAD in text for text in shown)


def test_screenshot(page: Any) -> None:
    target = os.environ.get("EVALHARNESS_SCREENSHOT")
    if not target:
        pytest.skip("set EVALHARNESS_SCREENSHOT=path.png to save a screenshot")
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert page.save_screenshot(str(path))
    assert path.read_bytes().startswith(b"\x89PNG")

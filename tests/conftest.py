"""Shared fixtures: an isolated model cache per test, no CI job summary, tiny real models, a
clean backend registry, a prepared label run and a headless Chromium (helpers.py: the code)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evalharness.backends import clear_loaded

_DEFAULT_TORCH_THREADS: list[int] = []


def use_one_torch_thread(one: bool) -> None:
    """One torch thread for the tiny models (threads only add overhead on busy cores).

    Does nothing until torch is imported; ``one=False`` restores torch's default.
    """
    torch = sys.modules.get("torch")
    if torch is None:
        return
    if not _DEFAULT_TORCH_THREADS:
        _DEFAULT_TORCH_THREADS.append(torch.get_num_threads())
    torch.set_num_threads(1 if one else _DEFAULT_TORCH_THREADS[0])


@pytest.fixture(autouse=True, scope="session")
def no_job_summary() -> Iterator[None]:
    """Keep $GITHUB_STEP_SUMMARY (set on CI) away from every test and module fixture; a test
    that checks the job summary sets it itself."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("GITHUB_STEP_SUMMARY", raising=False)
        yield


@pytest.fixture(autouse=True)
def isolated_cache(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Point the model cache at a fresh folder and switch hub access off for every test.

    A test module that sets ``USE_REAL_CACHE = True`` keeps the user's cache (the built-in
    models converted there load in seconds instead of minutes).
    """
    monkeypatch.delenv("EVALHARNESS_ALLOW_HUB", raising=False)
    monkeypatch.delenv("EVALHARNESS_RESULTS_CACHE", raising=False)  # the results cache follows it
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    real = getattr(request.module, "USE_REAL_CACHE", False)
    use_one_torch_thread(not real)
    if not real:
        cache = request.getfixturevalue("tmp_path_factory").mktemp("cache")
        monkeypatch.setenv("EVALHARNESS_CACHE", str(cache))
    yield
    clear_loaded()


@pytest.fixture(scope="session")
def tiny_chat_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Llama with a ChatML chat template, saved as a transformers checkpoint."""
    from tiny import build_model

    path = build_model(tmp_path_factory.mktemp("tiny-chat"), chat=True)
    use_one_torch_thread(True)
    return path


@pytest.fixture(scope="session")
def tiny_base_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same kind of tiny Llama without a chat template (a base model)."""
    from tiny import build_model

    path = build_model(tmp_path_factory.mktemp("tiny-base"), chat=False, seed=1)
    use_one_torch_thread(True)
    return path


@pytest.fixture(scope="session")
def tiny_split_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny chat Llama whose tokenizer spells " 3" as two tokens (a space, then "3")."""
    from tiny import build_model

    path = build_model(tmp_path_factory.mktemp("tiny-split"), chat=True, spaced_digits=False)
    use_one_torch_thread(True)
    return path


@pytest.fixture
def prompt_file(tmp_path: Path) -> Path:
    """A small valid prompt set of four prompts of different lengths."""
    import json

    rows = [
        {"id": "p1", "prompt": "Can you tell me the time?", "category": "honesty"},
        {"id": "p2", "prompt": "Name a river.", "category": "facts"},
        {"id": "p3", "prompt": "Explain in a few words why the sky looks blue at noon."},
        {"id": "p4", "prompt": "Is 3 better than 5?", "reference": "It depends."},
    ]
    path = tmp_path / "prompts.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def label_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A judged scripted run without probes, for the label tests; copy it before changing it."""
    from helpers import make_label_run

    return make_label_run(tmp_path_factory.mktemp("label-run") / "run")


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A headless Chromium for the browser tests (they call helpers.require_chromium first)."""
    from helpers import open_chromium

    browser = open_chromium(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield browser
    finally:
        browser.quit()

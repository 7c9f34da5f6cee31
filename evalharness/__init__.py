"""evalharness: an LLM-judge evaluation harness that measures its judge.

The Python API (docs/api.md) is imported on first use, so ``import evalharness`` stays cheap:
``evalharness.run``, ``evalharness.Run``, ``evalharness.judge_pairs``, ``evalharness.score``,
``evalharness.validate_judge`` (``evalharness.api.validate``; ``evalharness.stages.validate`` is the
module behind ``judge-validate``).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_API = ("run", "Run", "judge_pairs", "score", "validate_judge", "load_judge", "make_config")
__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        from evalharness import api

        return getattr(api, "validate" if name == "validate_judge" else name)
    raise AttributeError(f"module 'evalharness' has no attribute {name!r}")

"""User-facing errors: one class, one line, exit code 2."""

from __future__ import annotations


class HarnessError(Exception):
    """An error caused by the user's input or environment.

    The CLI prints ``error: <message>`` on one line and exits with code 2.
    """

    exit_code = 2


class ConfigError(HarnessError):
    """A malformed or conflicting configuration, prompt set, rubric or run directory."""


class ModelError(HarnessError):
    """A model spec that cannot be resolved or loaded."""


class BackendError(HarnessError):
    """A backend (local model or server) failed in a way the user must fix."""


class FailuresError(HarnessError):
    """The work finished, but more records failed than ``max_failure_share`` allows (exit 3)."""

    exit_code = 3


def did_you_mean(name: str, choices: list[str]) -> str:
    """Return a ' (did you mean X?)' hint plus the list of valid names."""
    import difflib

    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{hint} (valid names: {', '.join(sorted(choices))})"

"""Device and dtype values as the user writes them: one value, or a default plus per-role values.

``"cuda:0,judge=cuda:1"``, ``"auto,judge=float32"``. Checked where a run config is read
(the ground floor); :mod:`evalharness.backends.devices` resolves them to real devices.
"""

from __future__ import annotations

import re

from evalharness.errors import ConfigError

DEVICES = ("auto", "cpu", "cuda", "cuda:N", "mps")
DTYPES = ("auto", "float32", "bfloat16", "float16")
ROLES = ("base", "tuned", "judge", "rewriter")

_DEVICE_RE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def check_value(value: str, what: str) -> None:
    """ConfigError unless ``value`` is a valid device (``what="device"``) or dtype."""
    if what == "device":
        if not _DEVICE_RE.match(value):
            raise ConfigError(f"unknown device {value!r} (valid: {', '.join(DEVICES)})")
    elif value not in DTYPES:
        raise ConfigError(f"unknown dtype {value!r} (valid: {', '.join(DTYPES)})")


def parse_role_values(text: str, what: str) -> dict[str, str]:
    """Parse ``"VALUE"`` or ``"VALUE,role=VALUE,..."`` into ``{"": default, role: value}``.

    ``what`` is ``"device"`` or ``"dtype"``. Raises ConfigError naming the bad part.
    """
    out: dict[str, str] = {"": "auto"}
    for part in (p.strip() for p in str(text).split(",")):
        if not part:
            raise ConfigError(f"empty entry in {what} {text!r}")
        role, sep, value = part.rpartition("=")
        if sep and role not in ROLES:
            raise ConfigError(
                f"unknown role {role!r} in {what} {text!r} (roles: {', '.join(ROLES)})"
            )
        check_value(value, what)
        out[role if sep else ""] = value
    return out

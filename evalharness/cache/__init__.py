"""The content-addressed result cache: generations and judgments reused across runs."""

from evalharness.cache.keys import (
    GENERATION,
    JUDGMENT,
    canonical_json,
    entry_key,
    fake_fingerprint,
    generation_key,
    judgment_key,
    server_fingerprint,
    weights_fingerprint,
)
from evalharness.cache.store import CacheInfo, Lookup, PruneResult, ResultCache, default_root

__all__ = [
    "GENERATION",
    "JUDGMENT",
    "CacheInfo",
    "Lookup",
    "PruneResult",
    "ResultCache",
    "canonical_json",
    "default_root",
    "entry_key",
    "fake_fingerprint",
    "generation_key",
    "judgment_key",
    "server_fingerprint",
    "weights_fingerprint",
]

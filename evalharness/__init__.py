"""evalharness: an LLM-judge evaluation harness that measures its judge."""

__version__ = "0.1.0"

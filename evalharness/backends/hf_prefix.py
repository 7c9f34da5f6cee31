"""The judge's prefix cache: shared prompt prefixes computed once, then each suffix.

A :class:`PrefixCache` belongs to one :class:`~evalharness.backends.hf.HFBackend`. It keeps
the cache of the prefix every judge prompt of the last call shared (the rubric's system
prompt) for the next call, computes the prefix shared within a request group (one response
scored on several criteria) once per group, and each request's suffix with logits at the last
position only. With ``suffix_batch`` (the default) the group prefixes and the suffixes of
similar length run as batches (:mod:`evalharness.backends.hf_batch`). :meth:`naive` is the
reference path: one full prompt per judgment, logits at every position.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import torch

from evalharness.backends.base import Progress
from evalharness.backends.hf_batch import (
    batched_distributions,
    can_batch,
    common_prefix_len,
    prefix_groups,
    starts_with,
)

Distribution = tuple[torch.Tensor, dict[int, torch.Tensor], float]
"""Next-token probabilities, the probabilities after each lead token, and seconds spent."""


class PrefixCache:
    """Prefix-cached next-token distributions for a causal LM and its tokenizer.

    ``stats`` counts forward passes and tokens run through the model (and, when batched,
    ``tokens_padding``: padding computed alongside them).
    """

    def __init__(self, model: Any, tokenizer: Any, device: torch.device) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        self.suffix_batch = True
        self.stats: dict[str, int] = {"forward_calls": 0, "tokens_computed": 0}
        self.root: tuple[tuple[int, ...], Any] = ((), None)
        """The tokens and cache of the prefix kept from the last call."""

    def forget(self) -> None:
        """Drop the kept prefix (the next call computes its shared prefix again)."""
        self.root = ((), None)

    def forward(self, ids: list[int], cache: Any, start: int, keep: int) -> tuple[Any, Any]:
        """One row: ``ids`` from position ``start`` over ``cache``; the last ``keep`` logits."""
        total = start + len(ids)
        self.stats["forward_calls"] += 1
        self.stats["tokens_computed"] += len(ids)
        out = self.model(
            input_ids=torch.tensor([ids], device=self.device),
            attention_mask=torch.ones((1, total), dtype=torch.long, device=self.device),
            position_ids=torch.arange(start, total, device=self.device).unsqueeze(0),
            cache=cache,
            use_cache=True,
            logits_to_keep=keep,
        )
        return out.logits, out.cache

    def naive(
        self, token_lists: list[list[int]], leads: list[list[int]], progress: Progress | None
    ) -> list[Distribution]:
        """One full forward per prompt (and per prompt + lead token), logits everywhere."""

        def last(ids: list[int]) -> torch.Tensor:
            self.stats["forward_calls"] += 1
            self.stats["tokens_computed"] += len(ids)
            input_ids = torch.tensor([ids], device=self.device)
            logits = self.model(input_ids=input_ids, use_cache=False).logits
            return torch.softmax(logits[0, -1].float(), dim=-1).cpu()

        out = []
        with torch.inference_mode():
            for ids, lead in zip(token_lists, leads, strict=True):
                started = time.perf_counter()
                first = last(ids)
                after = {tok: last([*ids, tok]) for tok in lead}
                out.append((first, after, time.perf_counter() - started))
                if progress:
                    progress(1)
        return out

    def root_prefix(self, token_lists: list[list[int]]) -> tuple[int, Any]:
        """The cache of the prefix shared by every request, reusing the one kept from last call.

        Stages judge a few items per call; the rubric's system prompt opens every judge prompt,
        so it is computed once and kept (``self.root``) instead of once per call.
        """
        shared_len = common_prefix_len(token_lists) if len(token_lists) > 1 else 0
        kept_tokens, kept_cache = self.root
        if kept_tokens and all(starts_with(ids, kept_tokens) for ids in token_lists):
            if shared_len <= len(kept_tokens):
                return len(kept_tokens), kept_cache
            cache = copy.deepcopy(kept_cache)
            start = len(kept_tokens)
            _, cache = self.forward(token_lists[0][start:shared_len], cache, start, 1)
            return shared_len, cache
        if not shared_len:
            return 0, None
        _, cache = self.forward(token_lists[0][:shared_len], None, 0, 1)
        self.root = (tuple(token_lists[0][:shared_len]), cache)
        return shared_len, cache

    def cached(
        self, token_lists: list[list[int]], leads: list[list[int]], progress: Progress | None
    ) -> list[Distribution]:
        """Shared prefix once, group prefix once per group, then each suffix; last logits only."""
        out: list[Distribution | None] = [None] * len(token_lists)
        with torch.inference_mode():
            started = time.perf_counter()
            shared_len, root_cache = self.root_prefix(token_lists)
            root_seconds = time.perf_counter() - started
            groups = prefix_groups(token_lists, shared_len)
            if self.suffix_batch and shared_len and can_batch(root_cache):
                return batched_distributions(
                    self, token_lists, leads, shared_len, root_cache, groups, progress,
                    root_seconds,
                )  # fmt: skip
            for members in groups:
                started = time.perf_counter()
                lists = [token_lists[i] for i in members]
                group_len = common_prefix_len(lists) if len(lists) > 1 else shared_len
                group_len = max(group_len, shared_len)
                cache = copy.deepcopy(root_cache)
                if group_len > shared_len:
                    _, cache = self.forward(lists[0][shared_len:group_len], cache, shared_len, 1)
                group_seconds = time.perf_counter() - started
                for index in members:
                    started = time.perf_counter()
                    ids = token_lists[index]
                    # the forward pass extends the cache in place: each branch gets a copy
                    branch = copy.deepcopy(cache)
                    logits, branch = self.forward(ids[group_len:], branch, group_len, 1)
                    first = torch.softmax(logits[0, -1].float(), dim=-1).cpu()
                    after = {}
                    for n, tok in enumerate(leads[index]):
                        step = branch if n == len(leads[index]) - 1 else copy.deepcopy(branch)
                        logits, _ = self.forward([tok], step, len(ids), 1)
                        after[tok] = torch.softmax(logits[0, -1].float(), dim=-1).cpu()
                    spent = time.perf_counter() - started
                    share = (group_seconds + root_seconds / len(groups)) / len(members)
                    out[index] = (first, after, spent + share)
                    if progress:
                        progress(1)
        return [item for item in out if item is not None]

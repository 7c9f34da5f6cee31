"""Batched judge suffixes: many short prompt endings over cached prefixes in one forward pass.

The judge reads one next-token distribution per request. Requests share a root prefix (the
rubric's system prompt) and, within a group, a longer one (a response read for all its
criteria; an answer in slot A compared with several others). :class:`HFBackend` computes
the root once; this module then

1. computes the group prefixes of similar length as one batch over the root cache, expanded
   along the batch dimension, and
2. runs the suffixes of similar length (across groups of that batch) as one batch over the
   group caches, each row picking its group's cache.

Every row's segment is padded *before* its real tokens (the padding sits between the cached
prefix and the segment, masked out of the attention mask), with explicit ``position_ids``
that continue from the row's real prefix length. The row's last real token is then in the
last column for every row, so ``logits_to_keep`` reads exactly the positions needed, for any
model head. A choice spelled as two tokens (a space, then the digit) needs the distribution
after the lead token as well: the lead token is appended to the row, and the two last
columns give both distributions in the same pass.

Only caches made of plain (non-sliding) dynamic layers are batched this way; the caller
falls back to one suffix at a time otherwise.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

Distribution = tuple[torch.Tensor, dict[int, torch.Tensor], float]
"""Next-token probabilities, the probabilities after each lead token, and seconds spent."""

MAX_ROWS = 16
"""Rows per batched forward pass."""

MAX_PAD_SHARE = 0.25
"""A batch grows while its padding stays under this share of its computed tokens."""

MAX_BATCH_TOKENS = {"cpu": 4096}
"""Computed tokens (rows x width) per batched pass, by device type; others get the default."""

DEFAULT_BATCH_TOKENS = 32768


def can_batch(cache: Any) -> bool:
    """Whether a prefix cache can be expanded and indexed along the batch dimension."""
    from transformers.cache_utils import DynamicLayer

    layers: list[Any] = list(getattr(cache, "layers", None) or [])
    return bool(layers) and all(
        type(layer) is DynamicLayer and layer.get_seq_length() > 0 for layer in layers
    )


def buckets(
    lengths: Sequence[int], max_rows: int, max_tokens: int, max_pad: float = MAX_PAD_SHARE
) -> list[list[int]]:
    """Indices in batches of similar length: sorted by length, a batch grows while it holds
    at most ``max_rows`` rows, ``max_tokens`` padded tokens and ``max_pad`` padding share."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    out: list[list[int]] = []
    current: list[int] = []
    real = 0
    for index in order:
        length = lengths[index]
        rows = len(current) + 1
        padded = rows * length  # sorted: this one is the longest so far
        if current and (
            rows > max_rows or padded > max_tokens or padded - (real + length) > max_pad * padded
        ):
            out.append(current)
            current, real = [], 0
        current.append(index)
        real += length
    if current:
        out.append(current)
    return out


def _select(cache: Any, indices: torch.Tensor) -> Any:
    """A new cache holding the given batch rows of ``cache`` (which stays untouched)."""
    new = copy.copy(cache)
    new.layers = [copy.copy(layer) for layer in cache.layers]
    for layer in new.layers:
        layer.batch_select_indices(indices)
    return new


class _Segments:
    """Left-padded token segments continuing cached rows: ids, mask and positions."""

    def __init__(self, segments: list[list[int]], starts: list[int], pad: int, device: Any):
        width = max(len(seg) for seg in segments)
        self.width = width
        self.ids = torch.full((len(segments), width), pad, dtype=torch.long, device=device)
        self.mask = torch.zeros((len(segments), width), dtype=torch.long, device=device)
        self.positions = torch.zeros((len(segments), width), dtype=torch.long, device=device)
        for row, (seg, start) in enumerate(zip(segments, starts, strict=True)):
            if not seg:
                self.positions[row] = start
                continue
            offset = width - len(seg)
            self.ids[row, offset:] = torch.tensor(seg, device=device)
            self.mask[row, offset:] = 1
            self.positions[row, :offset] = start
            self.positions[row, offset:] = torch.arange(start, start + len(seg), device=device)
        self.real = sum(len(seg) for seg in segments)


def batched_distributions(
    backend: Any,
    token_lists: list[list[int]],
    leads: list[list[int]],
    shared_len: int,
    root_cache: Any,
    groups: list[list[int]],
    progress: Callable[[int], None] | None,
    root_seconds: float = 0.0,
) -> list[Distribution]:
    """Distributions for every request, group prefixes and suffixes run in batches.

    ``backend`` is the :class:`~evalharness.backends.hf_prefix.PrefixCache` (its model,
    device, pad token and counters); ``groups`` lists request indices sharing a prefix
    beyond the root.
    """
    device = backend.device
    max_tokens = MAX_BATCH_TOKENS.get(device.type, DEFAULT_BATCH_TOKENS)
    out: list[Distribution | None] = [None] * len(token_lists)
    group_lens = []
    for members in groups:
        lists = [token_lists[i] for i in members]
        common = common_prefix_len(lists) if len(lists) > 1 else shared_len
        group_lens.append(max(common, shared_len))
    seg_lens = [length - shared_len for length in group_lens]
    root_share = root_seconds / max(len(token_lists), 1)
    for chunk in buckets(seg_lens, MAX_ROWS, max_tokens):
        started = time.perf_counter()
        cache, cache_mask = _group_caches(
            backend, [token_lists[groups[g][0]] for g in chunk], [group_lens[g] for g in chunk],
            shared_len, root_cache,
        )  # fmt: skip
        n_members = sum(len(groups[g]) for g in chunk)
        group_share = (time.perf_counter() - started) / n_members
        rows: list[tuple[int, int, list[int], int | None]] = []  # (request, cache row, ids, lead)
        for row, g in enumerate(chunk):
            for index in groups[g]:
                suffix = token_lists[index][group_lens[g] :]
                options: list[int | None] = list(leads[index]) or [None]
                for option in options:
                    extra = [option] if option is not None else []
                    rows.append((index, row, suffix + extra, option))
        for part in buckets([len(r[2]) for r in rows], MAX_ROWS, max_tokens):
            started = time.perf_counter()
            chosen = [rows[i] for i in part]
            logits = _suffix_logits(backend, chosen, cache, cache_mask, group_lens, chunk)
            probs = torch.softmax(logits.float(), dim=-1).cpu()
            seconds = (time.perf_counter() - started) / len(chosen)
            for n, (request, _, _, token) in enumerate(chosen):
                first = probs[n, -2] if token is not None else probs[n, -1]
                previous = out[request]
                entry: Distribution
                if previous is None:
                    entry = (first, {}, seconds + group_share + root_share)
                else:
                    entry = (previous[0], previous[1], previous[2] + seconds)
                if token is not None:
                    entry[1][token] = probs[n, -1]
                out[request] = entry
            if progress:
                done = {request for request, *_ in chosen}
                finished = [i for i in done if len(_after(out[i])) == len(leads[i])]
                if finished:
                    progress(len(finished))
    return [item for item in out if item is not None]


def _after(item: Distribution | None) -> dict[int, torch.Tensor]:
    return {} if item is None else item[1]


def _group_caches(
    backend: Any,
    lists: list[list[int]],
    lengths: list[int],
    shared_len: int,
    root_cache: Any,
) -> tuple[Any, torch.Tensor]:
    """The root cache expanded to one row per group, each row extended by its group prefix."""
    device = backend.device
    rows = torch.zeros(len(lists), dtype=torch.long, device=device)
    cache = _select(root_cache, rows)
    root_mask = torch.ones((len(lists), shared_len), dtype=torch.long, device=device)
    segments = [ids[shared_len:length] for ids, length in zip(lists, lengths, strict=True)]
    if not any(segments):
        return cache, root_mask
    seg = _Segments(segments, [shared_len] * len(lists), backend.tokenizer.pad_token_id, device)
    mask = torch.cat([root_mask, seg.mask], dim=1)
    backend.stats["forward_calls"] += 1
    backend.stats["tokens_computed"] += seg.real
    backend.stats["tokens_padding"] = backend.stats.get("tokens_padding", 0) + (
        seg.ids.numel() - seg.real
    )
    out = backend.model(
        input_ids=seg.ids,
        attention_mask=mask,
        position_ids=seg.positions,
        cache=cache,
        use_cache=True,
        logits_to_keep=1,
    )
    return out.cache, mask


def _suffix_logits(
    backend: Any,
    chosen: list[tuple[int, int, list[int], int | None]],
    cache: Any,
    cache_mask: torch.Tensor,
    group_lens: list[int],
    chunk: list[int],
) -> torch.Tensor:
    """Logits at the last two columns of each row (row ends aligned by left padding)."""
    device = backend.device
    index = torch.tensor([row for _, row, _, _ in chosen], dtype=torch.long, device=device)
    starts = [group_lens[chunk[row]] for _, row, _, _ in chosen]
    pad = backend.tokenizer.pad_token_id
    seg = _Segments([ids for _, _, ids, _ in chosen], starts, pad, device)
    mask = torch.cat([cache_mask.index_select(0, index), seg.mask], dim=1)
    backend.stats["forward_calls"] += 1
    backend.stats["tokens_computed"] += seg.real
    backend.stats["tokens_padding"] = backend.stats.get("tokens_padding", 0) + (
        seg.ids.numel() - seg.real
    )
    keep = 2 if any(lead is not None for *_, lead in chosen) and seg.width > 1 else 1
    out = backend.model(
        input_ids=seg.ids,
        attention_mask=mask,
        position_ids=seg.positions,
        cache=_select(cache, index),
        use_cache=True,
        logits_to_keep=keep,
    )
    logits = out.logits
    if keep == 1:  # a one-token row with no lead: the first distribution is the last column
        logits = torch.cat([logits, logits], dim=1)
    result: torch.Tensor = logits
    return result


def common_prefix_len(lists: list[list[int]]) -> int:
    """Longest common prefix of token lists, leaving at least one token in each."""
    limit = min(len(ids) for ids in lists) - 1
    length = 0
    first = lists[0]
    while length < limit and all(ids[length] == first[length] for ids in lists):
        length += 1
    return max(length, 0)


def starts_with(ids: list[int], prefix: tuple[int, ...]) -> bool:
    """Whether ``ids`` extends ``prefix`` by at least one token."""
    return len(ids) > len(prefix) and tuple(ids[: len(prefix)]) == prefix


MIN_GROUP_PREFIX = 16
"""Requests sharing at least this many tokens beyond the common root are computed as a group."""


def prefix_groups(token_lists: list[list[int]], root_len: int) -> list[list[int]]:
    """Indices grouped by a shared prefix beyond the root (one response read for all its
    criteria; one answer in slot A compared with several others), found by sorting."""
    order = sorted(range(len(token_lists)), key=lambda i: token_lists[i])
    groups: list[list[int]] = []
    for index in order:
        if groups:
            first = token_lists[groups[-1][0]]
            shared = common_prefix_len([first, token_lists[index]])
            if shared - root_len >= MIN_GROUP_PREFIX:
                groups[-1].append(index)
                continue
        groups.append([index])
    return groups

"""Greedy batched decoding in a plain loop: one forward and one argmax per token.

``model.generate`` runs logits processors, stopping criteria and bookkeeping on every step;
for greedy decoding without any of them this loop does the same arithmetic with fewer
Python steps per token. It is used only when the model's generation config asks for no
processor (no repetition penalty, banned words, minimum length...), and it gives the same
tokens as ``generate``: left padding, position ids counted over the real tokens, finished
rows continued with the pad token, the attention mask extended by one each step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

_NEUTRAL = {
    "repetition_penalty": (None, 1.0),
    "encoder_repetition_penalty": (None, 1.0),
    "no_repeat_ngram_size": (None, 0),
    "min_new_tokens": (None, 0),
    "min_length": (None, 0),
    "bad_words_ids": (None,),
    "suppress_tokens": (None,),
    "begin_suppress_tokens": (None,),
    "forced_bos_token_id": (None,),
    "forced_eos_token_id": (None,),
    "sequence_bias": (None,),
    "exponential_decay_length_penalty": (None,),
    "renormalize_logits": (None, False),
}

STOP_CHECK_EVERY = 4
"""Steps between checks for stop strings (a row that printed one may stop)."""


def plain_greedy_ok(model: Any) -> bool:
    """Whether the model's generation config leaves greedy decoding as a bare argmax."""
    config = getattr(model, "generation_config", None)
    if config is None:
        return True
    return all(getattr(config, key, None) in values for key, values in _NEUTRAL.items())


def greedy(
    model: Any,
    input_ids: torch.Tensor,
    mask: torch.Tensor,
    max_new_tokens: int,
    eos_ids: set[int],
    pad: int,
    stopped: Callable[[int, list[int]], bool] | None = None,
) -> torch.Tensor:
    """Prompt and new tokens, ``(batch, width + steps)``, as greedy ``generate`` returns them.

    ``stopped(row, new_tokens)`` says whether a row printed a stop string.
    """
    device = input_ids.device
    eos = torch.tensor(sorted(eos_ids), dtype=torch.long, device=device)
    positions = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1)
    finished = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=device)
    tokens = input_ids
    step_ids, cache = input_ids, None
    new: list[torch.Tensor] = []
    for step in range(max_new_tokens):
        out = model(
            input_ids=step_ids,
            attention_mask=mask,
            position_ids=positions,
            cache=cache,
            use_cache=True,
            logits_to_keep=1,
        )
        cache = out.cache
        next_ids = out.logits[:, -1].argmax(-1)
        next_ids = next_ids.masked_fill(finished, pad)
        new.append(next_ids)
        finished |= torch.isin(next_ids, eos)
        if stopped is not None and (step + 1) % STOP_CHECK_EVERY == 0:
            so_far = torch.stack(new, dim=1).tolist()
            for row, ids in enumerate(so_far):
                if not finished[row] and stopped(row, ids):
                    finished[row] = True
        if bool(finished.all()):
            break
        step_ids = next_ids.unsqueeze(1)
        mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=1)
        positions = positions[:, -1:] + 1
    if not new:
        return tokens
    return torch.cat([tokens, torch.stack(new, dim=1)], dim=1)


def end_ids(model: Any, tokenizer: Any) -> set[int]:
    """Every end-of-sequence token id the model or its tokenizer names."""
    ids: set[int] = set()
    for source in (getattr(model, "generation_config", None), model.config):
        value = getattr(source, "eos_token_id", None) if source is not None else None
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, list):
            ids.update(v for v in value if isinstance(v, int))
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    return ids

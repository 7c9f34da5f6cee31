"""Local transformers backend: batched generation and prefix-cached choice probabilities."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import torch

from evalharness.backends.base import (
    Backend,
    BackendInfo,
    ChoiceRequest,
    ChoiceResult,
    GenerationRequest,
    GenerationResult,
    Message,
    Progress,
)
from evalharness.backends.devices import free_accelerator_memory, input_device, is_out_of_memory
from evalharness.backends.hf_decode import end_ids, greedy, plain_greedy_ok
from evalharness.backends.hf_prefix import PrefixCache
from evalharness.errors import ModelError

AUTO_BATCH_START = 64
"""The first generation batch size tried by ``batch_size="auto"`` on an accelerator."""


class HFBackend(Backend):
    """A causal LM loaded with transformers (from a checkpoint, hub id or converted GGUF).

    ``prefix_cache`` turns on the judge fast path: the prompt prefix shared by all requests
    of a call is computed once, the prefix shared within a request group (one response
    scored on several criteria) once per group, and each request then adds only its suffix,
    with logits kept at the last position only. With ``suffix_batch`` (the default) the group
    prefixes of similar length run as one batch, and so do the suffixes
    (:mod:`evalharness.backends.hf_batch`); ``suffix_batch=False`` runs them one at a time.
    ``prefix_cache=False`` is the naive path (one full prompt per judgment, logits at every
    position), kept to check the fast path.

    Every tensor the backend makes is created on the model's input device, and the cached
    prefixes (and their per-branch copies) stay there. ``batch_size="auto"`` starts from
    :data:`AUTO_BATCH_START` on an accelerator (8 on the CPU, where memory errors do not
    come back as exceptions) and halves the batch on every out-of-memory error; the size
    that worked is kept for later batches and recorded in ``info.details["batch_size_used"]``.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        info: BackendInfo,
        *,
        batch_size: int | str = 8,
        prefix_cache: bool = True,
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.info = info
        self.device = input_device(model)
        self.auto_batch = batch_size == "auto"
        if self.auto_batch:
            batch_size = AUTO_BATCH_START if self.device.type != "cpu" else 8
        elif not isinstance(batch_size, int) or batch_size < 1:
            raise ModelError(f"batch size must be a positive integer or 'auto', not {batch_size!r}")
        self.batch_size: int = int(batch_size)
        self.info.details["batch_size"] = "auto" if self.auto_batch else self.batch_size
        self.info.details["batch_size_used"] = self.batch_size
        self.prefix_cache = prefix_cache
        self.prefix = PrefixCache(self.model, tokenizer, self.device)
        """The judge's prefix cache (:mod:`evalharness.backends.hf_prefix`)."""
        self.plain_greedy = False
        """Greedy generation in a plain decode loop (hf_decode) instead of ``generate``: off
        until it is measured faster at batch size (see README Performance)."""
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.stats = self.prefix.stats
        """Judge-path counters: forward passes, tokens run through the model (and, when
        batched, ``tokens_padding``: padding computed alongside them)."""
        self._choice_ids: dict[tuple[str, ...], dict[str, list[tuple[int, ...]]]] = {}

    @property
    def suffix_batch(self) -> bool:
        """Whether the judge batches suffixes of similar length (else one per forward)."""
        return self.prefix.suffix_batch

    @suffix_batch.setter
    def suffix_batch(self, value: bool) -> None:
        self.prefix.suffix_batch = value

    # ----------------------------------------------------------------- rendering
    def render(self, messages: Sequence[Message] | None, prompt: str | None) -> str:
        """Apply the chat template (assistant turn opened) or return the plain prompt."""
        if messages is None:
            return prompt or ""
        if not self.info.has_chat_template:
            raise ModelError(f"{self.info.spec} has no chat template; send a plain prompt")
        return str(
            self.tokenizer.apply_chat_template(
                list(messages), tokenize=False, add_generation_prompt=True
            )
        )

    def _encode(self, text: str, templated: bool) -> list[int]:
        # A chat template writes its own special tokens; a plain prompt gets the tokenizer's
        # (for example Gemma's <bos>).
        return list(self.tokenizer(text, add_special_tokens=not templated)["input_ids"])

    def count_tokens(self, text: str) -> int:
        """Number of tokens of ``text`` without special tokens."""
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    # ---------------------------------------------------------------- generation
    def generate(
        self, requests: Sequence[GenerationRequest], progress: Progress | None = None
    ) -> list[GenerationResult]:
        """Batched generation with left padding, batches formed from similar lengths."""
        results: list[GenerationResult | None] = [None] * len(requests)
        encoded = []
        for index, request in enumerate(requests):
            text = self.render(request.messages, request.prompt)
            encoded.append((index, text, self._encode(text, request.messages is not None)))
        # Group by sampling parameters, then sort by length so padding stays small.
        groups: dict[tuple[Any, ...], list[tuple[int, str, list[int]]]] = {}
        context = getattr(self.model.config, "max_position_embeddings", None)
        for item in encoded:
            req = requests[item[0]]
            if context and len(item[2]) + req.max_new_tokens > context:
                results[item[0]] = _too_long(item, req, context)
                continue
            params = (req.max_new_tokens, req.temperature, req.top_p, req.seed, req.stop)
            groups.setdefault(params, []).append(item)
        for items in groups.values():
            items.sort(key=lambda item: len(item[2]))
            start = 0
            while start < len(items):
                batch = items[start : start + self.batch_size]
                try:
                    generated = self._generate_batch(batch, requests[batch[0][0]])
                except Exception as exc:  # noqa: BLE001 - only out-of-memory is handled
                    if not is_out_of_memory(exc):
                        raise
                    self._back_off(exc)
                    continue
                for (index, _, _), result in zip(batch, generated, strict=True):
                    results[index] = result
                start += len(batch)
                if progress:
                    progress(len(batch))
        return [r for r in results if r is not None]

    def _back_off(self, exc: BaseException) -> None:
        """Halve the batch after an out-of-memory error (auto batch size), else explain."""
        free_accelerator_memory()
        if not self.auto_batch:
            raise ModelError(
                f"{self.info.spec}: out of memory on {self.device} at batch size "
                f"{self.batch_size}: pass a smaller --batch-size or --batch-size auto"
            ) from exc
        if self.batch_size == 1:
            raise ModelError(
                f"{self.info.spec}: out of memory on {self.device} even at batch size 1"
            ) from exc
        self.batch_size = max(1, self.batch_size // 2)
        self.info.details["batch_size_used"] = self.batch_size

    def _generate_batch(
        self, batch: list[tuple[int, str, list[int]]], req: GenerationRequest
    ) -> list[GenerationResult]:
        pad = self.tokenizer.pad_token_id
        width = max(len(ids) for _, _, ids in batch)
        input_ids = torch.full((len(batch), width), pad, dtype=torch.long, device=self.device)
        mask = torch.zeros((len(batch), width), dtype=torch.long, device=self.device)
        for row, (_, _, ids) in enumerate(batch):
            input_ids[row, width - len(ids) :] = torch.tensor(ids, device=self.device)
            mask[row, width - len(ids) :] = 1
        kwargs: dict[str, Any] = {
            "max_new_tokens": req.max_new_tokens,
            "pad_token_id": pad,
            "do_sample": req.temperature > 0,
        }
        if req.temperature > 0:
            kwargs.update(temperature=req.temperature, top_p=req.top_p, top_k=0)
            torch.manual_seed(req.seed)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        if req.stop:
            kwargs.update(stop_strings=list(req.stop), tokenizer=self.tokenizer)
        eos_ids = end_ids(self.model, self.tokenizer)
        started = time.perf_counter()
        with torch.inference_mode():
            if req.temperature > 0 or not self.plain_greedy or not plain_greedy_ok(self.model):
                out = self.model.generate(input_ids=input_ids, attention_mask=mask, **kwargs)
            else:
                decode = self.tokenizer.decode

                def stopped(row: int, ids: list[int]) -> bool:
                    text = decode(ids, skip_special_tokens=True)
                    return any(stop in text for stop in req.stop)

                out = greedy(
                    self.model, input_ids, mask, req.max_new_tokens, eos_ids, pad,
                    stopped if req.stop else None,
                )  # fmt: skip
        seconds = (time.perf_counter() - started) / len(batch)
        results = []
        for row, (_, text, ids) in enumerate(batch):
            new = out[row, width:].tolist()
            finish = "length"
            cut = len(new)
            for pos, tok in enumerate(new):
                if tok in eos_ids:
                    cut, finish = pos, "stop"
                    break
            output = self.tokenizer.decode(new[:cut], skip_special_tokens=True)
            tokens = cut + (1 if finish == "stop" and cut < len(new) else 0)
            hits = [(output.find(stop), stop) for stop in req.stop if stop in output]
            if hits:
                found, stop = min(hits)
                output, finish = output[:found], "stop"
                # tokens spent up to and including the stop string
                tokens = min(tokens, self.count_tokens(output + stop))
            results.append(
                GenerationResult(
                    text=output,
                    prompt_tokens=len(ids),
                    output_tokens=tokens,
                    finish_reason=finish,
                    seconds=round(seconds, 4),
                    rendered_prompt=text,
                )
            )
        return results

    # ---------------------------------------------------------- choice probabilities
    def choice_token_ids(self, choices: tuple[str, ...]) -> dict[str, list[tuple[int, ...]]]:
        """Token sequences that spell each choice, alone and after a space.

        "3" is one token; " 3" is one token in some vocabularies and two ("Ġ", "3") in others.
        Both forms are read, so the score does not depend on how the prompt ends.
        """
        if choices not in self._choice_ids:
            mapping: dict[str, list[tuple[int, ...]]] = {}
            owner: dict[tuple[int, ...], str] = {}
            for choice in choices:
                seqs: list[tuple[int, ...]] = []
                for form in (choice, " " + choice):
                    tokens = tuple(self.tokenizer(form, add_special_tokens=False)["input_ids"])
                    if 1 <= len(tokens) <= 2 and tokens not in seqs:
                        seqs.append(tokens)
                if not any(len(seq) == 1 for seq in seqs):
                    raise ModelError(
                        f"choice {choice!r} is not a single token for {self.info.spec}"
                    )
                for seq in seqs:
                    if owner.setdefault(seq, choice) != choice:
                        raise ModelError(f"choices {owner[seq]!r} and {choice!r} share a token")
                mapping[choice] = seqs
            self._choice_ids[choices] = mapping
        return self._choice_ids[choices]

    def choice_probs(
        self, requests: Sequence[ChoiceRequest], progress: Progress | None = None
    ) -> list[ChoiceResult]:
        """Next-token probabilities of each request's choices."""
        texts, token_lists, leads = [], [], []
        for request in requests:
            text = self.render(request.messages, request.prompt) + request.answer_prefix
            texts.append(text)
            token_lists.append(self._encode(text, request.messages is not None))
            seqs = self.choice_token_ids(request.choices).values()
            leads.append(sorted({seq[0] for forms in seqs for seq in forms if len(seq) == 2}))
        context = getattr(self.model.config, "max_position_embeddings", None)
        fits = [not context or len(ids) + 2 <= context for ids in token_lists]
        if not all(fits):  # judge what fits; record the rest as skipped, with the reason
            kept = [r for r, ok in zip(requests, fits, strict=True) if ok]
            inner = iter(self.choice_probs(kept, progress))
            if progress:
                progress(fits.count(False))
            return [
                next(inner) if ok else ChoiceResult(
                    {}, rendered_prompt=text, error=f"skipped: the judge prompt is {len(ids)} "
                    f"tokens, longer than the model's context of {context} tokens",
                )
                for ok, text, ids in zip(fits, texts, token_lists, strict=True)
            ]  # fmt: skip
        if self.prefix_cache:
            distributions = self.prefix.cached(token_lists, leads, progress)
        else:
            distributions = self.prefix.naive(token_lists, leads, progress)
        results = []
        for request, text, (first, after, seconds) in zip(
            requests, texts, distributions, strict=True
        ):
            probs = {}
            for choice, forms in self.choice_token_ids(request.choices).items():
                total = 0.0
                for seq in forms:
                    if len(seq) == 1:
                        total += float(first[seq[0]])
                    else:
                        total += float(first[seq[0]]) * float(after[seq[0]][seq[1]])
                probs[choice] = total
            results.append(ChoiceResult(probs, rendered_prompt=text, seconds=round(seconds, 4)))
        return results


def _too_long(item: tuple[int, str, list[int]], req: GenerationRequest, context: int) -> Any:
    """A generation skipped because the prompt does not fit the model's context."""
    reason = (
        f"skipped: the prompt is {len(item[2])} tokens and with max_new_tokens "
        f"{req.max_new_tokens} exceeds the model's context of {context} tokens"
    )
    return GenerationResult("", len(item[2]), 0, "error", 0.0, item[1], reason)

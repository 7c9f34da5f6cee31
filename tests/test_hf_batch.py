"""Batched judge suffixes (backends/hf_batch.py) against the naive and one-at-a-time paths."""

import random

import pytest
from helpers import VARIED_PROMPTS

from evalharness.backends import BackendOptions, hf_batch, load_backend
from evalharness.backends.base import ChoiceRequest

DIGITS = ("1", "2", "3", "4", "5")
SYSTEM = "You grade one response on one criterion. " + " ".join(
    f"Level {i} means the answer is {w}." for i, w in enumerate(["wrong", "short", "clear"] * 4)
)
WORDS = [
    "the",
    "answer",
    "is",
    "clear",
    "and",
    "short",
    "because",
    "the",
    "river",
    "city",
    "has",
    "a",
    "clock",
]


def requests_of_varied_length(seed: int = 0) -> list[ChoiceRequest]:
    """Responses of different lengths, each scored on criteria of different lengths, plus
    pairwise-like requests where one slot A is compared with several slot-B texts."""
    rng = random.Random(seed)
    out = []
    for r in range(7):
        response = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 40)))
        for c in range(rng.randint(1, 4)):
            criterion = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 12)))
            user = f"Response: {response}\nCriterion {c}: {criterion}. A digit from 1 to 5."
            messages = ({"role": "system", "content": SYSTEM}, {"role": "user", "content": user})
            out.append(ChoiceRequest(f"{r}/{c}", DIGITS, messages, answer_prefix="Score:"))
    slot_a = " ".join(rng.choice(WORDS) for _ in range(25))
    for b in range(3):
        slot_b = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 20)))
        user = f"Response A: {slot_a}\nResponse B: {slot_b}\nWhich is better?"
        messages = ({"role": "system", "content": SYSTEM}, {"role": "user", "content": user})
        out.append(ChoiceRequest(f"pair/{b}", ("A", "B"), messages, answer_prefix="Better:"))
    rng.shuffle(out)
    return out


def _worst(a, b) -> float:
    return max(abs(x.probs[k] - y.probs[k]) for x, y in zip(a, b, strict=True) for k in x.probs)


@pytest.mark.parametrize("fixture", ["tiny_chat_dir", "tiny_split_dir"])
@pytest.mark.parametrize("max_rows", [16, 3])
def test_batched_suffixes_agree_with_naive_and_one_at_a_time(
    request, monkeypatch, fixture, max_rows
):
    # max_rows 3 forces many buckets (and the lead rows of one request into different ones)
    monkeypatch.setattr(hf_batch, "MAX_ROWS", max_rows)
    spec = f"hf:{request.getfixturevalue(fixture)}"
    fast = load_backend(spec, BackendOptions(prefix_cache=True))
    naive = load_backend(spec, BackendOptions(prefix_cache=False))
    requests = requests_of_varied_length()
    progress: list[int] = []
    fast.stats.update(forward_calls=0, tokens_computed=0)
    batched = fast.choice_probs(requests, progress=progress.append)
    batched_calls = fast.stats["forward_calls"]
    fast.suffix_batch = False
    fast.stats.update(forward_calls=0)
    single = fast.choice_probs(requests)
    single_calls = fast.stats["forward_calls"]
    reference = naive.choice_probs(requests)
    assert sum(progress) == len(requests)
    assert [r.rendered_prompt for r in batched] == [r.rendered_prompt for r in reference]
    assert _worst(batched, reference) < 1e-4
    assert _worst(batched, single) < 1e-4
    # the distributions differ between requests, so a row reading another row's cache shows
    threes = [r.probs["3"] for r in reference if "3" in r.probs]
    assert max(threes) / min(threes) > 1.02
    assert batched_calls < single_calls / 2


def test_batched_path_is_used_and_pads_little(tiny_split_dir):
    backend = load_backend(f"hf:{tiny_split_dir}", BackendOptions(prefix_cache=True))
    requests = requests_of_varied_length(seed=3)
    backend.stats.update(forward_calls=0, tokens_computed=0, tokens_padding=0)
    backend.choice_probs(requests)
    # a split " 3" adds a lead-token row per request, read in the same pass as the suffix
    assert backend.stats["tokens_padding"] > 0
    assert backend.stats["tokens_padding"] < 0.5 * backend.stats["tokens_computed"]
    assert backend.stats["forward_calls"] <= 1 + 2 * len(requests) // hf_batch.MAX_ROWS + 8


def test_buckets_group_similar_lengths():
    lengths = [5, 50, 6, 48, 7, 52, 5]
    out = hf_batch.buckets(lengths, max_rows=16, max_tokens=10_000)
    assert sorted(i for b in out for i in b) == list(range(len(lengths)))
    assert [sorted(lengths[i] for i in b) for b in out] == [[5, 5, 6, 7], [48, 50, 52]]
    assert all(len(b) <= 2 for b in hf_batch.buckets(lengths, max_rows=2, max_tokens=10_000))
    # the token budget caps rows x longest length
    assert all(
        len(b) * max(lengths[i] for i in b) <= 100 or len(b) == 1
        for b in hf_batch.buckets(lengths, max_rows=16, max_tokens=100)
    )


PROMPTS = VARIED_PROMPTS


@pytest.mark.parametrize("fixture", ["tiny_chat_dir", "tiny_base_dir"])
@pytest.mark.parametrize("with_stop", [False, True])
def test_plain_greedy_loop_equals_generate(request, fixture, with_stop):
    from evalharness.backends.base import GenerationRequest

    backend = load_backend(f"hf:{request.getfixturevalue(fixture)}", BackendOptions(batch_size=4))
    chat = backend.info.has_chat_template

    def make(stop: tuple[str, ...]) -> list[GenerationRequest]:
        return [
            GenerationRequest(
                f"p{i}",
                messages=({"role": "user", "content": p},) if chat else None,
                prompt=None if chat else p,
                max_new_tokens=24,
                stop=stop,
            )
            for i, p in enumerate(PROMPTS)
        ]

    requests = make(())
    if with_stop:  # a stop string the model prints midway through its longest answer
        longest = max((r.text for r in backend.generate(requests)), key=len)
        middle = len(longest) // 2
        requests = make((longest[middle : middle + 3],))
    backend.plain_greedy = True
    loop = backend.generate(requests)
    backend.plain_greedy = False
    reference = backend.generate(requests)
    assert [r.text for r in loop] == [r.text for r in reference]
    assert [r.output_tokens for r in loop] == [r.output_tokens for r in reference]
    assert [r.finish_reason for r in loop] == [r.finish_reason for r in reference]
    assert len({r.text for r in reference}) > 1
    if with_stop:
        assert any(r.finish_reason == "stop" for r in reference)


def test_plain_greedy_is_refused_with_a_repetition_penalty(tiny_chat_dir):
    from evalharness.backends.hf_decode import plain_greedy_ok

    backend = load_backend(f"hf:{tiny_chat_dir}", BackendOptions())
    assert plain_greedy_ok(backend.model)
    backend.model.generation_config.repetition_penalty = 1.3
    try:
        assert not plain_greedy_ok(backend.model)
    finally:
        backend.model.generation_config.repetition_penalty = 1.0

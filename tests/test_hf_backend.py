"""The transformers backend on tiny random Llamas built in the test session."""

import math

import pytest
import torch
from helpers import VARIED_PROMPTS

from evalharness.backends import BackendOptions, load_backend
from evalharness.backends.base import ChoiceRequest, GenerationRequest
from evalharness.errors import ModelError

PROMPTS = VARIED_PROMPTS
DIGITS = ("1", "2", "3", "4", "5")


def chat(content: str) -> tuple[dict[str, str], ...]:
    return ({"role": "user", "content": content},)


@pytest.fixture
def chat_backend(tiny_chat_dir):
    return load_backend(f"hf:{tiny_chat_dir}", BackendOptions(batch_size=4))


@pytest.fixture
def base_backend(tiny_base_dir):
    return load_backend(f"hf:{tiny_base_dir}", BackendOptions(batch_size=4))


def test_loads_with_identity_and_template(chat_backend, base_backend, tiny_chat_dir):
    assert chat_backend.info.has_chat_template is True
    assert base_backend.info.has_chat_template is False
    assert chat_backend.info.resolved == f"dir:{tiny_chat_dir.resolve()}"
    assert chat_backend.info.details["architecture"] == "LlamaForCausalLM"
    assert chat_backend.info.details["parameters"] > 0
    rendered = chat_backend.render(chat("Hi"), None)
    assert rendered.endswith("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    with pytest.raises(ModelError, match="no chat template"):
        base_backend.render(chat("Hi"), None)
    assert base_backend.render(None, "Question: x\nAnswer:") == "Question: x\nAnswer:"


def test_batched_greedy_equals_one_at_a_time(tiny_chat_dir):
    batched = load_backend(f"hf:{tiny_chat_dir}", BackendOptions(batch_size=4))
    single = load_backend(f"hf:{tiny_chat_dir}", BackendOptions(batch_size=1))
    assert batched is not single
    requests = [
        GenerationRequest(key=str(i), messages=chat(p), max_new_tokens=10)
        for i, p in enumerate(PROMPTS)
    ]
    done = []
    one = batched.generate(requests, progress=done.append)
    two = single.generate(requests)
    assert sum(done) == len(PROMPTS)
    assert [r.text for r in one] == [r.text for r in two]
    assert [r.output_tokens for r in one] == [r.output_tokens for r in two]
    assert [r.finish_reason for r in one] == [r.finish_reason for r in two]
    # results come back in request order, not in the length-sorted batch order
    lengths = [len(batched.tokenizer(r.rendered_prompt)["input_ids"]) for r in one]
    assert [r.prompt_tokens for r in one] == lengths
    assert len(set(lengths)) == len(PROMPTS)
    for request, result in zip(requests, one, strict=True):
        assert result.rendered_prompt == batched.render(request.messages, None)
        assert result.error is None
    assert len({r.text for r in one}) > 1  # the prompts matter


def test_max_tokens_gives_length(base_backend):
    [result] = base_backend.generate(
        [GenerationRequest(key="k", prompt="Question: what time is it?\nAnswer:", max_new_tokens=7)]
    )
    assert result.finish_reason == "length"
    assert result.output_tokens == 7
    assert result.text
    ids = base_backend.tokenizer("Question: what time is it?\nAnswer:")["input_ids"]
    assert result.prompt_tokens == len(ids)


def _ascii_stop(text: str) -> tuple[str, int]:
    """A two-character alphanumeric stop string whose first occurrence is not at the start."""
    for start in range(2, len(text) - 1):
        stop = text[start : start + 2]
        if stop.isascii() and stop.isalnum() and text.find(stop) == start:
            return stop, start
    raise AssertionError(f"no usable stop string in {text!r}")


def test_stop_string_cuts_the_text(base_backend):
    prompt = "Question: name a river city\nAnswer:"
    [full] = base_backend.generate([GenerationRequest(key="k", prompt=prompt, max_new_tokens=24)])
    stop, at = _ascii_stop(full.text)
    [cut] = base_backend.generate(
        [GenerationRequest(key="k", prompt=prompt, max_new_tokens=24, stop=("\nQuestion:", stop))]
    )
    assert cut.text == full.text[:at]
    assert stop not in cut.text
    assert cut.finish_reason == "stop"
    assert 0 < cut.output_tokens < full.output_tokens


def test_eos_gives_stop_and_counts_the_eos_token(chat_backend):
    request = GenerationRequest(key="k", messages=chat("Tell me the time"), max_new_tokens=3)
    [first_three] = chat_backend.generate([request])
    assert (first_three.finish_reason, first_three.output_tokens) == ("length", 3)
    eos = chat_backend.tokenizer.eos_token_id
    calls = []

    def force_eos(_module, _inputs, output):
        calls.append(1)
        if len(calls) == 4:  # prefill, then the 2nd and 3rd new tokens, then force EOS
            output[..., eos] = 1e4
        return output

    handle = chat_backend.model.lm_head.register_forward_hook(force_eos)
    try:
        [result] = chat_backend.generate(
            [GenerationRequest(key="k", messages=chat("Tell me the time"), max_new_tokens=10)]
        )
    finally:
        handle.remove()
    assert result.finish_reason == "stop"
    assert result.output_tokens == 4  # three tokens and the EOS
    assert result.text == first_three.text


def test_sampling_is_reproducible_with_a_seed(chat_backend):
    def run(seed: int) -> list[str]:
        requests = [
            GenerationRequest(
                key=str(i), messages=chat(p), max_new_tokens=8, temperature=1.0, seed=seed
            )
            for i, p in enumerate(PROMPTS[:4])
        ]
        return [r.text for r in chat_backend.generate(requests)]

    greedy = [
        r.text
        for r in chat_backend.generate(
            [
                GenerationRequest(key=str(i), messages=chat(p), max_new_tokens=8)
                for i, p in enumerate(PROMPTS[:4])
            ]
        )
    ]
    assert run(7) == run(7)
    assert run(7) != run(8)
    assert run(7) != greedy


# ------------------------------------------------------------------ choice probabilities

SYSTEM = "You grade a response on one criterion at a time, using the rubric below. " + " ".join(
    f"Level {i} means the answer is {w}."
    for i, w in enumerate(
        ["wrong", "short", "unclear", "helpful", "honest", "correct", "better"] * 3
    )
)
RESPONSES = ("The time is 3.", "I can not tell the time, please look at a clock.", "B")
CRITERIA = ("correct", "clear", "honest", "short")


def grading_requests(prefix: str = "Score:") -> list[ChoiceRequest]:
    requests = []
    for r, response in enumerate(RESPONSES):
        for criterion in CRITERIA[: 4 if r == 0 else 3]:
            messages = (
                {"role": "system", "content": SYSTEM},
                {
                    "role": "user",
                    "content": f"Question: tell me the time\nResponse: {response}\n"
                    f"Criterion: {criterion}. Answer with a digit from 1 to 5.",
                },
            )
            requests.append(
                ChoiceRequest(
                    key=f"{r}/{criterion}",
                    choices=DIGITS,
                    messages=messages,
                    answer_prefix=prefix,
                )
            )
    return requests


def test_prefix_cache_matches_the_naive_path(tiny_chat_dir):
    cached = load_backend(f"hf:{tiny_chat_dir}", BackendOptions(prefix_cache=True))
    naive = load_backend(f"hf:{tiny_chat_dir}", BackendOptions(prefix_cache=False))
    requests = grading_requests()
    # one request outside any group, sharing only the system prompt
    requests.append(
        ChoiceRequest(
            key="lone",
            choices=DIGITS,
            messages=(
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": "Score it."},
            ),
            answer_prefix="Score:",
        )
    )
    assert len(requests) == 11
    progress = []
    fast = cached.choice_probs(requests, progress=progress.append)
    slow = naive.choice_probs(requests)
    assert sum(progress) == len(requests)
    worst_abs, worst_rel = 0.0, 0.0
    for a, b in zip(fast, slow, strict=True):
        assert a.error is None and b.error is None
        assert a.rendered_prompt == b.rendered_prompt
        assert set(a.probs) == set(DIGITS)
        for choice in DIGITS:
            worst_abs = max(worst_abs, abs(a.probs[choice] - b.probs[choice]))
            worst_rel = max(worst_rel, abs(a.probs[choice] - b.probs[choice]) / b.probs[choice])
        assert 0 < a.mass <= 1 + 1e-6
    assert worst_abs < 1e-4
    assert worst_rel < 1e-3
    # the distributions differ between requests, so a stale cache would be caught
    threes = [r.probs["3"] for r in slow]
    assert max(threes) / min(threes) > 1.05


def test_single_request_in_cached_mode(chat_backend):
    [request] = grading_requests()[:1]
    [result] = chat_backend.choice_probs([request])
    expected = _by_hand(chat_backend, result.rendered_prompt)
    for choice in DIGITS:
        assert result.probs[choice] == pytest.approx(expected[choice], rel=1e-4, abs=1e-7)


def _last_probs(backend, ids: list[int]) -> torch.Tensor:
    with torch.no_grad():
        logits = backend.model(input_ids=torch.tensor([ids])).logits[0, -1]
    return torch.softmax(logits.double(), dim=-1)


def _by_hand(backend, text: str) -> dict[str, float]:
    """P(digit) read by hand: the bare token plus the space-then-digit form.

    With a single " 3" token that is p("3") + p(" 3"); with " 3" spelled as a space token
    and "3", it is p("3") + p(" ") * p("3" | prompt + " ").
    """
    tok = backend.tokenizer
    ids = tok(text, add_special_tokens=False)["input_ids"]
    probs = _last_probs(backend, ids)
    space = tok.convert_tokens_to_ids("\u0120")  # byte-level "Ġ" is a space
    out = {}
    for choice in DIGITS:
        bare = tok.convert_tokens_to_ids(choice)
        spaced = tok.convert_tokens_to_ids("\u0120" + choice)
        if spaced != tok.unk_token_id and spaced is not None:
            out[choice] = float(probs[bare] + probs[spaced])
        else:
            after_space = _last_probs(backend, [*ids, space])
            out[choice] = float(probs[bare] + probs[space] * after_space[bare])
    return out


def test_choice_token_ids_cover_both_forms(chat_backend):
    tok = chat_backend.tokenizer
    mapping = chat_backend.choice_token_ids(DIGITS)
    for choice in DIGITS:
        bare = tok(choice, add_special_tokens=False)["input_ids"]
        spaced = tok(" " + choice, add_special_tokens=False)["input_ids"]
        assert len(bare) == len(spaced) == 1
        assert sorted(mapping[choice]) == sorted([tuple(bare), tuple(spaced)])
    flat = [seq for seqs in mapping.values() for seq in seqs]
    assert len(flat) == len(set(flat)) == 10


def test_space_then_digit_as_two_tokens(tiny_split_dir):
    cached = load_backend(f"hf:{tiny_split_dir}", BackendOptions(prefix_cache=True))
    naive = load_backend(f"hf:{tiny_split_dir}", BackendOptions(prefix_cache=False))
    tok = cached.tokenizer
    space = tok.convert_tokens_to_ids("\u0120")
    mapping = cached.choice_token_ids(DIGITS)
    for choice in DIGITS:
        bare = tok.convert_tokens_to_ids(choice)
        assert sorted(mapping[choice]) == sorted([(bare,), (space, bare)])
    requests = grading_requests("Score:")[:5]
    fast, slow = cached.choice_probs(requests), naive.choice_probs(requests)
    for result, other in zip(fast, slow, strict=True):
        expected = _by_hand(cached, result.rendered_prompt)
        for choice in DIGITS:
            assert result.probs[choice] == pytest.approx(expected[choice], rel=1e-4, abs=1e-8)
            assert other.probs[choice] == pytest.approx(expected[choice], rel=1e-4, abs=1e-8)
        assert result.mass <= 1


@pytest.mark.parametrize("prefix", ["Score:", "Score: "])
def test_answer_prefix_with_and_without_space_reads_the_right_tokens(chat_backend, prefix):
    requests = grading_requests(prefix)[:4]
    results = chat_backend.choice_probs(requests)
    for request, result in zip(requests, results, strict=True):
        assert result.rendered_prompt.endswith("<|im_start|>assistant\n" + prefix)
        assert result.rendered_prompt == chat_backend.render(request.messages, None) + prefix
        expected = _by_hand(chat_backend, result.rendered_prompt)
        for choice in DIGITS:
            assert result.probs[choice] == pytest.approx(expected[choice], rel=1e-4, abs=1e-7)
        assert result.mass == pytest.approx(sum(expected.values()), rel=1e-4)
        assert result.mass <= 1


def test_plain_prompt_choice_probs_on_a_base_model(base_backend):
    prompt = "Which is better?\nResponse A: 3\nResponse B: 5\nBetter response:"
    requests = [ChoiceRequest(key="k", choices=("A", "B"), prompt=prompt)]
    [result] = base_backend.choice_probs(requests)
    assert result.rendered_prompt == prompt
    tok = base_backend.tokenizer
    ids = tok(prompt)["input_ids"]
    with torch.no_grad():
        probs = torch.softmax(base_backend.model(input_ids=torch.tensor([ids])).logits[0, -1], -1)
    for letter in ("A", "B"):
        want = sum(float(probs[tok.convert_tokens_to_ids(t)]) for t in (letter, "\u0120" + letter))
        assert math.isclose(result.probs[letter], want, rel_tol=1e-4)


def test_choices_that_are_not_single_tokens_or_share_a_token(chat_backend):
    with pytest.raises(ModelError, match="not a single token"):
        chat_backend.choice_token_ids(("1", "excellent answer"))
    with pytest.raises(ModelError, match="share a token"):
        chat_backend.choice_token_ids(("3", " 3"))


def test_a_prompt_longer_than_the_context_is_skipped_with_a_reason(base_backend):
    long_prompt = "river " * 8200  # the tiny model's context is 8192 positions
    results = base_backend.generate(
        [
            GenerationRequest(key="long", prompt=long_prompt, max_new_tokens=4),
            GenerationRequest(key="short", prompt="A river is", max_new_tokens=4),
        ]
    )
    assert results[0].finish_reason == "error"
    assert results[0].error.startswith("skipped: the prompt is ")
    assert "context of 8192 tokens" in results[0].error
    assert results[1].error is None and results[1].output_tokens > 0


def test_a_judge_prompt_longer_than_the_context_is_skipped_with_a_reason(chat_backend):
    def ask(text: str) -> ChoiceRequest:
        return ChoiceRequest(
            key=text[:5], choices=("1", "2"), messages=chat(text), answer_prefix="Score:"
        )

    results = chat_backend.choice_probs([ask("short answer"), ask("word " * 8200)])
    assert results[0].error is None and results[0].mass > 0
    assert results[1].probs == {} and results[1].error.startswith("skipped: the judge prompt")
    assert "context of 8192 tokens" in results[1].error


def test_int8_quantizes_generation_only():
    from evalharness.config import RunConfig
    from evalharness.stages.common import backend_options

    config = RunConfig(quantize="int8")
    assert backend_options(config, "base").quantize == "int8"
    assert backend_options(config, "tuned").quantize == "int8"
    assert backend_options(config, "judge").quantize is None
    assert backend_options(config, "rewriter").quantize is None
    assert backend_options(RunConfig(), "tuned").quantize == "none"


@pytest.mark.slow
def test_builtin_smollm2_gives_the_same_greedy_texts_at_batch_16_as_at_batch_8():
    from evalharness.prompts import load_prompts, resolve_prompt_set

    backend = load_backend("smollm2-135m-instruct", BackendOptions(batch_size=8))
    prompts = load_prompts(resolve_prompt_set("mt_bench"))[:16]
    requests = [
        GenerationRequest(p.id, messages=({"role": "user", "content": p.prompt},),
                          max_new_tokens=24)
        for p in prompts
    ]  # fmt: skip
    old = [r.text for r in backend.generate(requests)]
    try:
        backend.batch_size = 16
        new = [r.text for r in backend.generate(requests)]
    finally:
        backend.batch_size = 8
    assert new == old
    assert len(set(old)) == len(old)  # different prompts, different answers

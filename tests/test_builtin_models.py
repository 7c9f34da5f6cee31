"""The built-in models, loaded for real from the user's model cache (marked slow).

These use the real cache (``~/.cache/evalharness`` or ``$EVALHARNESS_CACHE``) where the
built-in GGUF files are converted once; later runs load the converted folders in seconds.
"""

import pytest

from evalharness.backends import BackendOptions, load_backend
from evalharness.backends.base import GenerationRequest
from evalharness.judge.engine import Judge, PointwiseItem
from evalharness.rubrics import load_rubric
from evalharness.specs import BUILTIN_MODELS
from evalharness.templates import load_template

USE_REAL_CACHE = True
QUESTION = "Can you tell me the time?"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def backends():
    loaded = {}
    yield loaded
    for backend in loaded.values():
        backend.close()


def backend_for(name: str, backends: dict):
    if name not in backends:
        backends[name] = load_backend(name, BackendOptions(batch_size=2))
    return backends[name]


@pytest.mark.parametrize("name", sorted(BUILTIN_MODELS))
def test_builtin_model_generates(name, backends):
    backend = backend_for(name, backends)
    assert backend.info.spec == name
    assert backend.info.resolved.startswith("sha256:")
    instruct = BUILTIN_MODELS[name]["kind"] == "instruct"
    assert backend.info.has_chat_template is instruct
    if instruct:
        request = GenerationRequest(
            key="t", messages=({"role": "user", "content": QUESTION},), max_new_tokens=8
        )
    else:
        request = GenerationRequest(
            key="t",
            prompt=f"Question: {QUESTION}\nAnswer:",
            max_new_tokens=8,
            stop=("\nQuestion:",),
        )
    [result] = backend.generate([request])
    assert result.error is None
    assert result.text.strip()
    assert 1 <= result.output_tokens <= 8
    assert result.prompt_tokens >= len(QUESTION.split())
    assert result.finish_reason in ("stop", "length")
    if result.finish_reason == "length":
        assert result.output_tokens == 8
    assert QUESTION in result.rendered_prompt


def test_smollm2_reads_choice_probabilities(backends):
    backend = backend_for("smollm2-135m-instruct", backends)
    judge = Judge(
        backend,
        load_rubric("helpfulness"),
        load_template("pointwise"),
        load_template("pairwise"),
    )
    good = (
        "I can't see a clock or know your time zone, so I can't tell you the exact time. "
        "Your phone or computer shows it in a corner of the screen."
    )
    items = [
        PointwiseItem("time", "good", QUESTION, good),
        PointwiseItem("time", "curt", QUESTION, "Yes."),
    ]
    records = judge.score(items)
    assert len(records) == 2 * len(judge.rubric.criteria)
    for record in records:
        assert record.error is None
        assert set(record.probs) == {"1", "2", "3", "4", "5"}
        assert all(0.0 <= p <= 1.0 for p in record.probs.values())
        assert 0.0 < record.mass <= 1.0 + 1e-6
        assert record.mass == pytest.approx(sum(record.probs.values()))
        assert record.expected is not None and 1.0 <= record.expected <= 5.0
        assert record.argmax in (1, 2, 3, 4, 5)
        assert record.rendered_prompt.endswith("Score:")
        assert record.criterion in record.rendered_prompt
    # the two responses are different prompts, so their distributions differ
    by_subject = {(r.subject, r.criterion): r.probs for r in records}
    criterion = judge.rubric.criteria[0].name
    assert by_subject[("good", criterion)] != by_subject[("curt", criterion)]

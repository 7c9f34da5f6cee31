from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pytest
import yaml

from evalharness.backends.base import (
    Backend,
    BackendInfo,
    ChoiceRequest,
    ChoiceResult,
    GenerationRequest,
    GenerationResult,
    Progress,
)
from evalharness.errors import ConfigError
from evalharness.probes.model_rewriter import FALLBACK, ModelRewriter
from evalharness.probes.rewrite import (
    REWRITERS,
    VARIANTS,
    Variant,
    is_noop,
    make_variant,
    make_variants,
    rewriter,
)
from evalharness.text.markdown import split_sentences
from evalharness.text.markers import (
    confidence_density,
    hedge_phrases,
    marker_counts,
    word_count,
)
from evalharness.text.rules import PACKAGE_RULES_DIR, ProbeRules, load_rules

SKY = (
    "The sky looks blue because air molecules scatter short wavelengths of sunlight more "
    "than long ones. This effect is called Rayleigh scattering. At sunset, light travels "
    "through more air, so the blue is scattered away and reds dominate. Dr. Smith describes "
    "this, e.g. in a lecture, with a factor of 5.5 between violet and red."
)
SKY_Q = "Why is the sky blue?"

LISTY = (
    "There are two common ways to reverse a list.\n\n"
    "1. Slicing creates a new list and leaves the original alone.\n"
    "2. The reverse method changes the list in place.\n\n"
    "Both are fast for small lists. Slicing is usually the clearer choice."
)

CODE_BLOCK = (
    "```python\n"
    "# I think this is probably fine. Perhaps.\n"
    "xs = [3, 1, 2]\n"
    "xs.sort()  # it might be slow. Maybe not.\n"
    "```"
)
WITH_CODE = (
    "The list method sorts in place. It returns None, so the result is not a list.\n\n"
    + CODE_BLOCK
    + "\n\nThe sorted function is the other option. It builds a new list from any iterable."
)

HEDGY = (
    "I think the answer is 42. It might be that the cache is stale, but I'm not entirely "
    "sure. Perhaps you should restart the server. The error is probably caused by the "
    "config file, I believe."
)

NEUTRAL = (
    "The server reads its settings from the config file at startup. The cache is cleared "
    "when the server restarts. Logs are written to the data directory."
)


@pytest.fixture(scope="module")
def rules() -> ProbeRules:
    return load_rules()


def _in_order(needles: Sequence[str], haystack: str) -> bool:
    """Each needle occurs after the previous one (first letter compared case-insensitively)."""
    pos = 0
    for needle in needles:
        pattern = re.escape(needle[0]) + re.escape(needle[1:])
        match = re.compile(pattern, re.IGNORECASE if needle[0].isalpha() else 0).search(
            haystack, pos
        )
        if match is None or match.group()[1:] != needle[1:]:
            return False
        pos = match.end()
    return True


def _words(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[A-Za-z]+", text)}


# ----------------------------------------------------------------------------- rules


def test_shipped_rules_lists_have_8_to_20_entries(rules: ProbeRules) -> None:
    lists = {
        "restate": rules.restate,
        "transitions": rules.transitions,
        "recap": rules.recap,
        "filler": rules.filler,
        "hedges": rules.hedges,
        "certainty_openers": rules.certainty_openers,
        "certainty_adverbs": rules.certainty_adverbs,
        "hedge_openers": rules.hedge_openers,
        "hedge_adverbs": rules.hedge_adverbs,
    }
    for name, items in lists.items():
        assert 8 <= len(items) <= 20, name
    for template in rules.restate + rules.transitions + rules.recap:
        assert not re.search(r"\d", template), template


def test_fingerprint_is_stable_and_content_based(rules: ProbeRules, tmp_path: Path) -> None:
    assert rules.fingerprint() == load_rules().fingerprint()
    assert re.fullmatch(r"[0-9a-f]{64}", rules.fingerprint())
    data = yaml.safe_load((PACKAGE_RULES_DIR / "confidence.yaml").read_text())
    (tmp_path / "confidence.yaml").write_text(yaml.safe_dump(data))  # comments dropped
    assert load_rules(tmp_path).fingerprint() == rules.fingerprint()
    data["certainty_adverbs"].append("indisputably")
    (tmp_path / "confidence.yaml").write_text(yaml.safe_dump(data))
    assert load_rules(tmp_path).fingerprint() != rules.fingerprint()


def test_user_rules_directory_overrides(rules: ProbeRules, tmp_path: Path) -> None:
    data = yaml.safe_load((PACKAGE_RULES_DIR / "confidence.yaml").read_text())
    data["certainty_openers"] = ["Verily,"]
    (tmp_path / "confidence.yaml").write_text(yaml.safe_dump(data))
    custom = load_rules(tmp_path)
    assert custom.certainty_openers == ("Verily,",)
    assert custom.length == rules.length  # the missing file falls back to the shipped one
    assert str(tmp_path / "confidence.yaml") in custom.source
    variant = make_variant("assertive", NEUTRAL, "", custom, seed=0)
    assert variant.text.startswith("Verily, the server reads")
    assert variant.rewriter == f"rules@{custom.fingerprint()[:12]}"
    assert variant.rewriter != make_variant("assertive", NEUTRAL, "", rules, seed=0).rewriter


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "length.yaml").write_text("restate:\n  - 'unclosed\ntransitions: [\n")
    with pytest.raises(ConfigError, match=r"length\.yaml line \d+"):
        load_rules(tmp_path)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.pop("hedges"), r"confidence\.yaml: missing key 'hedges'"),
        (lambda d: d.update(hedge_adverbs="possibly"), r"confidence\.yaml: key 'hedge_adverbs'"),
        (lambda d: d.update(extra=[1]), r"confidence\.yaml: unknown key 'extra'"),
        (lambda d: d["hedges"].append({"a": 1}), r"confidence\.yaml: key 'hedges' item 20"),
    ],
)
def test_invalid_confidence_rules_name_file_and_key(tmp_path: Path, edit, message) -> None:
    data = yaml.safe_load((PACKAGE_RULES_DIR / "confidence.yaml").read_text())
    edit(data)
    (tmp_path / "confidence.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=message):
        load_rules(tmp_path)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["recap"].append("Again: {sentense}"), r"'recap' item 10 has unknown var"),
        (lambda d: d["restate"].append("No variable here."), r"'restate' item 9 has no var"),
        (lambda d: d["shorten"].update(keep_fraction=2), r"'shorten\.keep_fraction' must be"),
        (lambda d: d["padding"].pop("max_ratio"), r"missing key 'padding\.max_ratio'"),
    ],
)
def test_invalid_length_rules_name_file_and_key(tmp_path: Path, edit, message) -> None:
    data = yaml.safe_load((PACKAGE_RULES_DIR / "length.yaml").read_text())
    edit(data)
    (tmp_path / "length.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"length\.yaml: .*" + message):
        load_rules(tmp_path)


def test_rules_directory_must_exist_and_hold_a_rules_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_rules(tmp_path / "missing")
    with pytest.raises(ConfigError, match="holds neither"):
        load_rules(tmp_path)


# ----------------------------------------------------------------------------- sentences


def test_sentence_splitting_respects_abbreviations_decimals_and_code() -> None:
    text = (
        "Use a stable sort, e.g. Timsort. Dr. Smith measured 3.14 seconds. "
        "Call `obj.run(). Then` twice! Is it done? Yes."
    )
    assert split_sentences(text) == [
        "Use a stable sort, e.g. Timsort.",
        "Dr. Smith measured 3.14 seconds.",
        "Call `obj.run(). Then` twice!",
        "Is it done?",
        "Yes.",
    ]


def test_sentences_exclude_fenced_code_and_keep_list_items_whole() -> None:
    sentences = split_sentences(WITH_CODE)
    assert not any("xs" in s or "Maybe" in s for s in sentences)
    assert len(sentences) == 4
    assert split_sentences(LISTY)[1] == "Slicing creates a new list and leaves the original alone."


def test_word_count() -> None:
    assert word_count("") == 0
    assert word_count("Don't panic: pi is 3.14, e.g. roughly.") == 7
    assert word_count("  one\ntwo  ") == 2


# ----------------------------------------------------------------------------- variants


@pytest.mark.parametrize("text", [SKY, LISTY, WITH_CODE, HEDGY])
def test_variants_are_deterministic(rules: ProbeRules, text: str) -> None:
    first = make_variants(text, SKY_Q, rules, seed=3, key="p1/base")
    again = make_variants(text, SKY_Q, rules, seed=3, key="p1/base")
    assert first == again
    assert set(first) == set(VARIANTS)
    assert all(v.kind == k for k, v in first.items())


def test_seed_and_key_change_the_variants(rules: ProbeRules) -> None:
    padded = {make_variant("padded", SKY, SKY_Q, rules, seed=s).text for s in range(8)}
    assert len(padded) > 1
    keyed = {make_variant("hedged", SKY, SKY_Q, rules, 0, key=f"p{i}").text for i in range(8)}
    assert len(keyed) > 1


@pytest.mark.parametrize("text", [SKY, LISTY, WITH_CODE, HEDGY, NEUTRAL])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_padded_is_longer_and_keeps_sentences_in_order(
    rules: ProbeRules, text: str, seed: int
) -> None:
    padded = make_variant("padded", text, SKY_Q, rules, seed).text
    ratio = word_count(padded) / word_count(text)
    assert 1.6 <= ratio <= 2.2, (ratio, padded)
    assert _in_order(split_sentences(text), padded)
    repeated = [s for s in split_sentences(text) if padded.lower().count(s[1:].lower()) > 1]
    assert repeated, "the recap repeats a sentence of the response"


@pytest.mark.parametrize("text", [SKY, LISTY, WITH_CODE, HEDGY, NEUTRAL])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_padded_adds_no_facts(rules: ProbeRules, text: str, seed: int) -> None:
    padded = make_variant("padded", text, SKY_Q, rules, seed).text
    assert set(re.findall(r"\d+", padded)) <= set(re.findall(r"\d+", text + SKY_Q))
    template_words = _words(" ".join(rules.restate + rules.transitions + rules.recap))
    assert _words(padded) <= _words(text) | _words(SKY_Q) | template_words


def test_padded_long_instruction_uses_the_topic(rules: ProbeRules) -> None:
    instruction = "Explain why the sky is blue. " + "Give plenty of detail please. " * 10
    for seed in range(5):
        padded = make_variant("padded", SKY, instruction, rules, seed).text
        assert "Give plenty of detail" not in padded
        assert 1.6 <= word_count(padded) / word_count(SKY) <= 2.2


@pytest.mark.parametrize("text", [SKY, LISTY, WITH_CODE, HEDGY])
def test_shortened_is_a_prefix_of_whole_sentences(rules: ProbeRules, text: str) -> None:
    short = make_variant("shortened", text, SKY_Q, rules, 0).text
    assert text.startswith(short)
    assert word_count(short) < word_count(text)
    assert 0.35 <= word_count(short) / word_count(text) <= 0.8
    kept = split_sentences(short)
    assert kept and kept == split_sentences(text)[: len(kept)]


def test_shortened_aims_at_the_keep_fraction(rules: ProbeRules) -> None:
    text = " ".join(f"Sentence {word} has exactly five words." for word in "abcdefghij")
    short = make_variant("shortened", text, "", rules, 0).text
    assert word_count(short) / word_count(text) == pytest.approx(rules.keep_fraction)


def test_shortened_single_sentence_drops_filler_and_asides(rules: ProbeRules) -> None:
    text = "Paris is basically the capital of France (and its largest city)."
    short = make_variant("shortened", text, "", rules, 0)
    assert short.text == "Paris is the capital of France."
    assert not is_noop(text, short)
    plain = "Paris is the capital of France."
    unchanged = make_variant("shortened", plain, "", rules, 0)
    assert unchanged.text == plain and is_noop(plain, unchanged)


def test_assertive_removes_every_hedge_and_adds_certainty(rules: ProbeRules) -> None:
    assert marker_counts(HEDGY, rules)["hedge"] >= 6
    for seed in range(6):
        text = make_variant("assertive", HEDGY, "", rules, seed).text
        counts = marker_counts(text, rules)
        assert counts["hedge"] == 0, text
        assert counts["certainty"] >= 1
        assert _words(text) >= _words(HEDGY) - _words(" ".join(hedge_phrases(rules))) - {"but"}
        assert "42" in text and "the config file." in text
        assert "  " not in text and " ," not in text and ",." not in text
        for sentence in split_sentences(text):
            assert sentence[0].isupper(), sentence


def test_hedge_removal_mends_commas_and_capitals(rules: ProbeRules) -> None:
    from evalharness.probes.confidence import remove_hedges

    text = "Probably, the disk is full. The disk, I think, is full. It is full, maybe."
    out = remove_hedges(text, rules)  # before the lead-ins that even out the lengths
    for fragment in ("The disk is full.", "The disk is", "It is", "full."):
        assert fragment in out
    assert marker_counts(out, rules)["hedge"] == 0
    assert ", ," not in out and ", is" not in out and "full, ." not in out


def test_hedged_adds_a_hedge_and_keeps_every_word(rules: ProbeRules) -> None:
    for seed in range(6):
        text = make_variant("hedged", NEUTRAL, "", rules, seed).text
        assert marker_counts(text, rules)["hedge"] >= 1
        assert _words(NEUTRAL) <= _words(text)
        adverbs = "|".join(rules.hedge_adverbs)
        assert _in_order(split_sentences(NEUTRAL)[1:], re.sub(rf" (?:{adverbs})\b", "", text))


def test_openers_avoid_clauses_before_imperatives(rules: ProbeRules) -> None:
    text = "Use the sorted function. It returns a new list."
    for seed in range(10):
        for kind in ("hedged", "assertive"):
            out = make_variant(kind, text, "", rules, seed).text
            first = out.split(" use the sorted")[0]
            assert first.endswith(","), out


def test_list_only_response_gets_a_framed_opener(rules: ProbeRules) -> None:
    text = "- Slicing makes a copy.\n- The method works in place."
    out = make_variant("hedged", text, "", rules, 0).text
    assert out.endswith(text) and out != text
    assert marker_counts(out, rules)["hedge"] >= 1


@pytest.mark.parametrize("kind", VARIANTS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_code_fences_are_untouched(rules: ProbeRules, kind: str, seed: int) -> None:
    out = make_variant(kind, WITH_CODE, SKY_Q, rules, seed).text
    assert out.count(CODE_BLOCK) == 1
    assert out.count("```") == 2


def test_padded_recap_stays_outside_an_unclosed_fence(rules: ProbeRules) -> None:
    text = "Run this command to install the package first.\n\n```bash\npip install foo\n"
    padded = make_variant("padded", text, "", rules, 0).text
    assert padded.endswith("```bash\npip install foo\n")
    assert padded.count("install the package first") == 2


def test_shortened_does_not_end_on_a_heading_or_colon(rules: ProbeRules) -> None:
    text = (
        "## Answer\n\nThe function returns a copy. It never mutates its input.\n\n"
        "### Details\n\nCopies cost memory here:\n\n- Large inputs can be slow to copy."
    )
    short = make_variant("shortened", text, "", rules, 0).text
    assert short == "## Answer\n\nThe function returns a copy. It never mutates its input."


def test_inline_code_is_untouched(rules: ProbeRules) -> None:
    text = "I think `maybe_probably()` is the call. It is probably `I think`."
    out = make_variant("assertive", text, "", rules, 0).text
    assert "`maybe_probably()`" in out and "`I think`" in out
    assert marker_counts(out, rules)["hedge"] == 0


@pytest.mark.parametrize("response", ["", "   \n "])
def test_empty_response_is_a_noop(rules: ProbeRules, response: str) -> None:
    for variant in make_variants(response, SKY_Q, rules, seed=0).values():
        assert variant.text == response
        assert is_noop(response, variant)
    assert confidence_density(response, rules) == 0.0


def test_is_noop_accepts_text_and_ignores_whitespace() -> None:
    assert is_noop("a b\n", "a  b")
    assert not is_noop("a b", Variant("padded", "a b c", "rules@x"))


def test_unknown_kind_is_a_config_error(rules: ProbeRules) -> None:
    with pytest.raises(ConfigError, match="did you mean 'padded'"):
        make_variant("paded", SKY, "", rules, 0)


def test_the_registry_names_each_rewriter_and_its_kinds(rules: ProbeRules) -> None:
    assert {name: r.kinds for name, r in REWRITERS.items()} == {
        "length": ("padded", "shortened"),
        "confidence": ("assertive", "hedged"),
    }
    assert VARIANTS == ("padded", "shortened", "assertive", "hedged")
    assert rewriter("length") is REWRITERS["length"]
    text = rewriter("confidence").rewrite("hedged", SKY, "Why?", rules, 0, "k")
    assert text == make_variant("hedged", SKY, "Why?", rules, 0, "k").text != SKY
    with pytest.raises(
        ConfigError, match=r"did you mean 'length'\?.*valid names: confidence, length"
    ):
        rewriter("lenght")


# ----------------------------------------------------------------------------- markers


def test_marker_counts_use_word_boundaries_and_skip_code(rules: ProbeRules) -> None:
    text = "Perhaps it is fine. Perhapsy is not a word. CLEARLY so.\n```\nprobably()\n```"
    counts = marker_counts(text, rules)
    assert counts == {"certainty": 1, "hedge": 1, "words": word_count(text)}


@pytest.mark.parametrize("seed", range(5))
def test_confidence_density_orders_assertive_original_hedged(rules: ProbeRules, seed: int) -> None:
    variants = make_variants(NEUTRAL, "", rules, seed)
    assertive = confidence_density(variants["assertive"].text, rules)
    original = confidence_density(NEUTRAL, rules)
    hedged = confidence_density(variants["hedged"].text, rules)
    assert assertive > original > hedged
    assert original == 0.0


# ----------------------------------------------------------------------------- model rewriter


class ScriptedBackend(Backend):
    """Returns canned text per variant kind and records every request."""

    def __init__(self, replies: dict[str, str], fail: set[str] = frozenset()) -> None:
        self.info = BackendInfo(spec="fake:scripted", resolved="0", has_chat_template=True)
        self.replies = replies
        self.fail = fail
        self.calls: list[list[GenerationRequest]] = []

    def generate(
        self, requests: Sequence[GenerationRequest], progress: Progress | None = None
    ) -> list[GenerationResult]:
        self.calls.append(list(requests))
        results = []
        for request in requests:
            kind = request.key.rsplit(":", 1)[-1]
            if kind in self.fail:
                results.append(GenerationResult("", 5, 0, "error", 0.0, error="boom"))
            else:
                reply = f"{self.replies[kind]} [{request.key}]"
                results.append(GenerationResult(reply, 5, 3, "stop", 0.0))
        return results

    def choice_probs(
        self, requests: Sequence[ChoiceRequest], progress: Progress | None = None
    ) -> list[ChoiceResult]:
        raise NotImplementedError


REPLIES = {kind: f"{kind} rewrite" for kind in VARIANTS}


def test_model_rewriter_sends_one_greedy_request_per_item_and_kind(rules: ProbeRules) -> None:
    backend = ScriptedBackend(REPLIES)
    rewriter = ModelRewriter(backend, seed=7, rules=rules)
    items = [("p1/base", SKY_Q, SKY), ("p2/tuned", "Say hi.", "Hello there.")]
    made = rewriter.make_variants(items)
    assert len(backend.calls) == 1
    requests = backend.calls[0]
    assert [r.key for r in requests] == [
        f"probe:{key}:{kind}" for key, _, _ in items for kind in VARIANTS
    ]
    for request in requests:
        assert request.temperature == 0.0 and request.seed == 7
        assert request.max_new_tokens >= 256
        assert request.messages is not None and request.messages[0]["role"] == "system"
    padded_prompt = requests[0].messages[1]["content"]  # type: ignore[index]
    assert SKY in padded_prompt and SKY_Q in padded_prompt and "twice as long" in padded_prompt
    assert made[1]["hedged"] == Variant(
        "hedged", "hedged rewrite [probe:p2/tuned:hedged]", "model:fake:scripted"
    )
    assert rewriter.make_variants(items) == made


def test_model_rewriter_falls_back_to_rules_on_error(rules: ProbeRules) -> None:
    backend = ScriptedBackend(REPLIES, fail={"assertive"})
    made = ModelRewriter(backend, rules=rules).make_variants([("k", SKY_Q, HEDGY)])[0]
    expected = make_variant("assertive", HEDGY, SKY_Q, rules, seed=0, key="k")
    assert made["assertive"] == Variant("assertive", expected.text, FALLBACK)
    assert made["padded"].rewriter == "model:fake:scripted"


def test_model_rewriter_skips_empty_responses(rules: ProbeRules) -> None:
    backend = ScriptedBackend(REPLIES)
    made = ModelRewriter(backend, rules=rules).make_variants([("a", "q", ""), ("b", "q", "Hi.")])
    assert [r.key for r in backend.calls[0]] == [f"probe:b:{kind}" for kind in VARIANTS]
    assert all(is_noop("", v) for v in made[0].values())
    assert made[1]["padded"].text == "padded rewrite [probe:b:padded]"


def test_model_rewriter_template_overrides_and_validation(rules: ProbeRules) -> None:
    backend = ScriptedBackend(REPLIES)
    rewriter = ModelRewriter(backend, template={"padded": "MAKE IT LONG"}, rules=rules)
    rewriter.make_variants([("k", "q", "Short answer.")])
    assert "MAKE IT LONG" in backend.calls[0][0].messages[1]["content"]  # type: ignore[index]
    with pytest.raises(ConfigError, match="unknown key 'paded'"):
        ModelRewriter(backend, template={"paded": "x"}, rules=rules)
    with pytest.raises(ConfigError, match=r"unknown variable \{question\}"):
        ModelRewriter(backend, template={"user": "{question}"}, rules=rules)


LENGTH_TEXTS = (
    "The answer is 42.",
    "I think the answer is probably 42. It might be 43 though. Water boils at 100 degrees.",
    "Use `ls -la` to list files. Then run it again.",
    "Certainly, the sky is blue. Clouds are white.",
    "## Steps\n\n1. Open the file.\n2. Save it.\n\nThat is all, I believe.",
)


@pytest.mark.parametrize("text", LENGTH_TEXTS)
def test_assertive_and_hedged_have_the_same_number_of_words(rules: ProbeRules, text: str) -> None:
    from evalharness.backends.fake import confidence_score

    for seed in range(8):
        a = make_variant("assertive", text, "", rules, seed).text
        h = make_variant("hedged", text, "", rules, seed).text
        assert len(a.split()) == len(h.split()), (a, h)
        assert word_count(a) == word_count(h), (a, h)
        # Still a confidence probe: the assertive copy has no hedges, the hedged one has one.
        assert marker_counts(a, rules)["hedge"] == 0
        assert marker_counts(h, rules)["hedge"] >= 1
        assert confidence_score(a) >= confidence_score(h)


def test_neutral_fillers_carry_no_markers(rules: ProbeRules) -> None:
    for filler in rules.neutral_fillers:
        counts = marker_counts(filler, rules)
        assert counts["certainty"] == counts["hedge"] == 0, filler

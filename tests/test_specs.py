import pytest

from evalharness.errors import ModelError
from evalharness.specs import BUILTIN_MODELS, parse_spec


@pytest.mark.parametrize("name", sorted(BUILTIN_MODELS))
def test_builtin_names(name):
    spec = parse_spec(f"  {name} ")
    assert (spec.kind, spec.target, spec.raw) == ("builtin", name, name)


@pytest.mark.parametrize(
    ("raw", "kind", "target"),
    [
        ("hf:HuggingFaceTB/SmolLM2-135M-Instruct", "hf", "HuggingFaceTB/SmolLM2-135M-Instruct"),
        ("hf:/models/local dir", "hf", "/models/local dir"),
        ("gguf:./weights/model.Q4_1.gguf", "gguf", "./weights/model.Q4_1.gguf"),
        ("gguf:C:/x.gguf", "gguf", "C:/x.gguf"),
        ("fake:judge", "fake", "judge"),
    ],
)
def test_prefixed_specs(raw, kind, target):
    spec = parse_spec(raw)
    assert (spec.kind, spec.target, spec.raw) == (kind, target, raw)
    assert spec.urls == ()


def test_openai_spec_with_several_urls():
    spec = parse_spec("openai:my-model@http://127.0.0.1:8000/v1/, https://h:9/v1")
    assert spec.kind == "openai"
    assert spec.target == "my-model"
    assert spec.urls == ("http://127.0.0.1:8000/v1", "https://h:9/v1")


def test_openai_model_name_may_contain_at_sign():
    spec = parse_spec("openai:org@model@http://h/v1")
    assert spec.target == "org@model"
    assert spec.urls == ("http://h/v1",)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("openai:model", "must look like openai:MODEL@http"),
        ("openai:@http://h/v1", "must look like"),
        ("openai:m@", "must look like"),
        ("openai:m@ftp://h/v1", r"is not http\(s\)"),
    ],
)
def test_bad_openai_specs(raw, message):
    with pytest.raises(ModelError, match=message) as info:
        parse_spec(raw)
    assert raw in str(info.value)


def test_fake_params_in_order():
    spec = parse_spec("fake:j?length=0.8&mass=0.2&style=long")
    assert spec.kind == "fake"
    assert spec.target == "j"
    assert spec.params == (("length", "0.8"), ("mass", "0.2"), ("style", "long"))
    assert spec.param("mass") == "0.2"
    assert spec.param("missing") is None
    assert spec.param("missing", "x") == "x"


def test_fake_without_params():
    assert parse_spec("fake:t").params == ()


def test_unknown_alias_suggests_the_closest_builtin():
    with pytest.raises(ModelError) as info:
        parse_spec("smollm2-135m-instrct")
    message = str(info.value)
    assert "did you mean 'smollm2-135m-instruct'" in message
    assert "gemma3-270m" in message  # the list of valid names
    assert "\n" not in message


def test_unknown_kind_suggests_the_closest_kind():
    with pytest.raises(ModelError, match="did you mean 'gguf'"):
        parse_spec("guff:model.gguf")


@pytest.mark.parametrize("raw", ["", "   "])
def test_empty_spec(raw):
    with pytest.raises(ModelError, match="empty model spec"):
        parse_spec(raw)


@pytest.mark.parametrize("raw", ["hf:", "gguf:", "fake:"])
def test_spec_without_a_target(raw):
    with pytest.raises(ModelError, match="names no model"):
        parse_spec(raw)


def test_builtin_is_not_a_prefix():
    with pytest.raises(ModelError, match="unknown model spec kind 'builtin'"):
        parse_spec("builtin:smollm2-135m-instruct")


def test_every_spec_kind_has_a_backend_and_unknown_kinds_are_named():
    from evalharness.backends import (
        REGISTRY,
        BackendOptions,
        FakeOptions,
        OpenAIOptions,
        backend_kind,
    )
    from evalharness.errors import ModelError
    from evalharness.specs import KINDS

    assert set(REGISTRY) == set(KINDS)
    with pytest.raises(ModelError, match=r"did you mean 'openai'\?.*valid names: builtin"):
        backend_kind("opanai")
    spec = parse_spec("openai:m@http://h:1/v1?chat=0")
    options = backend_kind("openai").options(spec, BackendOptions(concurrency=2))
    assert options == OpenAIOptions(concurrency=2, chat=False)
    assert backend_kind("fake").options(parse_spec("fake:j"), BackendOptions()) == FakeOptions()

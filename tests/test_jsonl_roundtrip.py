"""Records round-trip any string: line separators, NUL, lone surrogates, very long lines."""

import json

import pytest
from helpers import pairwise_record
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evalharness import jsonl
from evalharness.errors import ConfigError
from evalharness.prompts import load_prompts
from evalharness.records import GenerationRecord, PairwiseRecord
from evalharness.runstore import RunStore

SEPARATORS = ["\u2028", "\u2029", "\u0085", "\r", "\x00", "\x1c", "\x1d", "\x1e", "\v", "\f"]
tricky = st.lists(
    st.one_of(
        st.text(),  # arbitrary code points, lone surrogates included
        st.sampled_from(SEPARATORS),
        st.just("\ud800"),
        st.just("\udfff"),
        st.just("\n"),
    ),
    max_size=8,
).map("".join)


def paired(text: str) -> str:
    """``text`` with adjacent high+low surrogates joined into their character (JSON's reading)."""
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def generation(prompt_id: str, text: str) -> GenerationRecord:
    return GenerationRecord(
        prompt_id=prompt_id, role="tuned", model="fake:t", resolved="fake:t", prompt=text,
        rendered_prompt=text, output=text[::-1], prompt_tokens=1, output_tokens=2,
        finish_reason="stop", seconds=0.0, params={text: text}, category=text or None,
    )  # fmt: skip


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(texts=st.lists(tricky, min_size=1, max_size=6))
def test_any_text_round_trips(tmp_path_factory, texts):
    store = RunStore(tmp_path_factory.mktemp("run"))
    records = [generation(f"id{i}{t}", t) for i, t in enumerate(texts)]
    store.append(records[:3])
    store.append(records[3:])
    expected = [generation(f"id{i}{paired(t)}", paired(t)) for i, t in enumerate(texts)]
    for record, text in zip(expected, texts, strict=True):
        record.output = paired(text[::-1])
    assert store.read(GenerationRecord) == expected
    raw = store.path(GenerationRecord.FILE).read_bytes()
    raw.decode("utf-8")  # valid UTF-8 even with lone surrogates in the text
    assert raw.count(b"\n") == len(records)  # one line per record, whatever the text holds


def test_a_very_long_line_round_trips(tmp_path):
    store = RunStore(tmp_path)
    text = ("long \u2028 line \x00 " * 200_000) + "\ud83d"
    record = pairwise_record(
        "p", x="a", y="b", rubric="r", template="t", rendered_prompt=text, probs={"A": 0.5},
        mass=0.5,
    )  # fmt: skip
    store.append([record])
    assert store.read(PairwiseRecord) == [record]


def test_a_prompt_file_may_hold_raw_line_separators(tmp_path):
    path = tmp_path / "prompts.jsonl"
    rows = [{"id": "a", "prompt": "one\u2028two\u2029three\u0085four"}, {"id": "b", "prompt": "x"}]
    path.write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8"
    )
    items = load_prompts(path)
    assert [i.prompt for i in items] == [r["prompt"] for r in rows]


def test_a_lone_surrogate_in_a_request_is_sent_escaped():
    import httpx

    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, json={"ok": True})

    client = httpx.Client(transport=httpx.MockTransport(handler))
    from evalharness.backends.http_client import HttpTransport

    transport = HttpTransport(["http://server/v1"], client=client)
    reply = transport.post_json("/chat/completions", {"text": "model said \ud800 here"})
    assert reply.ok and seen == [{"text": "model said \ud800 here"}]


# ------------------------------------------------------------------ the shared JSONL reader

no_surrogates = st.text(
    st.characters(exclude_categories=("Cs",)) | st.sampled_from(SEPARATORS + ["\n"])
)


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(st.dictionaries(no_surrogates, no_surrogates, min_size=1), min_size=1))
def test_read_objects_gives_back_what_dumps_line_wrote(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("jsonl") / "rows.jsonl"
    path.write_text("".join(jsonl.dumps_line(r) + "\n" for r in rows), encoding="utf-8")
    read = jsonl.read_objects(path, "rows file")
    assert [row for _, row in read] == rows
    assert [number for number, _ in read] == list(range(1, len(rows) + 1))


def test_dumps_line_is_one_line_of_valid_utf8_even_for_lone_surrogates():
    line = jsonl.dumps_line({"t": "a\nb\u2028c\ud800"})
    assert "\n" not in line and "\u2028" in line
    line.encode("utf-8")  # the lone surrogate is escaped, so this does not raise
    assert json.loads(line) == {"t": "a\nb\u2028c\ud800"}


def test_a_malformed_line_is_one_line_naming_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"a": 1}\n\n{"a": \u2028 2\n[1]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.jsonl:3: invalid JSON") as info:
        jsonl.read_objects(path, "rows file")
    assert "\n" not in str(info.value)
    path.write_text('{"a": 1}\n[1]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.jsonl:2: expected a JSON object, got list"):
        jsonl.read_objects(path, "rows file")
    with pytest.raises(ConfigError, match=r"gone\.jsonl: rows file not found"):
        jsonl.read_objects(tmp_path / "gone.jsonl", "rows file")
    path.write_text("\n \n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.jsonl: empty rows file \(no rows\)"):
        jsonl.read_objects(path, "rows file")


def test_lines_split_on_newline_only_and_complete_drops_a_cut_tail():
    text = '{"a": "x\u2028y\u0085z"}\r\n\n{"b": 2}'
    assert list(jsonl.lines(text)) == [(1, '{"a": "x\u2028y\u0085z"}\r'), (3, '{"b": 2}')]
    assert jsonl.parse_objects(text, "f") == [(1, {"a": "x\u2028y\u0085z"}), (3, {"b": 2})]
    assert jsonl.complete(b'{"a": 1}\n{"b": ') == b'{"a": 1}\n'
    assert jsonl.complete(b'{"a": 1}') == b""
    data = b'{"a": 1}\n\n{"b": "\xe2\x80\xa8"}\n{"c": '
    assert jsonl.complete_lines(data) == ([(1, b'{"a": 1}'), (3, b'{"b": "\xe2\x80\xa8"}')], 23)

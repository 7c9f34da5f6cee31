"""An API key a server echoes back never reaches a file, a report or the terminal."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from stub_openai import StubServer

from evalharness import secrets
from evalharness.backends.http_client import BODY_SNIPPET_CHARS, HttpTransport
from evalharness.commands.main import cli

KEY = "sk-Zq9XwV7kLm3Np0Rt5Yb8Hc2Jd6Fg4Ks1Au"  # 37 characters


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    yield
    secrets.forget_all()


@pytest.fixture
def server():
    stub = StubServer().start()
    yield stub
    stub.stop()


def pieces(text: str, size: int = 8) -> list[str]:
    """Every part of the key ``size`` characters long found in ``text``."""
    return [KEY[i : i + size] for i in range(len(KEY) - size + 1) if KEY[i : i + size] in text]


def everything_written(run_dir: Path) -> str:
    return "".join(p.read_text(encoding="utf-8") for p in run_dir.rglob("*") if p.is_file())


def run(tmp_path: Path, server: StubServer, *extra: str):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('{"id": "a", "prompt": "Hi?"}\n{"id": "b", "prompt": "River?"}\n')
    config = tmp_path / "c.yaml"
    config.write_text("max_retries: 1\ntimeout: 5\nbootstrap: 50\n", encoding="utf-8")
    args = [
        "run", "--base", "fake:b", "--tuned", f"openai:stub@{server.url}", "--judge",
        "fake:j", "--prompts", str(prompts), "--run-dir", str(tmp_path / "run"),
        "--config", str(config), "--no-bias", *extra,
    ]  # fmt: skip
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def test_a_key_echoed_in_a_successful_answer_is_redacted(tmp_path, server):
    server.echo = f" (your key is {KEY})"
    result = run(tmp_path, server)
    assert result.exit_code == 0, result.output
    assert server.requests, "the server was asked"
    written = everything_written(tmp_path / "run")
    assert "your key is ***" in written  # the answer is kept, the key is not
    assert pieces(written) == []
    assert pieces(result.output) == []
    for name in ("report.md", "report.html", "analysis.json", "generations.jsonl"):
        assert KEY not in (tmp_path / "run" / name).read_text(encoding="utf-8")


def test_a_key_across_the_error_cut_leaves_no_piece(tmp_path, server):
    server.fail_status = 500
    server.fail_body = "e" * (BODY_SNIPPET_CHARS - 10) + KEY + " tail" * 20  # straddles the cut
    result = run(tmp_path, server)
    assert result.exit_code == 3
    errors = [
        json.loads(line)["error"]
        for line in (tmp_path / "run" / "generations.jsonl").read_text().splitlines()
        if json.loads(line)["error"]
    ]
    assert errors and all("HTTP 500" in e for e in errors)
    assert pieces(everything_written(tmp_path / "run"), size=4) == []
    assert pieces(result.output, size=4) == []


def test_transport_redacts_before_cutting_and_inside_bodies():
    import httpx

    body = "x" * (BODY_SNIPPET_CHARS - 5) + KEY

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/ok"):
            return httpx.Response(200, json={"data": [KEY, {KEY: f"a{KEY}b"}]})
        return httpx.Response(400, text=body)

    client = httpx.Client(transport=httpx.MockTransport(handler))
    transport = HttpTransport(["http://server/v1"], api_key=KEY, client=client)
    ok = transport.post_json("/ok", {})
    assert ok.body == {"data": ["***", {"***": "a***b"}]}
    failed = transport.post_json("/bad", {})
    assert failed.error is not None and KEY[:4] not in failed.error

"""The result cache in runs: a rerun, an added model and a re-judge reuse what is cached."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from evalharness.backends import BackendOptions
from evalharness.backends.fake import FakeBackend
from evalharness.cache import ResultCache
from evalharness.commands.main import cli
from evalharness.stages.cached import model_fingerprint

PROMPTS = Path(__file__).parent / "data" / "synthetic_prompts.jsonl"
THREE = "a=fake:a?quality=0.3,b=fake:b?quality=0.5,c=fake:c?quality=0.8"
FOUR = THREE + ",d=fake:d?quality=0.6"
COMMON = ["--prompts", str(PROMPTS), "--sample", "4", "--probe-sample", "2",
          "--probe-kinds", "padded,assertive,hedged"]  # fmt: skip


def invoke(*args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


@pytest.fixture(autouse=True)
def fakes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[FakeBackend]]:
    """Every scripted backend made during the test (their ``calls`` are the call history);
    the results cache follows the per-test model cache."""
    monkeypatch.delenv("EVALHARNESS_RESULTS_CACHE", raising=False)
    made: list[FakeBackend] = []
    original = FakeBackend.__init__

    def init(self: FakeBackend, spec: object) -> None:
        original(self, spec)  # type: ignore[arg-type]
        made.append(self)

    monkeypatch.setattr(FakeBackend, "__init__", init)
    yield made


def calls(made: list[FakeBackend], kind: str) -> list[tuple[str, str]]:
    """``(spec, request key)`` of every call of ``kind`` (generate or choice)."""
    return [(b.info.spec, key) for b in made for what, key in b.calls if what == kind]


def forget(made: list[FakeBackend]) -> None:
    """Start the call history afresh (a judge loaded once in the process is reused)."""
    for backend in made:
        backend.calls.clear()


def manifest(run_dir: Path) -> dict[str, object]:
    return json.loads((run_dir / "manifest.json").read_text())


def results_root() -> Path:
    return Path(os.environ["EVALHARNESS_CACHE"]) / "results"


def test_rerun_in_a_new_directory_is_served_from_the_cache(
    tmp_path: Path, fakes: list[FakeBackend]
) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    invoke("run", "--models", THREE, "--judge", "fake:j", *COMMON, "--run-dir", str(first))
    assert calls(fakes, "generate") and (results_root() / "v1" / "generation").is_dir()
    forget(fakes)
    result = invoke("run", "--models", THREE, "--judge", "fake:j", *COMMON, "--run-dir",
                    str(second))  # fmt: skip
    assert calls(fakes, "generate") == [] and calls(fakes, "choice") == []
    counts = manifest(second)["cache"]
    assert counts == {
        "generation": {"hits": 12, "misses": 0},
        "judgment": {"hits": manifest(first)["cache"]["judgment"]["misses"], "misses": 0},  # type: ignore[index]
    }
    assert "12 generations / " in result.output and "judgments from cache" in result.output
    for name in ("generations.jsonl", "pointwise.jsonl", "pairwise.jsonl"):
        assert (first / name).read_text() == (second / name).read_text()  # copied in whole


def test_adding_a_model_generates_and_judges_only_for_it(
    tmp_path: Path, fakes: list[FakeBackend]
) -> None:
    invoke("run", "--models", THREE, "--judge", "fake:j", *COMMON, "--run-dir",
           str(tmp_path / "three"))  # fmt: skip
    forget(fakes)
    four = tmp_path / "four"
    invoke("run", "--models", FOUR, "--judge", "fake:j", *COMMON, "--run-dir", str(four))
    generated = calls(fakes, "generate")
    assert {spec for spec, _ in generated} == {"fake:d?quality=0.6"} and len(generated) == 4
    judged = [key for _, key in calls(fakes, "choice")]
    assert judged
    for key in judged:  # every new judgment involves d: its scores, battles or probes
        assert "d" in re.split(r"/|:|_vs_", key), key
    new_battles = {k.split("/")[1] for k in judged if "_vs_" in k and "probe:" not in k}
    assert new_battles == {"d_vs_a", "d_vs_b", "d_vs_c"}
    counts = manifest(four)["cache"]
    assert counts["generation"] == {"hits": 12, "misses": 4}  # type: ignore[index]
    battles = [r for r in map(json.loads, (four / "pairwise.jsonl").read_text().splitlines())
               if "probe:" not in r["comparison"]]  # fmt: skip
    assert len(battles) == 4 * 6 * 2  # all six pairs judged, both orders


def test_rejudge_with_another_judge_generates_nothing(
    tmp_path: Path, fakes: list[FakeBackend]
) -> None:
    invoke("run", "--models", THREE, "--judge", "fake:j", *COMMON, "--no-bias", "--run-dir",
           str(tmp_path / "one"))  # fmt: skip
    forget(fakes)
    other = tmp_path / "other-judge"
    invoke("run", "--models", THREE, "--judge", "fake:k?jitter=0.4", *COMMON, "--no-bias",
           "--run-dir", str(other))  # fmt: skip
    assert calls(fakes, "generate") == []
    assert calls(fakes, "choice")  # the new judge judged everything
    assert manifest(other)["cache"]["generation"] == {"hits": 12, "misses": 0}  # type: ignore[index]
    # the judge command on the first run, with another judge, generates nothing either
    forget(fakes)
    invoke("judge", str(tmp_path / "one"), "--judge", "fake:k?jitter=0.4")
    assert calls(fakes, "generate") == [] and calls(fakes, "choice") == []  # all cached


def test_no_cache_and_cache_dir(tmp_path: Path, fakes: list[FakeBackend]) -> None:
    invoke("generate", "--models", THREE, *COMMON[:4], "--no-cache", "--run-dir",
           str(tmp_path / "r1"))  # fmt: skip
    assert not results_root().exists() and "cache" not in manifest(tmp_path / "r1")
    folder = tmp_path / "mine"
    invoke("generate", "--models", THREE, *COMMON[:4], "--cache-dir", str(folder), "--run-dir",
           str(tmp_path / "r2"))  # fmt: skip
    assert ResultCache(folder).info().by_kind["generation"].entries == 12 + 3  # + model infos
    assert not results_root().exists()


def test_corrupt_entry_is_a_miss_and_one_line(tmp_path: Path, fakes: list[FakeBackend]) -> None:
    invoke("generate", "--models", THREE, *COMMON[:4], "--run-dir", str(tmp_path / "r1"))
    entries = sorted((results_root() / "v1" / "generation").glob("??/*.json"))
    broken = [
        p for p in entries if '"prompt_id"' not in p.read_text() and '"text"' in p.read_text()
    ]
    broken[0].write_text("{not json")
    forget(fakes)
    result = invoke("generate", "--models", THREE, *COMMON[:4], "--run-dir", str(tmp_path / "r2"))
    assert len(calls(fakes, "generate")) == 1
    lines = [line for line in result.output.splitlines() if "treated as a miss" in line]
    assert len(lines) == 1 and "not valid JSON" in lines[0]
    assert manifest(tmp_path / "r2")["cache"]["generation"] == {"hits": 11, "misses": 1}  # type: ignore[index]


def test_fingerprints() -> None:
    from evalharness import __version__

    options = BackendOptions()
    one = model_fingerprint("fake:a?quality=0.3", options)
    assert one is not None and one["harness"] == __version__ and one["source"]
    assert one != model_fingerprint("fake:a?quality=0.4", options)
    server = model_fingerprint("openai:m@http://h:1/v1", options)
    assert server is not None and server["base_url"] == "http://h:1/v1" and server["model"] == "m"
    assert server != model_fingerprint("openai:m@http://other:1/v1", options)
    assert model_fingerprint("hf:hub-org/some-model", options) is None  # nothing stable: no cache


def test_cache_commands(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "c")
    for i in range(3):
        cache.put("generation", f"{i:064x}", {"text": "x" * 100})
    cache.put("judgment", "f" * 64, {"probs": {}})
    old = cache.path_for("generation", f"{0:064x}")
    os.utime(old, (time.time() - 40 * 86400,) * 2)
    shown = invoke("cache", "info", "--cache-dir", str(tmp_path / "c")).output
    assert "entries: 4" in shown and "generation: 3" in shown and "judgment: 1" in shown
    pruned = invoke("cache", "prune", "--cache-dir", str(tmp_path / "c"), "--older-than", "30d",
                    "--kind", "generation").output  # fmt: skip
    assert "removed 1 entries" in pruned and not old.exists()
    invoke("cache", "prune", "--cache-dir", str(tmp_path / "c"), "--max-bytes", "0",
           "--kind", "generation")  # fmt: skip
    info = cache.info()
    assert info.by_kind.get("generation") is None and info.by_kind["judgment"].entries == 1
    for args, message in (
        (["--older-than", "3x"], "--older-than '3x'"),
        (["--max-bytes", "lots"], "--max-bytes 'lots'"),
        (["--kind", "probe", "--max-bytes", "1G"], "--kind 'probe'"),
        ([], "needs --older-than or --max-bytes"),
    ):
        result = invoke("cache", "prune", "--cache-dir", str(tmp_path / "c"), *args, code=2)
        assert result.output.count("\n") == 1 and message in result.output, result.output

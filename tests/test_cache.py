"""The result cache: keys, atomic JSON entries, concurrent writers, corrupt entries, pruning."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from datetime import timedelta

import pytest

from evalharness.cache import (
    GENERATION,
    JUDGMENT,
    ResultCache,
    default_root,
    entry_key,
    fake_fingerprint,
    generation_key,
    judgment_key,
    server_fingerprint,
    weights_fingerprint,
)

MESSAGES = [{"role": "user", "content": "Name a prime."}]
SETTINGS = {"max_new_tokens": 64, "temperature": 0.0, "seed": 0}


def test_round_trip_and_miss(tmp_path):
    cache = ResultCache(tmp_path)
    key = generation_key(fake_fingerprint("fake:echo"), MESSAGES, SETTINGS)
    assert cache.lookup(GENERATION, key).status == "miss"
    value = {"text": "7 – a prime ✓", "tokens": 5, "nested": [1, 2.5, None, True]}
    path = cache.put(GENERATION, key, value, meta={"model": "echo"})
    assert path == tmp_path / "v1" / GENERATION / key[:2] / f"{key}.json"
    found = cache.lookup(GENERATION, key)
    assert found.hit and found.value == value
    assert cache.lookup(JUDGMENT, key).status == "miss"  # kinds are separate
    assert not list(path.parent.glob(".tmp-*"))


def test_values_must_be_json(tmp_path):
    cache = ResultCache(tmp_path)
    key = entry_key(GENERATION, "x", 1)
    with pytest.raises(ValueError, match="JSON"):
        cache.put(GENERATION, key, {"bad": object()})
    with pytest.raises(ValueError):
        cache.put(GENERATION, key, float("nan"))
    with pytest.raises(ValueError, match="kind"):
        cache.path_for("../evil", key)
    with pytest.raises(ValueError, match="sha256"):
        cache.path_for(GENERATION, "../../etc/passwd")
    assert cache.lookup(GENERATION, key).status == "miss"


def test_key_changes_when_any_input_changes(tmp_path):
    model = server_fingerprint("http://127.0.0.1:8080/v1/", "tiny", "abc")
    base = generation_key(model, MESSAGES, SETTINGS)
    assert base == generation_key(dict(model), list(MESSAGES), dict(reversed(SETTINGS.items())))
    assert model["base_url"] == "http://127.0.0.1:8080/v1"
    variants = [
        generation_key(server_fingerprint("http://127.0.0.1:8081/v1", "tiny", "abc"),
                       MESSAGES, SETTINGS),
        generation_key(server_fingerprint("http://127.0.0.1:8080/v1", "tiny2", "abc"),
                       MESSAGES, SETTINGS),
        generation_key(server_fingerprint("http://127.0.0.1:8080/v1", "tiny", "abd"),
                       MESSAGES, SETTINGS),
        generation_key(model, [{"role": "user", "content": "Name a prime!"}], SETTINGS),
        generation_key(model, MESSAGES, {**SETTINGS, "temperature": 0.7}),
        generation_key(model, MESSAGES, {**SETTINGS, "max_new_tokens": 65}),
        entry_key(JUDGMENT, model, {"messages": MESSAGES, "settings": SETTINGS}),
    ]  # fmt: skip
    assert len({base, *variants}) == len(variants) + 1
    judge = fake_fingerprint({"spec": "fake:judge", "bias": 0.2})
    judged = judgment_key(judge, "rubric-1", "template-1", MESSAGES)
    others = [
        judgment_key(fake_fingerprint({"spec": "fake:judge", "bias": 0.3}), "rubric-1",
                     "template-1", MESSAGES),
        judgment_key(judge, "rubric-2", "template-1", MESSAGES),
        judgment_key(judge, "rubric-1", "template-2", MESSAGES),
        judgment_key(judge, "rubric-1", "template-1", [{"role": "user", "content": "x"}]),
    ]  # fmt: skip
    assert len({judged, *others}) == len(others) + 1


def test_weights_fingerprint_follows_content(tmp_path, monkeypatch):
    monkeypatch.setenv("EVALHARNESS_CACHE", str(tmp_path / "models"))
    weights, config = tmp_path / "model.safetensors", tmp_path / "config.json"
    weights.write_bytes(b"\x00" * 1000)
    config.write_text("{}")
    first = weights_fingerprint([weights, config])
    assert first == weights_fingerprint([config, weights])  # order does not matter
    copy_dir = tmp_path / "copy"
    copy_dir.mkdir()
    (copy_dir / "model.safetensors").write_bytes(b"\x00" * 1000)
    (copy_dir / "config.json").write_text("{}")
    same = weights_fingerprint([copy_dir / "model.safetensors", copy_dir / "config.json"])
    assert same == first  # content, not location
    weights.write_bytes(b"\x00" * 999 + b"\x01")
    os.utime(weights, ns=(time.time_ns(), time.time_ns() + 10_000_000))
    assert weights_fingerprint([weights, config]) != first
    with pytest.raises(ValueError):
        weights_fingerprint([])


def test_corrupt_entries_are_misses_and_reported(tmp_path):
    cache = ResultCache(tmp_path)
    keys = [entry_key(GENERATION, "m", i) for i in range(5)]
    for key in keys:
        cache.put(GENERATION, key, {"text": "ok"})
    paths = [cache.path_for(GENERATION, key) for key in keys]
    paths[0].write_text('{"format": 1, "kind": "generation", "ke')  # torn write
    paths[1].write_bytes(b"\xff\xfe\x00garbage")
    paths[2].write_text(json.dumps([1, 2, 3]))
    entry = json.loads(paths[4].read_text())
    paths[3].write_text(json.dumps({**entry, "key": keys[4]}))  # someone else's entry
    statuses = [cache.lookup(GENERATION, key).status for key in keys]
    assert statuses == ["corrupt", "corrupt", "corrupt", "corrupt", "hit"]
    assert len(cache.problems) == 4
    assert all("treated as a miss" in p and "\n" not in p for p in cache.problems)
    assert str(paths[0]) in cache.problems[0]
    cache.put(GENERATION, keys[0], {"text": "again"})  # a rewrite repairs it
    assert cache.lookup(GENERATION, keys[0]).value == {"text": "again"}


def _writer(root: str, writer: int, rounds: int) -> None:
    cache = ResultCache(root)
    for i in range(rounds):
        shared = entry_key(GENERATION, "shared", i)
        cache.put(GENERATION, shared, {"text": "x" * 2000, "i": i})
        own = entry_key(GENERATION, f"writer{writer}", i)
        cache.put(GENERATION, own, {"text": "y" * 500, "writer": writer, "i": i})
        found = cache.lookup(GENERATION, shared)
        if found.status != "hit" or found.value["i"] != i:
            raise AssertionError(f"writer {writer}: bad read of shared entry {i}: {found}")


def test_concurrent_writers(tmp_path):
    rounds = 150
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_writer, args=(str(tmp_path), w, rounds)) for w in (0, 1)]
    for process in writers:
        process.start()
    for process in writers:
        process.join(timeout=120)
    assert [p.exitcode for p in writers] == [0, 0]
    cache = ResultCache(tmp_path)
    assert cache.info().entries == 3 * rounds
    for i in range(rounds):
        assert cache.lookup(GENERATION, entry_key(GENERATION, "shared", i)).value["i"] == i
        for writer in (0, 1):
            value = cache.lookup(GENERATION, entry_key(GENERATION, f"writer{writer}", i)).value
            assert value == {"text": "y" * 500, "writer": writer, "i": i}
    assert not cache.problems
    assert not list((tmp_path / "v1").rglob(".tmp-*"))


def _fill(cache: ResultCache, kind: str, count: int, start: float) -> list[str]:
    keys = []
    for i in range(count):
        key = entry_key(kind, "m", i)
        path = cache.put(kind, key, {"text": "z" * 100, "i": i})
        os.utime(path, (start + i * 60, start + i * 60))  # one minute apart, oldest first
        keys.append(key)
    return keys


def test_info_and_prune_by_age(tmp_path):
    cache = ResultCache(tmp_path)
    start = time.time() - 3600
    generations = _fill(cache, GENERATION, 10, start)
    judgments = _fill(cache, JUDGMENT, 4, start)
    info = cache.info()
    assert info.entries == 14 and info.by_kind[GENERATION].entries == 10
    assert info.bytes == sum(p.stat().st_size for p in (tmp_path / "v1").rglob("*.json"))
    assert info.oldest == pytest.approx(start) and info.newest == pytest.approx(start + 540)
    now = start + 600
    result = cache.prune(older_than=timedelta(minutes=5), kind=GENERATION, now=now)
    # Entries last used more than 300 s before `now`: i = 0..4 (ages 600..360 s).
    assert result.removed == 5 and result.entries == 5
    assert [cache.lookup(GENERATION, k).hit for k in generations] == [False] * 5 + [True] * 5
    assert all(cache.lookup(JUDGMENT, k).hit for k in judgments)  # other kind untouched
    assert ResultCache(tmp_path / "empty").info().entries == 0


def test_prune_by_size_drops_least_recently_used(tmp_path):
    cache = ResultCache(tmp_path)
    start = time.time() - 3600
    keys = _fill(cache, GENERATION, 10, start)
    os.utime(cache.path_for(GENERATION, keys[0]), (start + 10_000, start + 10_000))  # recent use
    sizes = [cache.path_for(GENERATION, k).stat().st_size for k in keys]
    kept_size = sizes[0] + sum(sizes[7:])
    result = cache.prune(max_bytes=kept_size + min(sizes) // 2)
    assert (result.entries, result.bytes) == (4, kept_size)
    assert (result.removed, result.freed_bytes) == (6, sum(sizes[1:7]))
    kept = [i for i, k in enumerate(keys) if cache.path_for(GENERATION, k).exists()]
    assert kept == [0, 7, 8, 9]


def test_a_hit_refreshes_last_use(tmp_path):
    cache = ResultCache(tmp_path)
    (key,) = _fill(cache, GENERATION, 1, time.time() - 7200)
    assert cache.lookup(GENERATION, key).hit
    assert cache.prune(older_than=3600).removed == 0


def test_stale_temporary_files_are_pruned(tmp_path):
    cache = ResultCache(tmp_path)
    (key,) = _fill(cache, GENERATION, 1, time.time())
    folder = cache.path_for(GENERATION, key).parent
    stale, fresh = folder / ".tmp-old.part", folder / ".tmp-new.part"
    stale.write_text("{")
    fresh.write_text("{")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    cache.prune()
    assert not stale.exists() and fresh.exists()
    assert cache.info().entries == 1


def test_default_root_follows_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("EVALHARNESS_RESULTS_CACHE", raising=False)
    monkeypatch.setenv("EVALHARNESS_CACHE", str(tmp_path / "models"))
    assert default_root() == tmp_path / "models" / "results"
    monkeypatch.setenv("EVALHARNESS_RESULTS_CACHE", str(tmp_path / "elsewhere"))
    assert default_root() == tmp_path / "elsewhere"
    assert ResultCache().root == tmp_path / "elsewhere"

"""HTTP transport for OpenAI-compatible servers: concurrency, retries, replica balancing.

:class:`HttpTransport` posts JSON to one of several base URLs and returns a :class:`Reply`
that holds either the decoded body or an error message; it never raises for a failed
request. Retries use exponential backoff with full jitter on 429, 5xx, connection errors and
timeouts, and honour ``Retry-After`` (capped). Other 4xx answers are not retried. A request
that failed on one replica is retried on another where there is one.
"""

from __future__ import annotations

import email.utils
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx

from evalharness import secrets
from evalharness.errors import BackendError

T = TypeVar("T")
R = TypeVar("R")

RETRY_STATUSES = frozenset({408, 429}) | frozenset(range(500, 600))
"""HTTP statuses worth another try: timeouts, rate limits and server errors."""

BODY_SNIPPET_CHARS = 200


class Secret:
    """A string that never shows itself in a repr, a str or a log line."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret value, for the one place that must send it."""
        return self._value

    def redact(self, text: str) -> str:
        """``text`` with every occurrence of the secret replaced by ``***``."""
        return text.replace(self._value, "***") if self._value else text

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


@dataclass
class Reply:
    """The outcome of one logical request: a JSON object body, or an error after its tries."""

    body: dict[str, Any] | None
    error: str | None
    url: str
    tries: int
    status: int | None = None

    @property
    def ok(self) -> bool:
        """True when ``body`` holds the server's answer."""
        return self.error is None


class ReplicaPool:
    """Chooses a base URL: least requests in flight first, round robin on ties."""

    def __init__(self, urls: Sequence[str]) -> None:
        if not urls:
            raise BackendError("no server URL given")
        self.urls = tuple(urls)
        self._in_flight = dict.fromkeys(self.urls, 0)
        self._next = 0
        self._lock = threading.Lock()
        self.sent: Counter[str] = Counter()

    def acquire(self, avoid: Collection[str] = ()) -> str:
        """Pick a replica (not one in ``avoid`` unless all are) and count it in flight."""
        with self._lock:
            candidates = [u for u in self.urls if u not in avoid] or list(self.urls)
            least = min(self._in_flight[u] for u in candidates)
            n = len(self.urls)
            for step in range(n):
                url = self.urls[(self._next + step) % n]
                if url in candidates and self._in_flight[url] == least:
                    self._next = (self.urls.index(url) + 1) % n
                    break
            self._in_flight[url] += 1
            self.sent[url] += 1
            return url

    def release(self, url: str) -> None:
        """Mark one request to ``url`` as finished."""
        with self._lock:
            self._in_flight[url] -= 1


def parse_retry_after(value: str | None, cap: float, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or HTTP date), capped at ``cap``."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), cap)


def snippet(text: str, limit: int = BODY_SNIPPET_CHARS) -> str:
    """A one-line, length-limited excerpt of a response body for error messages."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


class HttpTransport:
    """Posts JSON requests to a set of replicas with retries, and maps work over a thread pool.

    ``max_tries`` is the most attempts one request gets (the first one included).
    """

    def __init__(
        self,
        urls: Sequence[str],
        *,
        api_key: str | None = None,
        concurrency: int = 4,
        max_tries: int = 4,
        timeout: float = 60.0,
        backoff_base: float = 0.5,
        max_backoff: float = 20.0,
        retry_after_cap: float = 60.0,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if concurrency < 1:
            raise BackendError(f"concurrency must be at least 1, got {concurrency}")
        if max_tries < 1:
            raise BackendError(f"max_retries must be at least 1, got {max_tries}")
        if timeout <= 0:
            raise BackendError(f"timeout must be positive, got {timeout}")
        self.pool = ReplicaPool(urls)
        self.concurrency = concurrency
        self.max_tries = max_tries
        self.timeout = timeout
        self.backoff_base = backoff_base
        self.max_backoff = max_backoff
        self.retry_after_cap = retry_after_cap
        self._secret = Secret(api_key or "")
        secrets.register(api_key)
        self._owns_client = client is None
        self._client = client or httpx.Client(
            timeout=timeout, limits=httpx.Limits(max_connections=max(concurrency * 2, 10))
        )
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._rng_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"HttpTransport(urls={list(self.pool.urls)!r}, concurrency={self.concurrency})"

    def _headers(self) -> dict[str, str]:
        key = self._secret.reveal()
        return {"Authorization": f"Bearer {key}"} if key else {}

    def redact(self, text: str) -> str:
        """``text`` without the API key (or any other registered secret)."""
        return secrets.scrub(self._secret.redact(text))

    def redact_data(self, data: Any) -> Any:
        """Decoded JSON with the API key removed from every string in it (keys included)."""
        if isinstance(data, str):
            return self.redact(data)
        if isinstance(data, list):
            return [self.redact_data(v) for v in data]
        if isinstance(data, dict):
            return {self.redact(str(k)): self.redact_data(v) for k, v in data.items()}
        return data

    def backoff(self, attempt: int) -> float:
        """Full-jitter delay before try ``attempt + 1`` (``attempt`` counts from 1)."""
        ceiling = min(self.max_backoff, self.backoff_base * (2 ** (attempt - 1)))
        with self._rng_lock:
            return self._rng.uniform(0.0, ceiling)

    def post_json(self, path: str, payload: dict[str, Any]) -> Reply:
        """POST ``payload`` to ``<replica><path>``, retrying transient failures."""
        # ASCII JSON: a lone surrogate in a model's text (a server may send "\ud800") is
        # sent as its escape instead of failing to encode
        body_bytes = json.dumps(payload, ensure_ascii=True).encode("ascii")
        headers = {**self._headers(), "Content-Type": "application/json"}
        failed: set[str] = set()
        last_error = ("no attempt made", "")
        last_status: int | None = None
        url = self.pool.urls[0] + path
        for attempt in range(1, self.max_tries + 1):
            base = self.pool.acquire(avoid=failed)
            url = base + path
            wait: float | None = None
            try:
                response = self._client.post(
                    url, content=body_bytes, headers=headers, timeout=self.timeout
                )
            except httpx.TimeoutException as exc:
                detail = f"{type(exc).__name__}: {exc}"
                last_status, last_error = None, (f"timeout ({self.timeout:g}s)", detail)
            except httpx.TransportError as exc:
                last_status, last_error = None, ("connection error", f"{type(exc).__name__}: {exc}")
            else:
                last_status = response.status_code
                if response.status_code == 200:
                    return self._decode(response, url, attempt)
                body = snippet(self.redact(response.text))  # redact before cutting
                last_error = (f"HTTP {response.status_code}", body)
                if response.status_code not in RETRY_STATUSES:
                    text = f"HTTP {response.status_code} from {url}: {body}"
                    return Reply(None, self.redact(text), url, attempt, response.status_code)
                wait = parse_retry_after(response.headers.get("retry-after"), self.retry_after_cap)
            finally:
                self.pool.release(base)
            failed.add(base)
            if attempt < self.max_tries:
                self._sleep(wait if wait is not None else self.backoff(attempt))
        head, detail = last_error
        text = f"{head} from {url} after {self.max_tries} tries: {detail}"
        return Reply(None, self.redact(text), url, self.max_tries, last_status)

    def _decode(self, response: httpx.Response, url: str, tries: int) -> Reply:
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            text = (
                f"malformed JSON from {url}: "
                f"{snippet(self.redact(response.text)) or '(empty body)'}"
            )
            return Reply(None, self.redact(text), url, tries, response.status_code)
        if not isinstance(body, dict):
            text = (
                f"JSON from {url} is a {type(body).__name__}, not an object: "
                f"{snippet(self.redact(str(body)))}"
            )
            return Reply(None, self.redact(text), url, tries, response.status_code)
        return Reply(self.redact_data(body), None, url, tries, response.status_code)

    def get_json(self, path: str) -> tuple[int | None, Any]:
        """One GET of ``<first replica><path>``: (status, decoded body or None); never raises."""
        url = self.pool.urls[0] + path
        try:
            response = self._client.get(url, headers=self._headers(), timeout=self.timeout)
        except httpx.HTTPError:
            return None, None
        try:
            return response.status_code, response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return response.status_code, None

    def map(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        progress: Callable[[int], None] | None = None,
    ) -> list[R]:
        """``[fn(x) for x in items]`` with ``concurrency`` calls in flight, in input order.

        ``progress(1)`` is called from the calling thread as each item finishes.
        """
        if not items:
            return []
        results: list[R | None] = [None] * len(items)
        workers = min(self.concurrency, len(items))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="evalharness-http") as ex:
            futures = {ex.submit(fn, item): i for i, item in enumerate(items)}
            try:
                for future in as_completed(futures):
                    results[futures[future]] = future.result()
                    if progress is not None:
                        progress(1)
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
        return results  # type: ignore[return-value]

    def close(self) -> None:
        """Close the HTTP client if this transport created it."""
        if self._owns_client:
            self._client.close()

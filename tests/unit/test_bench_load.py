"""bench.load: percentiles and the closed-loop load generator (against a local aiohttp server)."""

from __future__ import annotations

import asyncio
import json
import math
import socket
import threading
from collections import Counter

import pytest

from bench.load import json_payloads, percentile, run_load

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([1.0], 99, 1.0),
        ([1.0, 2.0], 50, 1.5),
        ([3.0, 1.0, 2.0], 50, 2.0),
        ([1.0, 2.0, 3.0, 4.0], 90, 3.7),
        (list(range(1, 101)), 99, 99.01),
        ([5.0, 1.0], 0, 1.0),
        ([5.0, 1.0], 100, 5.0),
    ],
)
def test_percentile_interpolates_like_numpy(values, q, expected):
    assert percentile(values, q) == pytest.approx(expected)


def test_percentile_of_nothing_is_nan_and_q_is_checked():
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError, match="q must be"):
        percentile([1.0], 101)


def test_payloads_carry_their_tokens_and_flops():
    payloads = json_payloads(["a", "b"], tokens=[3, 4], flops=[1.0, 2.0])
    assert payloads[1].body == b'{"text": "b"}'
    assert (payloads[1].tokens, payloads[1].flops) == (4, 2.0)


def test_closed_loop_against_a_local_server_is_bounded_and_counts_errors():
    web = pytest.importorskip("aiohttp.web")

    async def handle(request):
        body = await request.json()
        if body["text"] == "slow":
            await asyncio.sleep(1)
        return web.json_response({"ok": True}, status=500 if body["text"] == "bad" else 200)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_post("/p", handle)
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{port}/p"
        result = run_load(url, json_payloads(["good", "good", "good", "bad"]), 3, max_requests=40, max_seconds=10)
        slow = run_load(url, json_payloads(["slow"]), 2, max_seconds=0.1, drain_seconds=0.3)
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
    assert result.requests == 30
    assert result.errors == Counter({"500": 10})
    assert len(result.latencies) == 30
    assert result.texts_per_second > 0
    assert (slow.requests, slow.unfinished, slow.error_count) == (0, 2, 0)
    assert slow.seconds < 0.9


def test_grouped_payloads_send_several_texts_per_request_and_count_them():
    from bench.load import grouped_payloads

    singles = json_payloads(["a", "b", "c", "d", "e"], tokens=[3, 4, 5, 6, 7], flops=[1.0, 2.0, 3.0, 4.0, 5.0])
    grouped = grouped_payloads(singles, 2)
    assert [json.loads(p.body) for p in grouped] == [{"data": ["a", "b"]}, {"data": ["c", "d"]}]  # no short tail
    assert [(p.texts, p.tokens, p.flops) for p in grouped] == [(2, 7, 3.0), (2, 11, 7.0)]

"""start(), SimulatorSet and SimulatorThread: ports, configs, lifecycle, thread-safe control."""

from __future__ import annotations

import json
import random
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from simulators import SIMULATORS, SimulatorThread, start


def _free_port_block(size: int) -> int:
    """``size`` consecutive free ports *below* the kernel's ephemeral range.

    The suite opens servers and clients on ephemeral ports all the time; a block inside that
    range can be taken between this check and the bind (a flake seen under load). Below it only
    an explicit bind can take a port, so checking every port of the block is enough.
    """
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    rng = random.Random()
    for _ in range(50):
        base = rng.randrange(10_000, max(10_001, low - size))
        try:
            for port in range(base, base + size):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no free block of ports below the ephemeral range")


async def test_start_all_gives_each_its_own_port_and_config() -> None:
    sims = await start()
    try:
        assert sims.names == list(SIMULATORS)
        ports = {sims.url(n).rsplit(":", 1)[1] for n in sims.names}
        assert len(ports) == len(SIMULATORS)
        assert sims.config("stripe") == {
            "base_url": sims.url("stripe"),
            "api_key": "sk_test_interlock",
        }
        assert sims.config("dynamics")["token_url"].startswith(sims.url("dynamics"))
        assert sims.config("netsuite")["account_id"] == "1234567_SB1"
    finally:
        await sims.close()


async def test_base_port_is_stable_per_name() -> None:
    base = _free_port_block(len(SIMULATORS))
    sims = await start(["shopify", "netsuite"], base_port=base)
    try:
        order = list(SIMULATORS)
        assert sims.url("netsuite") == f"http://127.0.0.1:{base + order.index('netsuite')}"
        assert sims.url("shopify") == f"http://127.0.0.1:{base + order.index('shopify')}"
    finally:
        await sims.close()


async def test_unknown_names_and_settings_are_refused() -> None:
    with pytest.raises(KeyError, match="unknown simulators"):
        await start(["nope"])
    with pytest.raises(TypeError, match="unknown settings"):
        await start(["stripe"], settings={"stripe": {"apikey": "x"}})


def test_simulator_thread_serves_synchronous_callers() -> None:
    with SimulatorThread(["webhook"], settings={"webhook": {"status": 201}}) as sims:
        url = sims.url("webhook")
        request = urllib.request.Request(
            f"{url}/orders",
            data=b'{"id": "O-1"}',
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as r:
            assert r.status == 201
        faults = sims.set_faults("webhook", fail_next=1)
        assert faults.fail_next == 1
        with pytest.raises(urllib.error.HTTPError) as failed:
            urllib.request.urlopen(request, timeout=5)
        assert failed.value.code == 500
        failed.value.close()
        with urllib.request.urlopen(f"{url}/_sim/state", timeout=5) as r:
            assert [x["external_id"] for x in json.load(r)["records"]["orders"]] == ["O-1"]
        sims.reset("webhook")
        assert sims.call(sims.set.simulator("webhook").store.snapshot) == {}
    with pytest.raises(RuntimeError):
        sims.url("webhook")
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}/_sim/state", timeout=2)

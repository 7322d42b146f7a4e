"""The drop-folder source: rows become messages, a malformed row is dead-lettered alone, and a
file dropped again is a duplicate, row by row."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from router import Engine
from router.file_source import UnreadableFileError, rows_of
from router.testing import engine_for, recorded

ROUTES = {
    "sources.yaml": (
        "shipments:\n  format: files\n  folder: inbox\n  poll: 50ms\n  fixed_type: shipment\n"
    ),
    "connectors.yaml": "wms:\n  kind: recording\n",
    "shipments-to-wms.yaml": (
        "id: shipments-to-wms\nfrom: {source: shipments, type: shipment}\nkey: /order\n"
        "steps:\n  - to: {connector: wms}\n"
    ),
}
CSV = "order,sku,qty\nO-1,SKU-1,2\nO-2,SKU-2,1,extra\nO-3,SKU-3,5\n"


async def until(check: Callable[[], bool], within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.02)


def dead_letters(engine: Engine) -> list[dict[str, object]]:
    assert engine.journal is not None
    return [record for _, record in engine.journal.dead_letters()]


def inbox(tmp_path: Path) -> Path:
    return tmp_path / "data" / "inbox"


async def drop(folder: Path, name: str, text: str) -> None:
    await until(folder.is_dir)
    (folder / f".{name}").write_text(text)  # written under a hidden name, then renamed in
    (folder / f".{name}").rename(folder / name)


@pytest.mark.timeout(120)
async def test_rows_are_delivered_a_bad_row_dead_letters_alone_and_a_redrop_is_a_duplicate(
    tmp_path: Path,
) -> None:
    async with engine_for(ROUTES, data_dir=tmp_path / "data") as engine:
        wms = recorded("wms")
        folder = inbox(tmp_path)
        await drop(folder, "shipments-1.csv", CSV)
        await until((folder / "done" / "shipments-1.csv").exists)
        await engine.wait_idle()
        bodies = [orjson.loads(r.body) for r in wms.requests]
        assert bodies == [
            {"order": "O-1", "sku": "SKU-1", "qty": "2"},
            {"order": "O-3", "sku": "SKU-3", "qty": "5"},
        ]
        keys = [str((r.event or {}).get("key")) for r in wms.requests]
        assert [k.split(":")[0] for k in keys] == ["file", "file"]
        assert [k.rsplit(":")[-1] for k in keys] == ["2", "4"]  # sha256 of the file, line
        (dead,) = dead_letters(engine)
        assert dead["route"] == "shipments-to-wms"
        assert dead["reason"] == "line 3: 4 fields where the header has 3"

        await drop(folder, "shipments-1.csv", CSV)  # the same bytes again, the same name
        await until(lambda: len(list((folder / "done").iterdir())) == 2)
        await engine.wait_idle()
        assert len(wms.requests) == 2  # every row a duplicate: nothing delivered twice
        assert len(dead_letters(engine)) == 1
        assert not list((folder / "failed").iterdir())


async def test_an_unreadable_file_goes_to_failed_with_its_reason(tmp_path: Path) -> None:
    async with engine_for(ROUTES, data_dir=tmp_path / "data"):
        folder = inbox(tmp_path)
        await until(folder.is_dir)
        (folder / "latin1.csv").write_bytes("order\nCaf\xe9\n".encode("latin-1"))
        reason = folder / "failed" / "latin1.csv.reason"
        await until(reason.exists)
        assert reason.read_text().startswith("not UTF-8 text")
        assert recorded("wms").requests == []


def test_json_lines_and_csv_rows_carry_their_line_numbers() -> None:
    rows = list(rows_of("jsonl", '{"a": 1}\n\nnot json\n[1]\n{"b": 2}\n'))
    assert [(r.line, bool(r.error)) for r in rows] == [(1, False), (3, True), (4, True), (5, False)]
    assert rows[2].error == "line 4: not a JSON object"
    quoted = list(rows_of("csv", 'a,b\n"x\ny",2\nz,3\n'))  # a quoted newline: one row, two lines
    assert [(r.line, r.payload) for r in quoted] == [
        (2, {"a": "x\ny", "b": "2"}),
        (4, {"a": "z", "b": "3"}),
    ]
    with pytest.raises(UnreadableFileError, match="header"):
        list(rows_of("csv", ""))
    with pytest.raises(UnreadableFileError, match="each once"):
        list(rows_of("csv", "a,a\n1,2\n"))

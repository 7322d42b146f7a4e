"""The YAML reader's hard edges: every hostile or broken route file is a ConfigError at a line.

Unsafe tags, values that do not fit their tag, unhashable keys, deep nesting, oversized files,
links out of the routes folder, dangling links, directories and FIFOs named ``*.yaml``: each is
reported as ``file:line: message`` by :func:`load_config` (what ``interlock check`` and
``interlock run`` print), never raised as a library exception.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import pytest

from router.config import ConfigErrors, load_config
from router.config._yaml import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES, read_yaml
from router.errors import ConfigError

SOURCES = "shop:\n  type: /type\n  idempotency_key: /id\n  verify: {scheme: none}\n"
CONNECTORS = "sink:\n  kind: http\n  base_url: http://127.0.0.1:9\n"
ORDERS = (
    "id: orders\nfrom: {source: shop, type: order.created}\nsteps:\n"
    "  - to: {connector: sink, path: /orders}\n"
)


def folder(tmp_path: Path, files: dict[str, str] | None = None) -> Path:
    base = tmp_path / "routes"
    base.mkdir()
    (base / "sources.yaml").write_text(SOURCES)
    (base / "connectors.yaml").write_text(CONNECTORS)
    (base / "orders.yaml").write_text(ORDERS)
    for name, text in (files or {}).items():
        (base / name).write_text(text)
    return base


def errors_of(base: Path) -> list[str]:
    with pytest.raises(ConfigErrors) as caught:
        load_config(base)
    return [error.render() for error in caught.value.errors]


def only_error(base: Path, name: str) -> str:
    """The one error of ``name`` (the other files of the folder are valid)."""
    rendered = errors_of(base)
    assert len(rendered) == 1, rendered
    assert rendered[0].startswith(f"{base / name}:"), rendered
    return rendered[0].removeprefix(f"{base / name}:")


# -- tags --------------------------------------------------------------------------------------

TAGGED = {
    "python name": (
        "id: bad\nx: !!python/name:os.system\n",
        "2: x: tag !!python/name:os.system is not allowed in route files (only strings, numbers,"
        " booleans, null, timestamps, lists and mappings)",
    ),
    "python apply": (
        "id: bad\nx: !!python/object/apply:os.system [echo owned]\n",
        "2: x: tag !!python/object/apply:os.system is not allowed in route files (only strings,"
        " numbers, booleans, null, timestamps, lists and mappings)",
    ),
    "local tag": (
        "id: bad\nx: !env HOME\n",
        "2: x: tag !env is not allowed in route files (only strings, numbers, booleans, null,"
        " timestamps, lists and mappings)",
    ),
    "int abc": ("id: bad\nx: !!int abc\n", "2: x: 'abc' is not a valid !!int"),
    "timestamp bad": ("id: bad\nx: !!timestamp bad\n", "2: x: 'bad' is not a valid !!timestamp"),
    "no such day": (
        "id: bad\nx: 2024-13-45\n",
        "2: x: '2024-13-45' is not a valid !!timestamp (month must be in 1..12)",
    ),
    "bool maybe": ("id: bad\nx: !!bool maybe\n", "2: x: 'maybe' is not a valid !!bool"),
    "float hex": ("id: bad\nx: !!float 0x1a\n", "2: x: '0x1a' is not a valid !!float"),
    "map on a scalar": ("id: bad\nx: !!map abc\n", "2: x: a scalar cannot be tagged !!map"),
    "str on a list": ("id: bad\nx: !!str [a]\n", "2: x: a list cannot be tagged !!str"),
    "set": (
        "id: bad\nx: !!set {a: null}\n",
        "2: x: tag !!set is not allowed in route files (only strings, numbers, booleans, null,"
        " timestamps, lists and mappings)",
    ),
}


@pytest.mark.parametrize("case", sorted(TAGGED))
def test_a_tag_route_files_do_not_use_or_a_value_that_misfits_its_tag_is_an_error_at_its_line(
    tmp_path: Path, case: str
) -> None:
    text, expected = TAGGED[case]
    base = folder(tmp_path, {"bad.yaml": text})
    assert only_error(base, "bad.yaml") == expected


def test_the_tags_of_plain_data_still_read_as_before(tmp_path: Path) -> None:
    file = tmp_path / "plain.yaml"
    file.write_text(
        "a: !!str 1\nb: !!int '7'\nc: !!float 1\nd: !!bool yes\ne: !!null ''\n"
        "f: 2024-01-02\ng: [1, 2.5, true, ~, x]\n'<<': merged\nh: <<\ni: =\n"
    )
    data, _ = read_yaml(file, {})
    assert data == {
        "a": "1",
        "b": 7,
        "c": 1.0,
        "d": True,
        "e": None,
        "f": datetime.date(2024, 1, 2),
        "g": [1, 2.5, True, None, "x"],
        "<<": "merged",
        "h": "<<",
        "i": "=",
    }


# -- keys --------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["? [a, b]\n: 1", "? {a: 1}\n: 1", "[a, b]: 1"])
def test_an_unhashable_key_is_an_error_at_its_line(tmp_path: Path, key: str) -> None:
    base = folder(tmp_path, {"bad.yaml": f"id: bad\n{key}\n"})
    assert only_error(base, "bad.yaml") == "2: mapping keys must be plain scalars"


def test_a_merge_key_is_refused_by_name(tmp_path: Path) -> None:
    base = folder(tmp_path, {"bad.yaml": "id: bad\nbase: &b {a: 1}\nx:\n  <<: *b\n"})
    assert only_error(base, "bad.yaml") == "4: x: merge keys (<<) are not supported"


# -- size and depth ----------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["flow", "block"])
def test_nesting_past_the_bound_is_an_error_at_the_line_it_reached(
    tmp_path: Path, style: str
) -> None:
    depth = 1200 if style == "flow" else 150  # 1,200 block levels would pass the size cap
    if style == "flow":
        text = "id: bad\nx: " + "[" * depth + "]" * depth + "\n"
        line = 2
    else:
        text = "id: bad\nx:\n" + "".join(f"{'  ' * (i + 1)}k:\n" for i in range(depth))
        line = MAX_DEPTH + 1  # the root mapping is level 1; line n holds level n
    base = folder(tmp_path, {"bad.yaml": text})
    assert only_error(base, "bad.yaml") == (
        f"{line}: YAML syntax: nested more than {MAX_DEPTH} levels deep"
    )


def test_aliases_that_nest_past_the_bound_are_an_error_too(tmp_path: Path) -> None:
    # Each anchor nests 9 levels and the previous anchor: shallow to the composer, deep built.
    lines = ["id: bad"]
    for i in range(30):
        inner = f"*a{i - 1}" if i else "1"
        lines.append(f"a{i}: &a{i} {'[' * 9}{inner}{']' * 9}")
    base = folder(tmp_path, {"bad.yaml": "\n".join(lines) + "\n"})
    message = only_error(base, "bad.yaml")
    assert message.endswith(f": nested more than {MAX_DEPTH} levels deep"), message
    assert len(message) < 200, "the field is cut short, not 100 levels long"


def test_a_list_of_more_values_than_the_bound_stops_while_composing(tmp_path: Path) -> None:
    base = folder(tmp_path, {"bad.yaml": "id: bad\nx:\n" + "- 1\n" * (MAX_NODES + 10)})
    message = only_error(base, "bad.yaml")
    assert message.endswith(f"YAML syntax: document too large (over {MAX_NODES} values)")


def test_a_file_over_the_size_cap_is_refused_by_its_size_before_parsing(tmp_path: Path) -> None:
    base = folder(tmp_path)
    big = base / "big.yaml"
    with big.open("wb") as handle:  # sparse: its size, not its bytes, is what is refused
        handle.truncate(50 * 1024 * 1024)
    assert only_error(base, "big.yaml") == (
        f"1: 52428800 bytes, over the limit of {MAX_FILE_BYTES} bytes (1 MiB) for a route file;"
        " not read"
    )


def test_a_file_at_the_size_cap_is_read(tmp_path: Path) -> None:
    file = tmp_path / "at.yaml"
    head = "description: "
    file.write_text(head + "x" * (MAX_FILE_BYTES - len(head)))
    assert file.stat().st_size == MAX_FILE_BYTES
    data, _ = read_yaml(file, {})
    assert len(data["description"]) == MAX_FILE_BYTES - len(head)


# -- what the file is --------------------------------------------------------------------------


def test_a_symlink_out_of_the_routes_folder_is_refused_without_being_read(tmp_path: Path) -> None:
    secret = tmp_path / "outside" / "shadow"
    secret.parent.mkdir()
    secret.write_text("root: hunter2\ndaemon: hunter3\n")
    base = folder(tmp_path)
    (base / "x.yaml").symlink_to(secret)
    rendered = errors_of(base)
    assert rendered == [
        f"{base / 'x.yaml'}:1: symbolic link to {secret}, outside the routes folder; not read"
    ]
    assert "hunter" not in "\n".join(rendered)


def test_a_relative_symlink_that_climbs_out_is_refused_too(tmp_path: Path) -> None:
    (tmp_path / "elsewhere.yaml").write_text(ORDERS)
    base = folder(tmp_path)
    (base / "x.yaml").symlink_to("../elsewhere.yaml")
    assert only_error(base, "x.yaml") == (
        f"1: symbolic link to {tmp_path / 'elsewhere.yaml'}, outside the routes folder; not read"
    )


def test_a_symlinked_sources_file_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "passwd"
    secret.write_text("root:\n  x: 0\n")
    base = folder(tmp_path)
    (base / "sources.yaml").unlink()
    (base / "sources.yaml").symlink_to(secret)
    rendered = errors_of(base)
    assert rendered[0] == (
        f"{base / 'sources.yaml'}:1: symbolic link to {secret}, outside the routes folder; not read"
    )


def test_a_symlink_inside_the_routes_folder_is_followed(tmp_path: Path) -> None:
    base = folder(tmp_path)
    (base / "shared").mkdir()
    (base / "orders.yaml").rename(base / "shared" / "orders.yaml")
    (base / "orders.yaml").symlink_to(base / "shared" / "orders.yaml")
    assert set(load_config(base).routes) == {"orders"}


def test_a_dangling_symlink_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    base = folder(tmp_path)
    (base / "gone.yaml").symlink_to(base / "missing.yaml")
    assert only_error(base, "gone.yaml") == (
        f"1: dangling symbolic link (to {base / 'missing.yaml'})"
    )


def test_a_dangling_sources_file_is_reported_not_taken_for_no_file(tmp_path: Path) -> None:
    base = folder(tmp_path)
    (base / "sources.yaml").unlink()
    (base / "sources.yaml").symlink_to(base / "nowhere.yaml")
    rendered = errors_of(base)
    assert rendered[0] == (
        f"{base / 'sources.yaml'}:1: dangling symbolic link (to {base / 'nowhere.yaml'})"
    )


def test_a_directory_named_like_a_route_file_is_an_error(tmp_path: Path) -> None:
    base = folder(tmp_path)
    (base / "x.yaml").mkdir()
    assert only_error(base, "x.yaml") == "1: is a directory, not a route file"


def test_a_fifo_named_like_a_route_file_is_refused_without_blocking(tmp_path: Path) -> None:
    base = folder(tmp_path)
    os.mkfifo(base / "pipe.yaml")
    assert only_error(base, "pipe.yaml") == "1: not a regular file"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file of mode 000")
def test_an_unreadable_file_is_an_error(tmp_path: Path) -> None:
    base = folder(tmp_path, {"locked.yaml": ORDERS})
    (base / "locked.yaml").chmod(0)
    assert only_error(base, "locked.yaml") == "1: cannot read: Permission denied"


# -- text --------------------------------------------------------------------------------------


def test_a_control_character_is_an_error_at_its_line(tmp_path: Path) -> None:
    base = folder(tmp_path)
    (base / "bad.yaml").write_bytes("id: bad\nname: é\nx: 'a\x01b'\n".encode())
    assert only_error(base, "bad.yaml") == "3: YAML syntax: control characters are not allowed"


def test_bytes_that_are_not_utf8_are_an_error(tmp_path: Path) -> None:
    base = folder(tmp_path)
    (base / "bad.yaml").write_bytes(b"id: bad\nx: \xff\xfe\n")
    assert only_error(base, "bad.yaml") == "1: not UTF-8 text (invalid start byte)"


def test_every_case_at_once_is_one_config_error_per_file(tmp_path: Path) -> None:
    base = folder(
        tmp_path,
        {
            "a.yaml": "x: !!python/name:os.system\n",
            "b.yaml": "x: !!int abc\n",
            "c.yaml": "? [a, b]: 1\n",
            "d.yaml": "x: " + "[" * 1000 + "]" * 1000 + "\n",
        },
    )
    (base / "e.yaml").symlink_to("/etc/shadow")
    (base / "f.yaml").symlink_to(base / "none.yaml")
    (base / "g.yaml").mkdir()
    rendered = errors_of(base)
    assert [line.split(":", 1)[0] for line in rendered] == [
        str(base / f"{name}.yaml") for name in "abcdefg"
    ]
    with pytest.raises(ConfigError):  # what an embedder catches: the same tree
        load_config(base)

"""Write small routes folders for tests."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent


def write_routes(
    folder: Path,
    sink_url: str,
    *,
    route_extra: str = "",
    transform: str | None = None,
    key: str = "/customer",
) -> Path:
    """A folder: source ``shop`` (type /type, key /id), connector ``sink``, route ``orders``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sources.yaml").write_text("shop:\n  type: /type\n  idempotency_key: /id\n")
    (folder / "connectors.yaml").write_text(
        f"sink:\n  kind: http\n  base_url: {sink_url}\n  timeout: 5s\n"
    )
    steps = f"  - transform: {transform}\n" if transform else ""
    (folder / "orders.yaml").write_text(
        dedent(
            f"""\
            id: orders
            from: {{source: shop, type: order.created}}
            key: {key}
            steps:
            """
        )
        + steps
        + "  - to: {connector: sink, path: /orders}\n"
        + dedent(route_extra)
    )
    return folder

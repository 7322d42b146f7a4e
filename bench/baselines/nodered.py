"""Node-RED running ``nodered_flow.json``: http in -> function (the transform) -> http request.

The flow answers the webhook after the sink answered (like the point-to-point forwarder); the
function node is ``order_to_canonical`` in JavaScript. Node-RED itself is installed into
``bench/peers`` (git-ignored) by ``make bench-peers``; without it the baseline is skipped.

``python -m bench.baselines.nodered --port P --target URL`` writes the flow (with the sink URL) and
a settings file (editor off, warnings only) into a temporary user dir and ``exec``s Node-RED.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PEERS = HERE.parent / "peers"
RED_JS = PEERS / "node_modules" / "node-red" / "red.js"
FLOW = HERE / "nodered_flow.json"

_SETTINGS = """module.exports = {
    flowFile: "flows.json",
    httpAdminRoot: false,
    disableEditor: true,
    credentialSecret: false,
    logging: {console: {level: "warn", metrics: false, audit: false}},
    httpNodeMaxRequestSize: "5mb"
};
"""


def unavailable() -> str | None:
    """Why the Node-RED baseline cannot run here, or None when it can."""
    if not RED_JS.exists():
        return f"{RED_JS.relative_to(HERE.parent.parent)} absent: run `make bench-peers`"
    if shutil.which("node") is None:
        return "node is not on PATH"
    return None


def version() -> str | None:
    """The installed Node-RED version."""
    try:
        document: dict[str, Any] = json.loads((RED_JS.parent / "package.json").read_text())
    except (OSError, ValueError):
        return None
    found = document.get("version")
    return str(found) if found else None


def flow(target: str) -> list[dict[str, Any]]:
    """The flow with its http request node pointed at ``target``."""
    nodes: list[dict[str, Any]] = json.loads(FLOW.read_text())
    for node in nodes:
        if node.get("type") == "http request":
            node["url"] = target
    return nodes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Node-RED baseline")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--target", required=True, help="the sink URL the flow POSTs to")
    parser.add_argument("--user-dir", type=Path, default=None, help="default: a new temp dir")
    args = parser.parse_args(argv)
    reason = unavailable()
    if reason is not None:
        raise SystemExit(reason)
    user_dir = args.user_dir or Path(tempfile.mkdtemp(prefix="interlock-bench-nodered-"))
    user_dir.mkdir(parents=True, exist_ok=True)
    (user_dir / "flows.json").write_text(json.dumps(flow(args.target)))
    (user_dir / "settings.js").write_text(_SETTINGS)
    node = shutil.which("node") or "node"
    argv_ = [node, str(RED_JS), "--port", str(args.port), "--userDir", str(user_dir)]
    os.execv(node, [*argv_, "--settings", str(user_dir / "settings.js"), "flows.json"])


if __name__ == "__main__":
    main()

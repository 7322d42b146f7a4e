"""The public names of ``router`` and ``router.plugin`` are pinned: changing them is deliberate.

``router`` resolves its names lazily, and ``router.plugin`` (what a component imports) must stay
light: neither loads LMDB, pykka or prometheus until the engine is asked for.
"""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

import router
import router.plugin

PUBLIC = [
    "Ack",
    "ConfigError",
    "DeliveryError",
    "Engine",
    "IngressError",
    "InterlockError",
    "PermanentError",
    "RouterConfig",
    "Settings",
    "TransientError",
    "UnavailableError",
    "load_config",
]
PLUGIN = [
    "ConfigError",
    "Connector",
    "ConnectorFactory",
    "DeliveryError",
    "Duration",
    "OutboundRequest",
    "Page",
    "PermanentError",
    "Pointer",
    "SignatureError",
    "TransformFn",
    "TransientError",
    "Verified",
    "Verifier",
    "VerifierFactory",
    "get_logger",
    "register",
    "transform",
]
HEAVY = ("lmdb", "pykka", "prometheus_client", "aiohttp")


def test_all_is_pinned_and_sorted() -> None:
    assert router.__all__ == PUBLIC
    assert sorted(router.__all__) == router.__all__
    assert len(set(router.__all__)) == len(router.__all__)


def test_every_public_name_is_importable() -> None:
    module = importlib.import_module("router")
    for name in PUBLIC:
        value = getattr(module, name)
        assert value is not None, name
        assert not inspect.ismodule(value), name


def test_nothing_public_is_left_out_of_all() -> None:
    for name in PUBLIC:
        getattr(router, name)  # resolve every lazy name first
    exported = {
        name
        for name, value in vars(router).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert exported - {"annotations", "Any", "TYPE_CHECKING"} == set(PUBLIC)


def test_the_plugin_api_is_pinned_and_all_of_it_importable() -> None:
    assert router.plugin.__all__ == PLUGIN
    for name in PLUGIN:
        assert getattr(router.plugin, name) is not None, name


def test_the_component_packages_import_nothing_of_the_router_but_the_plugin_api() -> None:
    import ast
    from pathlib import Path

    root = Path(router.__file__).parents[1] / "actors"
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("router"):
                assert node.module == "router.plugin", f"{path}: from {node.module} import ..."
            if isinstance(node, ast.Import):
                for alias in node.names:
                    assert not alias.name.startswith("router"), f"{path}: import {alias.name}"


def test_importing_the_plugin_api_or_the_package_loads_no_engine_dependency() -> None:
    probe = (
        "import sys, router, router.plugin, router.durations; "
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]", done.stdout


def test_the_errors_exported_form_one_tree() -> None:
    for name in ("ConfigError", "IngressError", "UnavailableError", "DeliveryError"):
        assert issubclass(getattr(router, name), router.InterlockError), name
    assert issubclass(router.TransientError, router.DeliveryError)
    assert issubclass(router.PermanentError, router.DeliveryError)

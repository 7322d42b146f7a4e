"""The public names of ``router`` are pinned: changing them is a deliberate, visible decision."""

from __future__ import annotations

import importlib
import inspect

import router

PUBLIC = [
    "Ack",
    "ConfigError",
    "Connector",
    "DeliveryError",
    "Engine",
    "IngressError",
    "InterlockError",
    "OutboundRequest",
    "PermanentError",
    "RouterConfig",
    "Settings",
    "TransientError",
    "UnavailableError",
    "load_config",
    "register_connector",
    "register_transform",
    "register_verifier",
    "transform",
]


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
    exported = {
        name
        for name, value in vars(router).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert exported == set(PUBLIC)


def test_the_errors_exported_form_one_tree() -> None:
    for name in ("ConfigError", "IngressError", "UnavailableError", "DeliveryError"):
        assert issubclass(getattr(router, name), router.InterlockError), name
    assert issubclass(router.TransientError, router.DeliveryError)
    assert issubclass(router.PermanentError, router.DeliveryError)

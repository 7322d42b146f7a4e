"""The routes-folder loader: every problem is a ConfigError at the right ``file:line: field``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from textwrap import dedent

import pytest
from pydantic import BaseModel

from router.config import ConfigErrors, RouterConfig, load_config
from router.config.models import ToStep, TransformStep
from router.errors import ConfigError
from router.registry import register_transform

SOURCES = """\
shop:
  type: /type
  idempotency_key: /id
  verify: {scheme: none}
"""

CONNECTORS = """\
sink:
  kind: http
  base_url: ${SINK_URL:-http://127.0.0.1:9}
  timeout: 2s
"""

ORDERS = """\
id: orders
from:
  source: shop
  type: [order.created, order.updated]
key: /customer
steps:
  - to: {connector: sink, path: /orders}
retry:
  initial: 250ms
  max: 1m
"""


class CfgShopOrder(BaseModel):
    id: str
    amount: int


class CfgLedgerEntry(BaseModel):
    reference: str
    cents: int


class CfgInvoice(BaseModel):
    number: str


def cfg_order_to_ledger(order: CfgShopOrder) -> CfgLedgerEntry:
    return CfgLedgerEntry(reference=order.id, cents=order.amount * 100)


def cfg_ledger_to_invoice(entry: CfgLedgerEntry) -> CfgInvoice:
    return CfgInvoice(number=entry.reference)


def cfg_invoice_to_ledger(invoice: CfgInvoice) -> CfgLedgerEntry:
    return CfgLedgerEntry(reference=invoice.number, cents=0)


register_transform("test_cfg.order_to_ledger", cfg_order_to_ledger)
register_transform("test_cfg.ledger_to_invoice", cfg_ledger_to_invoice)
register_transform("test_cfg.invoice_to_ledger", cfg_invoice_to_ledger)


def folder(
    base: Path,
    routes: Mapping[str, str],
    *,
    sources: str = SOURCES,
    connectors: str = CONNECTORS,
) -> Path:
    """Write sources.yaml, connectors.yaml and one ``<name>.yaml`` per route text."""
    base.mkdir(parents=True, exist_ok=True)
    (base / "sources.yaml").write_text(sources)
    (base / "connectors.yaml").write_text(connectors)
    for name, text in routes.items():
        (base / f"{name}.yaml").write_text(dedent(text))
    return base


def errors_of(base: Path, env: Mapping[str, str] | None = None) -> list[ConfigError]:
    with pytest.raises(ConfigErrors) as caught:
        load_config(base, env={} if env is None else env)
    return caught.value.errors


def only_error(base: Path, env: Mapping[str, str] | None = None) -> ConfigError:
    errors = errors_of(base, env)
    assert len(errors) == 1, [e.render() for e in errors]
    return errors[0]


def load(base: Path, env: Mapping[str, str] | None = None) -> RouterConfig:
    return load_config(base, env={} if env is None else env)


# -- a valid folder ----------------------------------------------------------------------------


def test_a_valid_folder_loads(tmp_path: Path) -> None:
    chain = """\
        id: ledger
        from: {source: shop, type: '*'}
        steps:
          - transform: test_cfg.order_to_ledger
          - transform: test_cfg.ledger_to_invoice
          - to:
              connector: sink
              method: PUT
              path: /invoices
        """
    config = load(folder(tmp_path, {"orders": ORDERS, "ledger": chain}))

    assert config.base == tmp_path
    assert sorted(config.routes) == ["ledger", "orders"]
    assert sorted(config.sources) == ["shop"]
    assert sorted(config.connectors) == ["sink"]
    orders = config.routes["orders"]
    assert orders.from_.source == "shop"
    assert orders.from_.type == ["order.created", "order.updated"]
    assert orders.key == "/customer"
    assert orders.retry.initial == 0.25
    assert orders.retry.max == 60.0
    assert orders.target.connector == "sink"
    assert orders.target.path == "/orders"
    assert orders.target.method == "POST"
    ledger = config.routes["ledger"]
    assert ledger.transforms == ["test_cfg.order_to_ledger", "test_cfg.ledger_to_invoice"]
    assert isinstance(ledger.steps[0], TransformStep)
    assert isinstance(ledger.steps[-1], ToStep)
    assert ledger.target.method == "PUT"
    sink = config.connectors["sink"]
    assert sink.kind == "http"
    assert sink.settings.model_dump()["base_url"] == "http://127.0.0.1:9"
    assert sink.settings.model_dump()["timeout"] == 2.0
    assert config.sources["shop"].spec.verify is not None
    assert config.sources["shop"].verifier_settings is not None
    # scheme 'none' is accepted but flagged, with the file and line of the source.
    assert config.warnings == [
        f"{tmp_path / 'sources.yaml'}:1: source 'shop' uses scheme 'none'; use only on loopback"
    ]


def test_a_source_without_verify_is_a_warning_with_its_line(tmp_path: Path) -> None:
    sources = SOURCES + "github:\n  type: header:X-GitHub-Event\n"
    config = load(folder(tmp_path, {"orders": ORDERS}, sources=sources))
    assert "github" in config.sources
    assert config.sources["github"].verifier_settings is None
    assert (
        f"{tmp_path / 'sources.yaml'}:5: source 'github' has no `verify:`; use only on loopback"
        in config.warnings
    )


def test_an_unknown_kind_names_the_registered_ones_and_the_closest(tmp_path: Path) -> None:
    routes = {"nightly": "id: nightly\nkind: workflw\n"}
    with pytest.raises(ConfigErrors) as caught:
        load(folder(tmp_path, routes))
    assert [e.render() for e in caught.value.errors] == [
        f"{tmp_path / 'nightly.yaml'}:2: kind: unknown kind 'workflw'; did you mean 'workflow'?"
        " (known: alerts, job, reconciliation, request-reply, route, workflow)"
    ]


def test_an_unknown_transform_and_connector_kind_get_a_did_you_mean(tmp_path: Path) -> None:
    route = ORDERS.replace("steps:\n", "steps:\n  - transform: shopify.order_to_canonicl\n", 1)
    connectors = "sink:\n  kind: htp\n  base_url: http://127.0.0.1:9\n"
    with pytest.raises(ConfigErrors) as caught:
        load(folder(tmp_path, {"orders": route}, connectors=connectors))
    rendered = "\n".join(e.render() for e in caught.value.errors)
    assert "unknown connector kind 'htp'; did you mean 'http'? (known: " in rendered
    assert (
        "unknown transform 'shopify.order_to_canonicl'; did you mean 'shopify.order_to_canonical'?"
        in rendered
    )


def test_a_file_given_as_the_folder_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# not routes")
    with pytest.raises(ConfigError, match="not a routes folder") as caught:
        load_config(tmp_path / "README.md")
    assert caught.value.render().startswith(f"{tmp_path / 'README.md'}: not a routes folder")


def test_an_empty_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no route files here"):
        load_config(tmp_path)


def test_a_missing_folder_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such routes folder"):
        load_config(tmp_path / "nope")


# -- ${ENV} placeholders -----------------------------------------------------------------------


def test_env_placeholder_default_and_override(tmp_path: Path) -> None:
    route = """\
        id: orders
        from: {source: shop, type: order.created}
        steps:
          - to: {connector: sink, path: "/v1/${TENANT:-acme}/orders"}
        """
    base = folder(tmp_path, {"orders": route})

    defaults = load(base, env={})
    assert defaults.routes["orders"].target.path == "/v1/acme/orders"
    assert defaults.connectors["sink"].settings.model_dump()["base_url"] == "http://127.0.0.1:9"

    overridden = load(base, env={"TENANT": "globex", "SINK_URL": "https://sink.test:8443"})
    assert overridden.routes["orders"].target.path == "/v1/globex/orders"
    assert overridden.connectors["sink"].settings.model_dump()["base_url"] == (
        "https://sink.test:8443"
    )


def test_env_placeholder_default_applies_to_an_empty_variable_as_in_the_shell(
    tmp_path: Path,
) -> None:
    # `${X:-d}` is the shell's "unset or empty" form (`${X-d}` would be "unset" only).
    config = load(folder(tmp_path, {"orders": ORDERS}), env={"SINK_URL": ""})
    assert config.connectors["sink"].settings.model_dump()["base_url"] == "http://127.0.0.1:9"


def test_env_placeholder_without_default_must_be_set(tmp_path: Path) -> None:
    route = """\
        id: orders
        from: {source: shop, type: order.created}
        steps:
          - to:
              connector: sink
              path: ${MISSING_ENV}
        """
    base = folder(tmp_path, {"orders": route})
    error = only_error(base)
    file = str(base / "orders.yaml")
    assert (error.file, error.line, error.field) == (file, 6, "steps.0.to.path")
    assert error.render() == (
        f"{file}:6: steps.0.to.path: environment variable MISSING_ENV is not set"
        " (write ${MISSING_ENV:-x})"
    )
    assert load(base, env={"MISSING_ENV": "/here"}).routes["orders"].target.path == "/here"


# -- each error kind, at its line --------------------------------------------------------------


def test_yaml_syntax_error_is_reported_at_its_line(tmp_path: Path) -> None:
    route = """\
        id: orders
        from:
          source: shop
         type: order.created
        steps:
          - to: {connector: sink}
        """
    base = folder(tmp_path, {"orders": route})
    error = only_error(base)
    assert error.file == str(base / "orders.yaml")
    assert error.line == 4
    assert error.message.startswith("YAML syntax:")
    assert error.render().startswith(f"{base / 'orders.yaml'}:4: YAML syntax:")


def test_a_tab_is_a_syntax_error_at_its_line(tmp_path: Path) -> None:
    base = folder(tmp_path, {"orders": "id: orders\nfrom: {source: shop, type: x}\n\tsteps: []\n"})
    error = only_error(base)
    assert (error.file, error.line) == (str(base / "orders.yaml"), 3)


def test_unknown_route_field_is_forbidden_at_its_line(tmp_path: Path) -> None:
    route = """\
        id: orders
        from: {source: shop, type: order.created}
        colour: blue
        steps:
          - to: {connector: sink}
        """
    base = folder(tmp_path, {"orders": route})
    error = only_error(base)
    file = base / "orders.yaml"
    assert error.render() == f"{file}:3: colour: Extra inputs are not permitted"


def test_unknown_field_inside_a_step_is_reported_at_that_key(tmp_path: Path) -> None:
    route = """\
        id: orders
        from: {source: shop, type: order.created}
        steps:
          - to:
              connector: sink
              colour: blue
        """
    base = folder(tmp_path, {"orders": route})
    rendered = [e.render() for e in errors_of(base)]
    assert f"{base / 'orders.yaml'}:6: steps.0.to.colour: Extra inputs are not permitted" in (
        rendered
    )


def test_bad_duration_is_reported_at_its_line(tmp_path: Path) -> None:
    route = """\
        id: orders
        from: {source: shop, type: order.created}
        steps:
          - to: {connector: sink}
        retry:
          max_attempts: 3
          initial: 5 parsecs
        """
    base = folder(tmp_path, {"orders": route})
    error = only_error(base)
    assert (error.line, error.field) == (7, "retry.initial")
    assert "invalid duration '5 parsecs'" in error.message
    assert error.render().startswith(f"{base / 'orders.yaml'}:7: retry.initial: ")


def test_an_absurdly_large_duration_is_a_config_error_not_a_crash(tmp_path: Path) -> None:
    huge = "1" + "0" * 400  # an integer too large for a float
    route = (
        "id: orders\nfrom: {source: shop, type: order.created}\n"
        f"steps:\n  - to: {{connector: sink}}\nretry:\n  initial: {huge}\n"
    )
    base = folder(tmp_path, {"orders": route})
    error = only_error(base)
    assert (error.line, error.field) == (6, "retry.initial")


def test_route_id_must_equal_the_file_stem(tmp_path: Path) -> None:
    route = """\
        description: the id is on line 2
        id: invoices
        from: {source: shop, type: order.created}
        steps:
          - to: {connector: sink}
        """
    base = folder(tmp_path, {"orders": route})
    error = only_error(base)
    assert error.render() == (
        f"{base / 'orders.yaml'}:2: id: route id 'invoices' must equal the file stem 'orders'"
    )


def test_unknown_source_transform_and_connector_references(tmp_path: Path) -> None:
    route = """\
        id: orders
        from:
          type: order.created
          source: ghost
        steps:
          - transform: test_cfg.order_to_ledger
          - transform: nobody.nothing
          - to:
              path: /x
              connector: phantom
        """
    base = folder(tmp_path, {"orders": route})
    file = base / "orders.yaml"
    assert sorted(e.render() for e in errors_of(base)) == [
        f"{file}:10: steps.2.to.connector: unknown connector 'phantom'",
        f"{file}:4: from.source: unknown source 'ghost'",
        f"{file}:7: steps.1.transform: unknown transform 'nobody.nothing'",
    ]


def test_unknown_connector_kind_is_reported_at_the_kind_line(tmp_path: Path) -> None:
    connectors = CONNECTORS + "pigeon:\n  base_url: http://coop\n  kind: carrier-pigeon\n"
    base = folder(tmp_path, {"orders": ORDERS}, connectors=connectors)
    error = only_error(base)
    assert (error.file, error.line, error.field) == (
        str(base / "connectors.yaml"),
        7,
        "pigeon.kind",
    )
    assert error.message.startswith("unknown connector kind 'carrier-pigeon' (known: ")
    assert "http" in error.message


def test_bad_connector_settings_are_checked_against_the_kind_model(tmp_path: Path) -> None:
    connectors = "sink:\n  kind: http\n  base_url: ftp://nope\n"
    base = folder(tmp_path, {"orders": ORDERS}, connectors=connectors)
    [error] = [e for e in errors_of(base) if e.file == str(base / "connectors.yaml")]
    assert (error.line, error.field) == (3, "sink.base_url")
    assert "should match pattern" in error.message


def test_unknown_verify_scheme_is_reported_at_the_scheme_line(tmp_path: Path) -> None:
    sources = SOURCES + "github:\n  type: header:X-GitHub-Event\n  verify:\n    scheme: pgp\n"
    base = folder(tmp_path, {"orders": ORDERS}, sources=sources)
    error = only_error(base)
    assert (error.file, error.line, error.field) == (
        str(base / "sources.yaml"),
        8,
        "github.verify.scheme",
    )
    assert error.message.startswith("unknown scheme 'pgp' (known: ")
    assert "none" in error.message


def test_a_source_without_a_type_is_reported_at_its_name(tmp_path: Path) -> None:
    sources = SOURCES + "blind:\n  idempotency_key: /id\n"
    base = folder(tmp_path, {"orders": ORDERS}, sources=sources)
    error = only_error(base)
    assert (error.line, error.field) == (5, "blind")
    assert "needs `type`" in error.message


def test_duplicate_yaml_keys_are_reported_at_the_second_key(tmp_path: Path) -> None:
    route = """\
        id: orders
        from:
          source: shop
          type: order.created
          source: shop
        steps:
          - to: {connector: sink}
        """
    base = folder(tmp_path, {"orders": route})
    error = only_error(base)
    assert (error.file, error.line) == (str(base / "orders.yaml"), 5)
    assert error.message == "duplicate key 'source'"


def test_duplicate_yaml_key_error_names_its_field(tmp_path: Path) -> None:
    route = """\
        id: orders
        from:
          source: shop
          type: order.created
          source: shop
        steps:
          - to: {connector: sink}
        """
    base = folder(tmp_path, {"orders": route})
    error = only_error(base)
    assert error.render() == f"{base / 'orders.yaml'}:5: from.source: duplicate key 'source'"


def test_a_recursive_yaml_alias_is_a_config_error(tmp_path: Path) -> None:
    route = """\
        id: orders
        from: {source: shop, type: order.created}
        description: &loop [*loop]
        steps:
          - to: {connector: sink}
        """
    base = folder(tmp_path, {"orders": route})
    error = only_error(base)
    assert (error.file, error.line) == (str(base / "orders.yaml"), 3)


STEP_ORDER_CASES = {
    "two deliveries": "  - to: {connector: sink}\n  - to: {connector: sink}\n",
    "transform after delivery": (
        "  - to: {connector: sink}\n  - transform: test_cfg.order_to_ledger\n"
    ),
    "no delivery": "  - transform: test_cfg.order_to_ledger\n",
}


@pytest.mark.parametrize("steps", STEP_ORDER_CASES.values(), ids=STEP_ORDER_CASES.keys())
def test_steps_must_end_in_exactly_one_to_reported_at_steps(tmp_path: Path, steps: str) -> None:
    route = "id: orders\nfrom: {source: shop, type: order.created}\nsteps:\n" + steps
    base = folder(tmp_path, {"orders": route})
    error = only_error(base)
    assert "steps must end with exactly one `to:` step" in error.message
    assert (error.file, error.line, error.field) == (str(base / "orders.yaml"), 3, "steps")


def test_empty_steps_are_reported_at_steps(tmp_path: Path) -> None:
    route = "id: orders\nfrom: {source: shop, type: order.created}\nsteps: []\n"
    base = folder(tmp_path, {"orders": route})
    error = only_error(base)
    assert (error.line, error.field) == (3, "steps")


def test_several_errors_in_several_files_are_all_reported(tmp_path: Path) -> None:
    sources = SOURCES + "github:\n  type: header:X-GitHub-Event\n  verify: {scheme: pgp}\n"
    connectors = CONNECTORS + "pigeon:\n  kind: carrier-pigeon\n"
    broken_syntax = "id: broken\nfrom: [\n"
    bad_duration = """\
        id: slow
        from: {source: shop, type: x}
        steps:
          - to: {connector: sink}
        retry: {initial: forever}
        """
    base = folder(
        tmp_path,
        {"orders": ORDERS, "broken": broken_syntax, "slow": bad_duration},
        sources=sources,
        connectors=connectors,
    )
    errors = errors_of(base)
    where = sorted((Path(e.file or "").name, e.line) for e in errors)
    assert where == [
        ("broken.yaml", 3),
        ("connectors.yaml", 6),
        ("slow.yaml", 5),
        ("sources.yaml", 7),
    ]
    with pytest.raises(ConfigErrors) as caught:
        load_config(base, env={})
    rendered = caught.value.render().splitlines()
    assert rendered == [e.render() for e in errors]
    assert str(caught.value) == caught.value.render()


# -- transform chains --------------------------------------------------------------------------


def test_a_consistent_transform_chain_passes(tmp_path: Path) -> None:
    route = """\
        id: ledger
        from: {source: shop, type: order.created}
        steps:
          - transform: test_cfg.order_to_ledger
          - transform: test_cfg.ledger_to_invoice
          - transform: test_cfg.invoice_to_ledger
          - to: {connector: sink}
        """
    config = load(folder(tmp_path, {"ledger": route}))
    assert config.routes["ledger"].transforms == [
        "test_cfg.order_to_ledger",
        "test_cfg.ledger_to_invoice",
        "test_cfg.invoice_to_ledger",
    ]


def test_a_chain_whose_types_do_not_line_up_is_reported_at_the_second_step(
    tmp_path: Path,
) -> None:
    route = """\
        id: ledger
        from: {source: shop, type: order.created}
        steps:
          - transform: test_cfg.order_to_ledger
          - transform: test_cfg.invoice_to_ledger
          - to: {connector: sink}
        """
    base = folder(tmp_path, {"ledger": route})
    error = only_error(base)
    assert error.render() == (
        f"{base / 'ledger.yaml'}:5: steps.1.transform: test_cfg.invoice_to_ledger takes "
        "CfgInvoice but test_cfg.order_to_ledger returns CfgLedgerEntry"
    )

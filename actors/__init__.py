"""Interlock's shipped components: inbound verifiers, transforms and outbound connectors.

Importing this package registers every component with :mod:`router.registry`; the router finds it
through the ``interlock.plugins`` entry point. The vendor simulators and the demo are packages of
their own (``simulators/``, ``demo/``): a production router never imports them.
"""

from actors import connectors, sources, transforms

__all__ = ["connectors", "sources", "transforms"]

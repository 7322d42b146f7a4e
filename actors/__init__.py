"""Interlock's shipped components: inbound verifiers, transforms, outbound connectors, simulators.

Importing this package registers every component with :mod:`router.registry`; the router finds it
through the ``interlock.plugins`` entry point.
"""

from actors import connectors, simulators, sources, transforms

__all__ = ["connectors", "simulators", "sources", "transforms"]

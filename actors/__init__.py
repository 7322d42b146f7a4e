"""Interlock's shipped components: inbound verifiers, transforms, outbound connectors, simulators.

Importing this package registers every component with :mod:`router.registry`; the router finds it
through the ``interlock.plugins`` entry point.
"""

from actors import connectors, simulators, sources, transforms
from actors import demo as demo  # registers `interlock demo` (not a component: no __all__ entry)

__all__ = ["connectors", "simulators", "sources", "transforms"]

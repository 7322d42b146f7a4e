"""The kernel's own features of a routes folder; importing this registers their file kinds.

It is loaded through the ``interlock.plugins`` entry point, as a component package is, so the
loader (which loads plugins before it reads a folder) never imports a feature, and a feature may
import the loader's types without a cycle. A new kind of file is a module of its feature,
registered here by one import.
"""

from router.alerts import kind as alerts_kind
from router.config import route_kind
from router.jobs import kind as job_kind
from router.request_reply import kind as request_reply_kind
from router.workflows import kind as workflow_kind

__all__ = ["alerts_kind", "job_kind", "request_reply_kind", "route_kind", "workflow_kind"]

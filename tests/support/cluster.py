"""Settings of one in-process cluster instance, as the cluster tests start them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from router import Settings


def cluster_settings(
    data_dir: Path, url: str, prefix: str, name: str, *, partitions: int = 4, **extra: Any
) -> Settings:
    """Instance ``name`` of the cluster on backbone ``url`` under ``prefix`` (demo mode, a short
    lease); ``extra`` are further settings (unknown ones are ignored, as Settings does)."""
    return Settings(
        data_dir=data_dir,
        demo=True,
        backbone=url,
        backbone_prefix=prefix,
        partitions=partitions,
        instance=name,
        lease_s=1.5,
        **extra,
    )

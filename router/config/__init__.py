"""Route files: models, loader and type checks."""

from router.config.loaded import ConnectorConfig, RouterConfig, SourceConfig
from router.config.loader import ConfigErrors, load_config, refuse_demo_secrets
from router.config.models import RetryPolicy, RouteSpec, SourceSpec

__all__ = [
    "ConfigErrors",
    "ConnectorConfig",
    "RetryPolicy",
    "RouteSpec",
    "RouterConfig",
    "SourceConfig",
    "SourceSpec",
    "load_config",
    "refuse_demo_secrets",
]

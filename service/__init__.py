"""msp-nlp inline-check service: an HTTP API over the msp_nlp library (see README, "Inline-check service").

``create_app()`` builds the FastAPI app; ``msp-nlp serve`` runs it with uvicorn.  Imports are lazy so that reading
the configuration (``service.config``) does not load spaCy.
"""

from __future__ import annotations

__all__ = ["create_app", "Settings", "ConfigError", "hash_key"]


def __getattr__(name: str):
    if name == "create_app":
        from .app import create_app
        return create_app
    if name in ("Settings", "ConfigError", "hash_key"):
        from . import config
        return getattr(config, name)
    raise AttributeError(f"module 'service' has no attribute {name!r}")

"""Service configuration: environment variables (``MSP_NLP_*``) and API keys.

API keys are never stored or configured in clear: each key is given as ``name:scope1+scope2:sha256hex`` (the SHA-256
of the key's UTF-8 bytes, in hex), either in ``MSP_NLP_API_KEYS`` (comma-separated) or one per line in the file named
by ``MSP_NLP_API_KEYS_FILE`` (``#`` starts a comment).  ``python -m service hash-key`` makes such a line.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

#: Scopes a key can hold. ``read``: check notes, read the schema and case flags; ``write``: record and delete case
#: findings.
SCOPES: tuple[str, ...] = ("read", "write")

DEFAULT_DB_URL = "sqlite:///msp-nlp-cases.sqlite"
DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
DEFAULT_MAX_NOTE_CHARS = 20_000
DEFAULT_MAX_BATCH = 50
#: Longest run of characters without whitespace a note may hold.  spaCy's tokenizer takes time quadratic in the
#: length of such a run when it is made of punctuation or emoji (a 20,000-character run: minutes); real notes have
#: no words this long, and the limit keeps the worst 20,000-character note to about a second and a half.
DEFAULT_MAX_WORD_CHARS = 300

_HEX64 = re.compile(r"[0-9a-f]{64}")
_NAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")


class ConfigError(ValueError):
    """The service configuration is unusable (the message says which variable and why; never a key)."""


def hash_key(key: str) -> str:
    """The SHA-256 hex digest of an API key, as configured in ``MSP_NLP_API_KEYS``."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ApiKey:
    name: str
    scopes: frozenset[str]
    sha256: bytes  # raw digest

    def line(self) -> str:
        return f"{self.name}:{'+'.join(sorted(self.scopes))}:{self.sha256.hex()}"


def parse_key(entry: str, where: str) -> ApiKey:
    """One ``name:scope1+scope2:sha256hex`` entry."""
    parts = entry.strip().split(":")
    if len(parts) != 3:
        raise ConfigError(f"{where}: an API key entry must be name:scope1+scope2:sha256hex (got {len(parts)} "
                          "colon-separated parts)")
    name, scopes, digest = (p.strip() for p in parts)
    if not _NAME.fullmatch(name):
        raise ConfigError(f"{where}: key name must be 1-64 letters, digits or _.@- characters")
    got = {s.strip() for s in scopes.split("+") if s.strip()}
    unknown = sorted(got - set(SCOPES))
    if not got or unknown:
        raise ConfigError(f"{where}: key {name!r} has {'unknown scopes ' + str(unknown) if unknown else 'no scope'}; "
                          f"scopes are {', '.join(SCOPES)} joined with '+'")
    digest = digest.lower()
    if not _HEX64.fullmatch(digest):
        raise ConfigError(f"{where}: key {name!r}: the third part must be the 64-hex-digit SHA-256 of the key "
                          "(python -m service hash-key), not the key itself")
    return ApiKey(name, frozenset(got), bytes.fromhex(digest))


def parse_keys(spec: str, where: str = "MSP_NLP_API_KEYS") -> list[ApiKey]:
    keys = []
    for i, entry in enumerate(re.split(r"[,\n]", spec)):
        entry = entry.split("#", 1)[0].strip()
        if entry:
            keys.append(parse_key(entry, f"{where} entry {i + 1}"))
    names = [k.name for k in keys]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"{where}: duplicate key names {dup}")
    return keys


def match_key(presented: str, keys: list[ApiKey]) -> ApiKey | None:
    """The configured key whose hash matches ``presented``: every hash is compared (constant time per comparison,
    no early exit), so timing tells nothing about which or how many keys exist."""
    digest = hashlib.sha256(presented.encode("utf-8", "surrogatepass")).digest()
    found = None
    for k in keys:
        if hmac.compare_digest(digest, k.sha256):
            found = k
    return found


def _int(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        v = int(raw.replace("_", ""))
    except ValueError:
        raise ConfigError(f"{name} must be a whole number (got {raw[:20]!r})") from None
    if v < minimum:
        raise ConfigError(f"{name} must be at least {minimum} (got {v})")
    return v


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false (got {raw[:20]!r})")


@dataclass
class Settings:
    """Everything the service can be configured with (``from_env`` reads the ``MSP_NLP_*`` variables)."""

    api_keys: list[ApiKey] = field(default_factory=list)
    db_url: str = DEFAULT_DB_URL
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_note_chars: int = DEFAULT_MAX_NOTE_CHARS
    max_batch: int = DEFAULT_MAX_BATCH
    max_word_chars: int = DEFAULT_MAX_WORD_CHARS
    cors_origins: list[str] = field(default_factory=list)
    docs: bool = True
    log_level: str = "info"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        keys = parse_keys(env.get("MSP_NLP_API_KEYS", ""))
        path = env.get("MSP_NLP_API_KEYS_FILE", "").strip()
        if path:
            try:
                text = Path(path).read_text(encoding="utf-8")
            except OSError as e:
                raise ConfigError(f"MSP_NLP_API_KEYS_FILE: cannot read {path}: {e.strerror}") from None
            keys += parse_keys(text, f"MSP_NLP_API_KEYS_FILE ({path})")
            names = [k.name for k in keys]
            if len(set(names)) != len(names):
                raise ConfigError("API key names must be unique across MSP_NLP_API_KEYS and MSP_NLP_API_KEYS_FILE")
        s = cls(
            api_keys=keys,
            db_url=env.get("MSP_NLP_DB_URL", "").strip() or DEFAULT_DB_URL,
            max_body_bytes=_int(env, "MSP_NLP_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, 1024),
            max_note_chars=_int(env, "MSP_NLP_MAX_NOTE_CHARS", DEFAULT_MAX_NOTE_CHARS, 1),
            max_batch=_int(env, "MSP_NLP_MAX_BATCH", DEFAULT_MAX_BATCH, 1),
            max_word_chars=_int(env, "MSP_NLP_MAX_WORD_CHARS", DEFAULT_MAX_WORD_CHARS, 1),
            cors_origins=[o.strip() for o in env.get("MSP_NLP_CORS_ORIGINS", "").split(",") if o.strip()],
            docs=_bool(env, "MSP_NLP_DOCS", True),
            log_level=env.get("MSP_NLP_LOG_LEVEL", "info").strip().lower() or "info",
        )
        if s.log_level not in ("critical", "error", "warning", "info", "debug"):
            raise ConfigError("MSP_NLP_LOG_LEVEL must be one of critical, error, warning, info, debug")
        if "*" in s.cors_origins:
            raise ConfigError("MSP_NLP_CORS_ORIGINS: list the allowed origins explicitly; '*' is not allowed")
        return s

"""``python -m service hash-key [--name NAME] [--scopes read+write] [--generate]``

Prints an ``MSP_NLP_API_KEYS`` entry (``name:scopes:sha256hex``) for a key read from standard input (one line,
not echoed on a terminal), or for a new random key (``--generate``: the key is printed once, keep it safe).
"""

from __future__ import annotations

import argparse
import getpass
import secrets
import sys

from .config import ConfigError, hash_key, parse_key


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m service", description="msp-nlp service helpers")
    sub = p.add_subparsers(dest="command", required=True)
    h = sub.add_parser("hash-key", help="print an MSP_NLP_API_KEYS entry for an API key")
    h.add_argument("--name", default="client", help="key name (letters, digits, _.@-; default: client)")
    h.add_argument("--scopes", default="read", help="scopes joined with '+': read, write (default: read)")
    h.add_argument("--generate", action="store_true", help="generate a new random key and print it once")
    args = p.parse_args(argv)
    if args.generate:
        key = secrets.token_urlsafe(32)
    elif sys.stdin.isatty():
        key = getpass.getpass("API key: ")
    else:
        key = sys.stdin.readline().rstrip("\r\n")
    if not key.strip():
        print("python -m service: error: empty key", file=sys.stderr)
        return 2
    entry = f"{args.name}:{args.scopes}:{hash_key(key.strip())}"
    try:
        parse_key(entry, "entry")
    except ConfigError as e:
        print(f"python -m service: error: {e}", file=sys.stderr)
        return 2
    if args.generate:
        print(f"key (shown once, give it to the client): {key}", file=sys.stderr)
    print(entry)
    return 0


if __name__ == "__main__":
    sys.exit(main())

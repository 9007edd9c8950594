#!/usr/bin/env python
"""Thin wrapper: ``python scripts/bench.py ARGS`` is ``raysvc bench ARGS`` (see docs/bench.md)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.bench.cli import main

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

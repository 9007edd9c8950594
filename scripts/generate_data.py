"""Generate the project's datasets (same as `raysvc data generate`).

Usage: python scripts/generate_data.py [--out DIR] [--force]
"""

from services.cli import app

if __name__ == "__main__":
    app(["data", "generate", *__import__("sys").argv[1:]])

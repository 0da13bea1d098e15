"""The `abkit` command line. Each area registers its commands on the shared app."""

from abkit.cli import core  # noqa: F401  (registers commands)
from abkit.cli.app import app

for _module in ("data", "analysis", "generate", "train", "simulate", "text", "report", "demo", "serve"):
    try:
        __import__(f"abkit.cli.{_module}")
    except ModuleNotFoundError as _exc:  # an area not yet present in this checkout
        if _exc.name != f"abkit.cli.{_module}":
            raise

__all__ = ["app"]

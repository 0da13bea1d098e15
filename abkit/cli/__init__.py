"""The `abkit` command line. Each area's module registers its commands on the shared app when imported."""

from abkit.cli import (  # noqa: F401  (importing a module registers its commands)
    analysis,
    core,
    data,
    demo,
    generate,
    report,
    serve,
    simulate,
    text,
    train,
    ui,
)
from abkit.cli.app import app

__all__ = ["app"]

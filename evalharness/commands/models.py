"""The ``evalharness models`` command."""

from __future__ import annotations

import click

from evalharness.commands.common import handle_errors


@click.command()
@handle_errors
def models() -> None:
    """List the built-in models and whether they are installed and converted."""
    from evalharness.errors import ModelError
    from evalharness.modelstore import builtin_gguf, cache_dir
    from evalharness.specs import BUILTIN_MODELS

    click.echo(f"model cache: {cache_dir()}")
    for name, info in BUILTIN_MODELS.items():
        try:
            status = str(builtin_gguf(name))
        except ModelError as exc:
            status = f"missing ({exc})"
        click.echo(f"{name:24} {info['kind']:9} {status}")

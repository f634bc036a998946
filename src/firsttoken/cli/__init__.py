"""The `firsttoken` command line: each subcommand lives in a module of its own."""

from __future__ import annotations

import click

from .._version import __version__


@click.group()
@click.version_option(__version__, prog_name="firsttoken")
def main() -> None:
    """firsttoken: fast Claude endpoints, and an emulator of the Messages API to test them with."""


def _register() -> None:
    from . import bench, demo, emulate

    for command in (emulate.emulate, demo.demo, bench.bench):
        main.add_command(command)


_register()

if __name__ == "__main__":
    main()

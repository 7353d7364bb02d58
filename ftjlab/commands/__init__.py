"""Subcommands of ``ftjlab``: one module per command, each with ``register(subparsers)``.

``ftjlab.cli`` discovers every module here, so adding a command never touches the CLI core.
A module's ``register`` adds its parser and sets ``func`` to a callable taking the parsed
arguments and returning an exit code; ``ORDER`` (optional) sorts the help listing.
"""

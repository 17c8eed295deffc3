"""The ``scheduler`` command: one click group, one module per subcommand."""

from __future__ import annotations

import sys

import click

from scheduler import __version__
from scheduler.cli.console import make_console
from scheduler.errors import InputError

EXIT_OK = 0
EXIT_INVALID = 1  # plan invalid / inventory infeasible
EXIT_BAD_INPUT = 2


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="scheduler")
def cli() -> None:
    """Offline DRS/DPM scheduling optimizer for virtualization clusters."""


def _register() -> None:
    # Imported here so that each subcommand module stays independent of the others.
    from scheduler.cli import commands

    for command in commands.all_commands():
        cli.add_command(command)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: input errors become exit status 2 with every problem listed."""
    _register()
    try:
        # Subcommands return their exit status (0 ok, 1 invalid/infeasible, 2 bad input).
        status = cli.main(args=argv, standalone_mode=False)
    except InputError as exc:
        err_console = make_console(stderr=True)
        err_console.print(f"[bold red]error:[/] {len(exc.problems)} input problem(s)")
        for problem in exc.problems:
            err_console.print(f"  {problem}", markup=False)
        sys.exit(EXIT_BAD_INPUT)
    except click.exceptions.Abort:
        make_console(stderr=True).print("aborted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_BAD_INPUT if exc.exit_code == 2 else exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    sys.exit(status if isinstance(status, int) else EXIT_OK)


if __name__ == "__main__":  # pragma: no cover
    main()

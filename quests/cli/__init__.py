"""The ``quests`` command line: thin commands over public library functions.

Each command parses its arguments, calls one public function and formats
the result. Heavy modules (numba kernels, ase) are imported inside the
commands so ``quests --help`` stays instant.
"""

import os
import sys

import click

from quests import __version__
from quests._errors import QuestsError

__all__ = ["cli", "main"]


class QuestsGroup(click.Group):
    """Turns our exceptions into one-line ``error:`` messages.

    Bad input (any ``QuestsError``) exits with 2, other failures with 1. Set
    ``QUESTS_DEBUG=1`` to see the traceback of an unexpected failure.
    """

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except QuestsError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(2)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("error: interrupted", err=True)
            ctx.exit(130)
        except MemoryError:
            click.echo("error: out of memory (try a smaller selection or --index)", err=True)
            ctx.exit(1)
        except Exception as exc:  # noqa: BLE001 - last line of defence
            if os.environ.get("QUESTS_DEBUG"):
                raise
            click.echo(f"error: {type(exc).__name__}: {exc}".splitlines()[0], err=True)
            ctx.exit(1)


@click.group(cls=QuestsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="quests")
def cli():
    """Information content of atomistic data (QUESTS).

    Entropy, diversity and per-atom differential entropy of atomic
    environments, from any structure file ase.io reads.
    """


def main(argv=None):
    """Console-script entry point."""
    return cli.main(args=argv, prog_name="quests")


# register commands (each module adds its commands to ``cli``)
from quests.cli import _dataset, _entropy, _thermo, _uncertainty, _zenn  # noqa: E402,F401

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

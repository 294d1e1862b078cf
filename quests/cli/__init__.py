"""The ``quests`` command line: thin commands over public library functions.

Each command parses its arguments, calls one public function and formats
the result. Heavy modules (numba kernels, ase) are imported inside the
commands so ``quests --help`` stays instant.
"""

import os
import sys
import warnings

import click

from quests import __version__, _interrupt
from quests._interrupt import Terminated
from quests._errors import QuestsError

__all__ = ["cli", "main"]


class QuestsGroup(click.Group):
    """Turns our exceptions into one-line ``error:`` messages.

    Bad input (any ``QuestsError``) exits with 2, other failures with 1. Set
    ``QUESTS_DEBUG=1`` to see the traceback of an unexpected failure.
    Warnings raised during the command are held back and printed once each,
    as ``warning:`` lines, after it succeeds; a failed command prints only
    its error line.
    """

    def invoke(self, ctx):
        with _interrupt.stop_on_signals(), warnings.catch_warnings(record=True) as caught:
            # every warning meant for users, each printed once; deprecations of the
            # libraries underneath stay silent, as Python's default filters keep them
            for category in (UserWarning, RuntimeWarning):
                warnings.simplefilter("always", category)
            try:
                result = self._invoke(ctx)
            except click.exceptions.Exit as exc:
                if exc.exit_code in (0, 3):  # 3: a success that says something (watch halted)
                    _print_warnings(caught)
                raise
            _print_warnings(caught)
            return result

    def make_context(self, info_name, args, parent=None, **extra):
        """Options of the group itself (``quests --bogus``) are parsed here, before
        ``invoke``: their usage errors get the same one line; a bare group name
        (``quests zenn``) prints its help."""
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help())
            raise click.exceptions.Exit(0) from None
        except click.exceptions.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else info_name
            click.echo(f"error: {exc.format_message()} (see '{where} -h')", err=True)
            raise click.exceptions.Exit(2) from None

    def _invoke(self, ctx):
        try:
            result = super().invoke(ctx)
            _interrupt.check()  # raised inside C code that cleared it: still a termination
            return result
        except QuestsError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(2)
        except click.exceptions.UsageError as exc:
            # a bad option value or a missing argument: one line like every other refusal
            where = exc.ctx.command_path if exc.ctx is not None else "quests"
            click.echo(f"error: {exc.format_message()} (see '{where} -h')", err=True)
            ctx.exit(2)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Terminated:
            click.echo("error: terminated", err=True)
            ctx.exit(143)
        except KeyboardInterrupt:
            click.echo("error: interrupted", err=True)
            ctx.exit(130)
        except MemoryError:
            click.echo("error: out of memory (select fewer frames, or use fewer threads with -j)",
                       err=True)
            ctx.exit(1)
        except Exception as exc:  # noqa: BLE001 - last line of defence
            if os.environ.get("QUESTS_DEBUG"):
                raise
            click.echo(f"error: {type(exc).__name__}: {exc}".splitlines()[0], err=True)
            ctx.exit(1)


def _print_warnings(caught):
    seen = set()
    for item in caught:
        text = str(item.message).strip().splitlines()[0] if str(item.message).strip() else ""
        if text and text not in seen:
            seen.add(text)
            click.echo(f"warning: {text}", err=True)


#: commands that run no numba kernel (the compile notice would be wrong there)
KERNEL_FREE_COMMANDS = {"zentropy", "fit", "predict"}


def _compile_notice(ctx):
    """Say so on stderr when a first run is about to compile the kernels (10-15 s of
    silence): registered here, given just before the first kernel runs, so a command
    refused on its inputs prints its error line alone."""
    if ctx.params.get("quiet") or ctx.command.name in KERNEL_FREE_COMMANDS:
        return
    from quests._kernels import notify_before_compiling

    notify_before_compiling(lambda: click.echo(
        "compiling the numba kernels: the first run after installing takes about 10-15 s "
        "longer (later runs load them from the cache)", err=True))


class QuestsCommand(click.Command):
    """Checks, before any work, that every output differs from the inputs and the other
    outputs and has a suffix the command writes, and that matplotlib is there for a
    figure; says when the kernels will be compiled."""

    def invoke(self, ctx):
        from quests.cli._options import PLOT_SUFFIXES, OutputOption, check_output
        from quests.io import check_distinct_paths, spec_paths

        written, inputs = [], []
        for param in self.params:
            value = ctx.params.get(param.name)
            if isinstance(param, OutputOption):
                values = value if isinstance(value, (tuple, list)) else [value]
                written += [(param, v) for v in values if v]
            else:
                inputs += spec_paths(value)
        check_distinct_paths([("/".join(param.opts), v) for param, v in written], inputs)
        for param, path in written:
            if param.suffixes:
                check_output(path, param.suffixes, ctx.params.get("overwrite", False))
        plots = list(dict.fromkeys("/".join(param.opts) for param, _ in written
                                   if param.suffixes == PLOT_SUFFIXES))
        if plots:
            from quests._optional import require

            # before the work, not after a long computation
            require("matplotlib", "/".join(plots), "plot")
        _compile_notice(ctx)
        try:
            return super().invoke(ctx)
        finally:
            from quests._kernels import notify_before_compiling

            notify_before_compiling(None)


QuestsGroup.command_class = QuestsCommand
QuestsGroup.group_class = type     # subgroups (quests zenn) are QuestsGroups too


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
from quests.cli import _dataset, _entropy, _map, _thermo, _uncertainty, _zenn  # noqa: E402,F401

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

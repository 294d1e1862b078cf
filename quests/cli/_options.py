"""Options and helpers shared by the commands: one declaration of each option.

Defaults come from ``quests._defaults``, choices from the registries
(``quests.kde.BACKENDS``), so a command never spells them again.
"""

import functools
from pathlib import Path

import click

from quests._defaults import BACKEND_NAMES, DEFAULT_BANDWIDTH, DEFAULT_CUTOFF, DEFAULT_K, \
    DEFAULT_KDE_NEIGHBORS, KDE_METHODS


#: what a plot can be written as (matplotlib's savefig picks the format by suffix)
PLOT_SUFFIXES = {".png", ".pdf", ".svg"}


class OutputOption(click.Option):
    """An option naming a file the command writes. Before the command runs, every output
    is checked to differ from the inputs and the other outputs, and, where ``suffixes`` is
    given, to be writable with one of them (``quests.cli.QuestsCommand``)."""

    def __init__(self, *args, suffixes=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.suffixes = set(suffixes)


def output_option(*flags, suffixes=(), **kwargs):
    """A ``click.option`` naming an output file (``OutputOption``)."""
    return click.option(*flags, cls=OutputOption, default=None, suffixes=suffixes, **kwargs)


def plot_option(help="Write a figure.", flag="--plot", name="plot_path"):
    """--plot FILE.png (or another figure option): a figure, checked before any work."""
    return output_option(flag, name, suffixes=PLOT_SUFFIXES, metavar="FILE.png", help=help)


def stacked(*options):
    """One decorator applying click ``options`` in the order given (as --help lists them)."""
    def decorate(func):
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def scheduler_option(command):
    """--scheduler ADDRESS|local: the command runs inside ``quests.distributed.dask_engine``.

    Default ``$QUESTS_SCHEDULER``; without either, nothing of dask is imported.
    """
    @functools.wraps(command)
    def wrapper(*args, scheduler=None, **kwargs):
        from quests.distributed import scheduled

        with scheduled(scheduler):
            return command(*args, **kwargs)

    return click.option(
        "--scheduler", default=None, metavar="ADDRESS|local",
        help="Run descriptors and kernel sums on a dask cluster (tcp://host:8786), or "
             "'local' for a LocalCluster on this machine [default: $QUESTS_SCHEDULER, "
             "else no dask].")(wrapper)


_FRAMES_HELP = ("Frames to read from each file (e.g. 0:100, -1, ::10); FILE@SLICE overrides "
                "it per file.")


def descriptor_options(func=None, *, frames_option="--index", frames_help=_FRAMES_HELP,
                       only=("k", "cutoff", "species", "index", "format")):
    """-k/--neighbors, -c/--cutoff, --species, --index (frame selection), --format.

    ``frames_option`` renames the frame selection where ``--index`` means
    something else (the reference index of ``quests uncertainty``);
    ``frames_help`` says which files it selects from; ``only`` picks some of them.
    """
    if func is None:
        return lambda f: descriptor_options(f, frames_option=frames_option,
                                            frames_help=frames_help, only=only)
    options = {
        "k": click.option("-k", "--neighbors", "k", type=int, default=DEFAULT_K,
                          show_default=True, help="Nearest neighbours per environment."),
        "cutoff": click.option("-c", "--cutoff", type=float, default=DEFAULT_CUTOFF,
                               show_default=True, help="Cutoff radius, Å."),
        "species": click.option("--species", default=None, metavar="all|Z,Z,...",
                                help="Multicomponent descriptor: 'all' species present, or "
                                     "atomic numbers."),
        "index": click.option(frames_option, "index", default=None, metavar="SLICE",
                              help=frames_help),
        "format": click.option("--format", "fmt", default=None,
                               help="aselmdb, db or an ase.io format (guessed from the "
                                    "suffix if omitted)."),
    }
    func = stacked(*(options[name] for name in only))(func)
    return select_option(func) if "format" in only else func


def select_option(command):
    """--select QUERY: ASE databases (.db, .aselmdb) give only the rows the ase.db query
    accepts, for every file the command reads (``quests.io.rows_selected``)."""
    @functools.wraps(command)
    def wrapper(*args, select=None, **kwargs):
        from quests.io import names_database, rows_selected

        if select and not names_database([v for v in (*args, *kwargs.values())
                                          if isinstance(v, (str, tuple, list))]):
            from quests._errors import InvalidInputError

            raise InvalidInputError("--select chooses rows of ASE databases (.db, .aselmdb), "
                                    "and no file given is one")
        with rows_selected(select):
            return command(*args, **kwargs)

    return click.option(
        "--select", default=None, metavar="QUERY",
        help="Rows of ASE databases (.db, .aselmdb) to read: an ase.db query such as "
             "'config_type=bulk,natoms<50' (the frame selection counts among them); other "
             "files are read whole.")(wrapper)


def kde_method_option(name="method", help="exact: sum over every reference environment; "
                      "approx: over the m nearest found by an index (an upper bound on dH); "
                      "auto: exact while that is fast."):
    """--method auto|exact|approx, passed to the command as ``name``."""
    return click.option("--method", name, type=click.Choice(KDE_METHODS), default="auto",
                        show_default=True, help=help)


#: -t/--threshold: dH (nats) above which an environment is novel
threshold_option = click.option("-t", "--threshold", type=float, default=0.0,
                                show_default=True,
                                help="dH above which an environment is novel, nats.")


#: --method, -m/--candidates, --backend, -t/--threshold: how dH is computed
query_options = stacked(
    kde_method_option(),
    click.option("-m", "--candidates", "n_neighbors", type=int, default=DEFAULT_KDE_NEIGHBORS,
                 show_default=True, help="m, neighbours per query (approx)."),
    click.option("--backend", type=click.Choice(BACKEND_NAMES), default=BACKEND_NAMES[0],
                 show_default=True, help="Nearest-neighbour index (approx)."),
    threshold_option)


def _check_jobs(ctx, param, value):
    if value == 0:
        raise click.BadParameter("0 threads would do nothing: give a count >= 1, or -1 (all "
                                 "cores), -2 (all but one), ...", ctx, param)
    return value


def _one_output(ctx, param, value):
    if len(value) > 1:
        raise click.BadParameter(f"this command writes one output; given {len(value)} "
                                 f"({', '.join(value)})", ctx, param)
    return value[0] if value else None


def common_options(output=None, output_required=False, output_multiple=False, suffixes=()):
    """-j/--jobs and -q/--quiet; with ``output`` (its help text) also -o and --overwrite,
    -o taking the ``suffixes`` given (checked before any work)."""
    options = [
        click.option("-j", "--jobs", "n_jobs", type=int, default=None, callback=_check_jobs,
                     help="Threads (default: all cores; -1 all, -2 all but one, ...)."),
        click.option("-q", "--quiet", is_flag=True, help="No progress bars."),
    ]
    if output is not None:
        options[1:1] = [
            # always collected as a list: click keeps only the last of a repeated
            # single-valued option, and a second -o must not vanish without a word
            click.option("-o", "--output", cls=OutputOption, suffixes=suffixes,
                         required=output_required, multiple=True,
                         callback=None if output_multiple else _one_output, help=output),
            click.option("--overwrite", is_flag=True, help="Replace an existing output file."),
        ]
    return stacked(*options)


def _parse_species(text):
    from quests._errors import InvalidInputError

    if text is None or text == "all":
        return text
    try:
        species = [int(z) for z in text.split(",") if z.strip()]
    except ValueError:
        raise InvalidInputError(
            f"--species must be 'all' or atomic numbers like 29,79; got {text!r}"
        ) from None
    bad = [z for z in species if not 1 <= z <= 118]
    if not species or bad:
        raise InvalidInputError(f"--species takes atomic numbers from 1 to 118; got {text!r}")
    if len(set(species)) < len(species):
        raise InvalidInputError(f"--species names an element twice: {text!r}")
    return species


def check_output(path, allowed, overwrite=False):
    """Fail before any work if ``path`` has a suffix not in ``allowed`` or cannot be written."""
    from quests._errors import OutputError
    from quests.io import check_output_path

    check_output_path(path, overwrite)
    if Path(path).suffix.lower() not in allowed:
        raise OutputError(f"output {path}: unsupported suffix (use {', '.join(sorted(allowed))})")


def _xyz_writers(stack, outputs, overwrite, fields, keep=None):
    """One writer per .xyz output: ``writer(row, atoms, *per_atom)`` writes the frame with
    ``fields(row, *per_atom)`` = (info, arrays), for frames whose row ``keep`` accepts, to
    an atomic output entered on ``stack`` (committed when the stack closes, or none is)."""
    from quests.io import atomic_output, write_frame

    def writer(handle):
        return lambda row, atoms, *per_atom: (keep is None or keep(row)) and write_frame(
            handle, atoms, *fields(row, *per_atom))

    return [writer(stack.enter_context(atomic_output(path, overwrite)))
            for path in outputs if path and path.lower().endswith(".xyz")]


def _run(analysis, trajectory, index, fmt):
    """``analysis`` run over the frames of TRAJ[@SLICE]; refused if none is selected."""
    from quests.io import ReadError, iter_structures

    analysis.run(iter_structures(trajectory, index, fmt))
    if not analysis.results.rows:
        raise ReadError(f"{trajectory}: no frames selected")
    return analysis


def _write_result(outputs, document, rows, overwrite):
    """Each .json output: ``document``; each .csv: the table ``rows`` (other suffixes are
    the caller's)."""
    from quests.io import write_json, write_table

    for path in [outputs] if isinstance(outputs, str) else outputs or []:
        if path.lower().endswith(".json"):
            write_json(path, document, overwrite)
        elif path.lower().endswith(".csv"):
            write_table(path, rows, overwrite=overwrite)


def _plot(path, make, overwrite):
    """Save ``make(quests.plotting)`` to ``path`` when a path is given: matplotlib is
    imported only then."""
    if path is not None:
        from quests import plotting
        from quests.io import save_figure

        save_figure(make(plotting), path, overwrite)


def _report_written(paths, quiet):
    """'wrote PATH' on stderr for every output given (None entries skipped)."""
    if not quiet:
        for path in paths:
            if path:
                click.echo(f"wrote {path}", err=True)


def _asked(ctx, k, cutoff, species):
    """k, cutoff and species as the user asked for them: None where left at the default,
    so that a descriptor file or an index may supply its own (``quests.io.read_datasets``)."""
    def given(name, value):
        return None if ctx.get_parameter_source(name).name == "DEFAULT" else value

    return {"k": given("k", k), "cutoff": given("cutoff", cutoff),
            "species": _parse_species(species)}


class BandwidthOrAuto(click.ParamType):
    """A positive bandwidth, 1/Å, or 'auto' (chosen from the reference data)."""

    name = "H|auto"

    def convert(self, value, param, ctx):
        if isinstance(value, float) or value == "auto":
            return value
        try:
            number = float(value)
        except ValueError:
            self.fail(f"{value!r} is neither a bandwidth (1/Å) nor 'auto'", param, ctx)
        if not 0 < number < float("inf"):
            self.fail(f"a bandwidth must be a positive number; got {value}", param, ctx)
        return number


def bandwidth_option(several=False, volume=None, auto=False):
    """-b/--bandwidth, 1/Å: one value; ``several`` to repeat it; ``volume='allowed'`` or
    ``'default'`` to accept the word 'volume' (h(V) at each frame's volume per atom),
    as the default with ``'default'``; ``auto`` to accept 'auto' (chosen from the
    reference by leave-one-structure-out likelihood)."""
    if volume is not None:
        default = "volume" if volume == "default" else str(DEFAULT_BANDWIDTH)
        metavar = "volume|H" if volume == "default" else "H|volume"
        return click.option("-b", "--bandwidth", default=default, show_default=True,
                            metavar=metavar,
                            help="Kernel bandwidth, 1/Å, or 'volume' for h(V) at each "
                                 "frame's volume per atom.")
    kind, also = (BandwidthOrAuto(), "; 'auto': chosen from the reference alone") if auto \
        else (float, "")
    if several:
        return click.option("-b", "--bandwidth", type=kind, multiple=True,
                            default=[DEFAULT_BANDWIDTH], show_default=True,
                            help=f"Kernel bandwidth, 1/Å (repeat for several){also}.")
    return click.option("-b", "--bandwidth", type=kind, default=DEFAULT_BANDWIDTH,
                        show_default=True, help=f"Kernel bandwidth, 1/Å{also}.")

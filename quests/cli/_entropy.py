"""``quests entropy``, ``quests descriptors`` and ``quests demo``."""

import functools
from pathlib import Path

import click
import numpy as np

from quests._defaults import DEFAULT_BANDWIDTH, DEFAULT_CUTOFF, DEFAULT_K
from quests.cli import cli


#: what a plot can be written as (matplotlib's savefig picks the format by suffix)
_PLOT_SUFFIXES = {".png", ".pdf", ".svg"}

#: descriptor files (``quests descriptors``): arrays in one .npz, or a chunked .zarr store
DESCRIPTOR_SUFFIXES = (".npz", ".zarr")


def scheduler_option(command):
    """--scheduler ADDRESS|local: the command runs inside ``quests.distributed.dask_engine``.

    Default ``$QUESTS_SCHEDULER``; without either, nothing of dask is imported.
    """
    @functools.wraps(command)
    def wrapper(*args, scheduler=None, **kwargs):
        from quests.distributed import resolve_scheduler

        address = resolve_scheduler(scheduler)
        if address is None:
            return command(*args, **kwargs)
        from quests.distributed import dask_engine

        with dask_engine(address):
            return command(*args, **kwargs)

    return click.option(
        "--scheduler", default=None, metavar="ADDRESS|local",
        help="Run descriptors and kernel sums on a dask cluster (tcp://host:8786), or "
             "'local' for a LocalCluster on this machine [default: $QUESTS_SCHEDULER, "
             "else no dask].")(wrapper)


_FRAMES_HELP = ("Frames to read from each file (e.g. 0:100, -1, ::10); FILE@SLICE overrides "
                "it per file.")


def descriptor_options(func=None, *, frames_option="--index", frames_help=_FRAMES_HELP):
    """-k/--neighbors, -c/--cutoff, --species, --index (frame selection), --format.

    ``frames_option`` renames the frame selection where ``--index`` means
    something else (the reference index of ``quests uncertainty``);
    ``frames_help`` says which files it selects from.
    """
    if func is None:
        return lambda f: descriptor_options(f, frames_option=frames_option,
                                            frames_help=frames_help)
    options = [
        click.option("-k", "--neighbors", "k", type=int, default=DEFAULT_K, show_default=True,
                     help="Nearest neighbours per environment."),
        click.option("-c", "--cutoff", type=float, default=DEFAULT_CUTOFF, show_default=True,
                     help="Cutoff radius, Å."),
        click.option("--species", default=None, metavar="all|Z,Z,...",
                     help="Multicomponent descriptor: 'all' species present, or atomic numbers."),
        click.option(frames_option, "index", default=None, metavar="SLICE",
                     help=frames_help),
        click.option("--format", "fmt", default=None, help="ase.io format (guessed if omitted)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


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


def common_options(output=None, output_required=False, output_multiple=False):
    """-j/--jobs and -q/--quiet; with ``output`` (its help text) also -o and --overwrite."""
    options = [
        click.option("-j", "--jobs", "n_jobs", type=int, default=None, callback=_check_jobs,
                     help="Threads (default: all cores; -1 all, -2 all but one, ...)."),
        click.option("-q", "--quiet", is_flag=True, help="No progress bars."),
    ]
    if output is not None:
        options[1:1] = [
            # always collected as a list: click keeps only the last of a repeated
            # single-valued option, and a second -o must not vanish without a word
            click.option("-o", "--output", required=output_required, multiple=True,
                         callback=None if output_multiple else _one_output, help=output),
            click.option("--overwrite", is_flag=True, help="Replace an existing output file."),
        ]

    def decorate(func):
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def _check_top(top):
    """--top N: how many rows a summary lists; a negative N is a mistake, not 'all but'."""
    from quests._errors import InvalidInputError

    if top < 0:
        raise InvalidInputError(f"--top must be 0 or more; got {top}")


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


def _check_output(output, allowed, overwrite=False):
    """Fail before any work if ``output`` has a suffix not in ``allowed`` or cannot be written."""
    from quests._errors import OutputError
    from quests.io import check_output_path

    if output is None:
        return
    check_output_path(output, overwrite)
    if Path(output).suffix.lower() not in allowed:
        raise OutputError(
            f"output {output}: unsupported suffix (use {', '.join(sorted(allowed))})"
        )


def _report_written(paths, quiet):
    """'wrote PATH' on stderr for every output given (None entries skipped)."""
    if not quiet:
        for path in paths:
            if path:
                click.echo(f"wrote {path}", err=True)


def _given(ctx, names=("k", "cutoff")):
    """The parameters among ``names`` that the user set on the command line."""
    return {name for name in names if ctx.get_parameter_source(name).name != "DEFAULT"}


def _frame_label(label, spec):
    """'frame 3' for 'PATH frame 3' of the file TRAJ[@SLICE] a table is about: the file is
    named once, in the summary line, not in every row."""
    from quests.io import split_index

    prefix = f"{split_index(spec)[0]} "
    return label[len(prefix):] if label.startswith(prefix) else label


def _align(header, lines):
    """A plain-text table: first column left-aligned, the others right-aligned."""
    widths = [max(len(header[c]), *(len(line[c]) for line in lines)) for c in range(len(header))]
    fmt = "  ".join(["{:<%d}" % widths[0]] + ["{:>%d}" % w for w in widths[1:]])
    return "\n".join([fmt.format(*header)] + [fmt.format(*line) for line in lines])


def _dataset_names(specs):
    """Unique short names: the file stem, the full spec where stems clash, then #2, #3..."""
    from quests.io import split_index

    names = [Path(split_index(s)[0]).stem for s in specs]
    names = [str(s) if names.count(n) > 1 else n for s, n in zip(specs, names)]
    unique = []
    for name in names:
        candidate, copy = name, 1
        while candidate in unique:
            copy += 1
            candidate = f"{name}#{copy}"
        unique.append(candidate)
    return unique


def _load(specs, index, fmt, settings, given, verbose, counts=None, numbers=None):
    """dict name -> structures, or stored descriptors for .npz files.

    ``settings`` holds k, cutoff and species; descriptor files must agree
    with the settings the user gave, and lend theirs to those not given (so
    structure files in the same run are described the same way). A dict
    ``counts`` receives, per descriptor file, the rows of each selected
    structure; a dict ``numbers``, per descriptor file, the atomic number of
    each selected row (None where the file does not record them).
    """
    from quests._errors import InvalidInputError
    from quests.io import DescriptorStore, as_slice, read_descriptors, read_structures, \
        split_index

    datasets = {}
    for name, spec in zip(_dataset_names(specs), specs):
        path, idx = split_index(spec, index)
        if Path(path).suffix.lower() not in DESCRIPTOR_SUFFIXES:
            datasets[name] = read_structures(spec, index=index, format=fmt, verbose=verbose)
            continue
        if _lazy(path, idx, counts):
            x = DescriptorStore(path)  # read block by block by the dask workers
            meta, frame_of_row = x.metadata, None
            row_numbers = x.column("numbers") if numbers is not None else None
        else:
            x, meta, frame_of_row, row_numbers = read_descriptors(path, return_numbers=True)
        for key in ("k", "cutoff", "species"):
            stored = meta.get(key)
            if key in given and stored != settings[key]:
                raise InvalidInputError(
                    f"{path} holds descriptors with {key}={stored}, not {settings[key]}"
                )
            settings[key] = stored
            given.add(key)
        selected = np.ones(x.shape[0], dtype=bool)
        if idx != ":":
            frames = np.arange(int(frame_of_row.max()) + 1)[as_slice(idx)]
            selected = np.isin(frame_of_row, frames)
            x = x[selected]
            if x.shape[0] == 0:
                raise InvalidInputError(f"{path}: index {idx} selects no frame")
            row_numbers = None if row_numbers is None else row_numbers[selected]
        if numbers is not None:
            numbers[name] = row_numbers
        if counts is not None:
            counts[name] = np.unique(frame_of_row[selected], return_counts=True)[1]
        datasets[name] = x
    return datasets


def _lazy(path, idx, counts):
    """Leave a .zarr store on disk (the dask workers read it) rather than load it: only
    inside a dask engine, for the whole store, when no per-structure counts are asked."""
    from quests import _engine

    return (_engine.current() is not None and Path(path).suffix.lower() == ".zarr"
            and idx == ":" and counts is None)


def _combined(datasets, option):
    """All datasets as one descriptor array, or one list of structures (never a mix)."""
    from quests._errors import InvalidInputError

    from quests.io import DescriptorStore

    parts = list(datasets.values())
    stored = [isinstance(p, (np.ndarray, DescriptorStore)) for p in parts]
    if all(stored):
        # one store stays on disk; several parts are joined in memory
        return parts[0] if len(parts) == 1 else np.vstack(parts)
    if any(stored):
        raise InvalidInputError(f"{option} files must be all structure files or all "
                                "descriptor (.npz) files")
    return [s for p in parts for s in p]


def _format_table(report):
    header = ("dataset", "structures", "environments", "h", "H (nats)", "ln N", "D (nats)",
              "time (s)")
    lines = []
    for row in report.rows:
        hs = report.parameters["bandwidth"]
        hs = hs if isinstance(hs, list) else [hs]
        entropies = row.entropy if isinstance(row.entropy, list) else [row.entropy]
        diversities = row.diversity if isinstance(row.diversity, list) else [row.diversity]
        for h, H, D in zip(hs, entropies, diversities):
            lines.append((row.name, str(row.n_structures or "-"), str(row.n_environments),
                          f"{h:g}", f"{H:.4f}", f"{row.max_entropy:.4f}", f"{D:.4f}",
                          f"{row.seconds:.2f}"))
    return _align(header, lines)


def run_entropy(specs, *, k, cutoff, bandwidth, species, index, fmt, n_jobs, output,
                overwrite, quiet, k_given=False, cutoff_given=False):
    """Shared by ``entropy`` and ``demo``: load, compute, print, write."""
    from quests.io import write_json
    from quests.report import entropy_report

    bandwidth = bandwidth[0] if len(bandwidth) == 1 else list(bandwidth)
    entropy_report.check_params(k=k, cutoff=cutoff, bandwidth=bandwidth, n_jobs=n_jobs)
    settings = {"k": k, "cutoff": cutoff, "species": _parse_species(species)}
    given = {key for key, flag in (("k", k_given), ("cutoff", cutoff_given),
                                   ("species", species is not None)) if flag}
    _check_output(output, {".json"}, overwrite)
    datasets = _load(specs, index, fmt, settings, given, verbose=not quiet)
    report = entropy_report(datasets, settings["k"], settings["cutoff"], bandwidth,
                            species=settings["species"], n_jobs=n_jobs, verbose=not quiet)
    click.echo(_format_table(report))
    if output is not None:
        write_json(output, {**report.to_dict(), "inputs": [str(s) for s in specs],
                            "index": index}, overwrite)
        if not quiet:
            click.echo(f"wrote {output}", err=True)
    return report


@cli.command()
@scheduler_option
@click.argument("files", nargs=-1, required=True, metavar="FILE[@SLICE] ...")
@descriptor_options
@click.option("-b", "--bandwidth", type=float, multiple=True, default=[DEFAULT_BANDWIDTH],
              show_default=True, help="Kernel bandwidth, 1/Å (repeat for several).")
@common_options(output="Write the results as JSON (.json).")
@click.pass_context
def entropy(ctx, files, k, cutoff, species, index, fmt, bandwidth, n_jobs, output, overwrite,
            quiet):
    """Entropy H, diversity D and size of each dataset (and of all together).

    FILE is any structure file ase.io reads, optionally with a frame
    selection (traj.xyz@0:100), or a descriptor file from `quests descriptors`.
    A table goes to stdout; -o result.json writes the same as JSON.
    """
    given = _given(ctx)
    run_entropy(files, k=k, cutoff=cutoff, bandwidth=bandwidth, species=species, index=index,
                fmt=fmt, n_jobs=n_jobs, output=output, overwrite=overwrite, quiet=quiet,
                k_given="k" in given, cutoff_given="cutoff" in given)


@cli.command()
@common_options()
def demo(n_jobs, quiet):
    """Run `quests entropy` on the embedded Cu datasets (EMT molecular dynamics)."""
    from quests.data import demo_files

    files = list(demo_files().values())
    click.echo("quests demo: entropy of Cu environments (ASE EMT): a perfect crystal, "
               "MD at 300, 900 and 1200 K, and a melt")
    click.echo("equivalent to: quests entropy " + " ".join(Path(f).name for f in files))
    click.echo("")
    run_entropy(files, k=DEFAULT_K, cutoff=DEFAULT_CUTOFF, bandwidth=[DEFAULT_BANDWIDTH],
                species=None, index=None, fmt=None, n_jobs=n_jobs, output=None,
                overwrite=False, quiet=quiet)


@cli.command()
@scheduler_option
@click.argument("files", nargs=-1, required=True, metavar="FILE[@SLICE] ...")
@descriptor_options
@click.option("--dtype", type=click.Choice(["float64", "float32"]), default="float64",
              show_default=True, help="Precision of the stored descriptors.")
@common_options(output="Output .npz file, or a chunked .zarr store for large sets.",
                output_required=True)
def descriptors(files, k, cutoff, species, index, fmt, dtype, n_jobs, output, overwrite, quiet):
    """Compute QUESTS descriptors of every atom and save them to OUTPUT (.npz or .zarr).

    The file holds `descriptors` (n_atoms, 2k-1), `structure_index` and
    `atom_index` (where each row comes from), `numbers`, `source` (which FILE)
    and the settings as JSON `metadata`. `quests entropy OUTPUT.npz` reads it.
    A .zarr output is a folder of blocks of whole frames, written block by block
    (by the workers with --scheduler) and marked complete only at the end;
    `quests entropy OUTPUT.zarr` reads it instead of recomputing.
    """
    from quests.descriptor import compute_descriptors, store_descriptors, structure_species
    from quests.io import check_store_path, read_structures, write_descriptors

    compute_descriptors.check_params(k=k, cutoff=cutoff, n_jobs=n_jobs)
    is_store = Path(output).suffix.lower() == ".zarr"
    if is_store:
        check_store_path(output, overwrite)
    else:
        _check_output(output, {".npz"}, overwrite)
    species = _parse_species(species)
    per_file = [read_structures(spec, index=index, format=fmt, verbose=not quiet)
                for spec in files]
    structures = [s for group in per_file for s in group]
    if species == "all":
        species = structure_species(structures)
    if is_store:
        sources = np.repeat(np.arange(len(files)), [len(g) for g in per_file])
        store_descriptors(structures, output, k, cutoff, species=species, dtype=dtype,
                          sources=sources, overwrite=overwrite, n_jobs=n_jobs,
                          verbose=not quiet,
                          metadata={"inputs": [str(f) for f in files], "index": index})
        n_rows = sum(len(s) for s in structures)
        click.echo(f"{n_rows} environments from {len(structures)} structures -> {output}")
        return
    x = compute_descriptors(structures, k, cutoff, species=species, dtype=dtype, n_jobs=n_jobs,
                            verbose=not quiet)
    sizes = np.array([len(s) for s in structures])
    source = np.repeat(np.repeat(np.arange(len(files)), [len(g) for g in per_file]), sizes)
    write_descriptors(
        output, x,
        {"k": k, "cutoff": cutoff, "species": species, "inputs": [str(f) for f in files],
         "index": index},
        overwrite,
        structure_index=np.repeat(np.arange(len(structures)), sizes),
        atom_index=np.concatenate([np.arange(n) for n in sizes]),
        numbers=np.concatenate([s.numbers for s in structures]),
        source=source,
    )
    click.echo(f"{x.shape[0]} environments x {x.shape[1]} features from {len(structures)} "
               f"structures -> {output}")

"""``quests compress``, ``quests select``, ``quests learning-curve``, ``quests active-learning``."""

from pathlib import Path

import click
import numpy as np

from quests._defaults import CATEGORY_FRACTIONS, CATEGORY_KEYS, COMPRESSION_METHODS, \
    DEFAULT_COMPRESSION_METHOD
from quests.cli import cli
from quests.cli._options import _asked, _parse_species, _plot, _write_result, plot_option, \
    _report_written, bandwidth_option, common_options, descriptor_options, kde_method_option, \
    scheduler_option, threshold_option

_SEED = click.option("--seed", type=int, default=0, show_default=True,
                     help="Seed of every random choice.")
_METHOD = kde_method_option("kde_method", "How entropies and dH are computed (auto: exact "
                            "while fast).")
_PLOT = plot_option()


def _parse_size(text):
    """'50' -> 50 structures, '0.1' or '10%' -> the fraction 0.1."""
    from quests._errors import InvalidInputError

    try:
        if text.endswith("%"):
            return float(text[:-1]) / 100.0
        return int(text) if text.lstrip("+-").isdigit() else float(text)
    except ValueError:
        raise InvalidInputError(
            f"size {text!r} is neither a count (50) nor a fraction (0.1 or 10%)") from None


def _descriptor_files(files, what):
    """True when every FILE is a descriptor file (.npz, .zarr), False when none is."""
    from quests._errors import InvalidInputError
    from quests.io import DESCRIPTOR_SUFFIXES, split_index

    stored = [Path(split_index(f)[0]).suffix.lower() in DESCRIPTOR_SUFFIXES for f in files]
    if any(stored) and not all(stored):
        raise InvalidInputError(f"{what} must be all structure files or all descriptor files "
                                "(.npz, .zarr)")
    return bool(stored) and all(stored)


def _read_described(files, index, fmt, asked, outputs, quiet):
    """Descriptor files as (X, counts, sources, settings); .xyz outputs are refused (they
    hold no structures to write)."""
    from quests._errors import InvalidInputError
    from quests.io import read_datasets

    if any(path.lower().endswith(".xyz") for path in outputs):
        raise InvalidInputError("-o FILE.xyz writes structures, and descriptor files hold "
                                "none: write .json or .csv (the chosen structures' numbers)")
    datasets = read_datasets(files, index, fmt, **asked, lazy=False, verbose=not quiet)
    return (*datasets.grouped("FILES"), datasets.settings)


def _reference_descriptors(reference, index, fmt, settings, quiet):
    """--reference as descriptors in the space ``settings`` asks for (a descriptor file must
    agree, structure files are described), and the settings that space has."""
    from quests.descriptor import compute_descriptors
    from quests.io import read_datasets

    datasets = read_datasets(reference, index, fmt, **settings, lazy=False, verbose=not quiet)
    data, space = datasets.combined("--reference"), datasets.settings
    if isinstance(data, list):
        data = compute_descriptors(data, space["k"], space["cutoff"], species=space["species"])
    return np.asarray(data), space


def _training_set(ctx, reference, index, fmt, k, cutoff, species, quiet):
    """The data already kept (--reference) beside structure files: structures, or the
    descriptors of descriptor files, whose settings then describe the candidates too.
    Returns (reference or None, its structure count or None, (k, cutoff, species))."""
    from quests.io import read_structure_files

    if not reference:
        return None, None, (k, cutoff, _parse_species(species))
    if _descriptor_files(reference, "--reference"):
        train, space = _reference_descriptors(reference, index, fmt,
                                              _asked(ctx, k, cutoff, species), quiet)
        return train, None, (space["k"], space["cutoff"], space["species"])
    train = read_structure_files(reference, index, fmt, not quiet)[0]
    return train, len(train), (k, cutoff, _parse_species(species))


def _write_selection(outputs, result, structures, sources, payload, overwrite, quiet):
    from quests.io import write_structures

    rows = result.rows(sources)
    for path in outputs:
        if path.lower().endswith(".xyz"):
            write_structures(path, [structures[i] for i in result.indices],
                             [{"quests_index": row["index"], "quests_rank": row["rank"]}
                              for row in rows], overwrite)
    _write_result(outputs, {**payload, **result.to_dict(), "selected": rows}, rows, overwrite)
    _report_written(outputs, quiet)


@cli.command()
@scheduler_option
@click.argument("files", nargs=-1, required=True, metavar="FILE[@SLICE] ...")
@click.option("-s", "--size", "size_text", required=True, metavar="N|FRACTION",
              help="Structures to keep: a count (50) or a fraction (0.1, 10%; 1.0 = all).")
@click.option("-m", "--method", type=click.Choice(COMPRESSION_METHODS),
              default=DEFAULT_COMPRESSION_METHOD,
              show_default=True, help="Selection method.")
@click.option("-r", "--reference", multiple=True, metavar="FILE[@SLICE]",
              help="Data already kept (msc_conditional); repeat for several files.")
@descriptor_options
@bandwidth_option()
@threshold_option
@_SEED
@click.option("--curve", is_flag=True,
              help="Also report H, D and overlap along the selection order.")
@click.option("--report", is_flag=True,
              help="Also print how many structures of each category the kept set holds, at "
                   + ", ".join(f"{100 * f:g}" for f in CATEGORY_FRACTIONS) + " % and at SIZE.")
@click.option("--key", default=None, metavar="INFO_KEY",
              help="The info key naming each structure's category for --report (implies it; "
                   "default: the first of " + ", ".join(CATEGORY_KEYS)
                   + " that every structure has).")
@_PLOT
@common_options(output="kept.xyz (the kept structures), report.json or selection.csv; "
                       "repeat for several.", output_multiple=True,
                suffixes={".xyz", ".json", ".csv"})
@click.pass_context
def compress(ctx, files, size_text, method, reference, k, cutoff, species, index, fmt,
             bandwidth, threshold, seed, curve, report, key, plot_path, n_jobs, output,
             overwrite, quiet):
    """Keep SIZE structures of FILES that carry the most information.

    Prints H, D and the overlap (fraction of all environments the kept set
    covers) before and after. -o kept.xyz writes the kept structures in
    selection order with their original info and arrays; -o report.json the
    indices, scores and metrics (and the curve with --curve or --plot).
    FILES may instead be descriptor files or stores (`quests descriptors`):
    then the report names the kept structures by their number in each file.
    """
    from quests.compression import compress as compress_structures
    from quests.compression import compress_descriptors
    from quests.io import read_structure_files

    outputs = list(output)
    size = _parse_size(size_text)
    if _descriptor_files(files, "FILES"):
        if report or key is not None:
            from quests._errors import InvalidInputError

            raise InvalidInputError("--report and --key read each structure's info, which "
                                    "descriptor files do not keep")
        X, counts, sources, settings = _read_described(
            files, index, fmt, _asked(ctx, k, cutoff, species), outputs, quiet)
        ref = _reference_descriptors(reference, index, fmt, settings, quiet)[0] \
            if reference else None
        result = compress_descriptors(X, counts, size, method, reference=ref,
                                      bandwidth=bandwidth, threshold=threshold, seed=seed,
                                      curve=curve or plot_path is not None, settings=settings,
                                      n_jobs=n_jobs, verbose=not quiet)
        structures = None
    else:
        structures, sources = read_structure_files(files, index, fmt, not quiet)
        ref, _, (k, cutoff, species) = _training_set(ctx, reference, index, fmt, k, cutoff,
                                                     species, quiet)
        result = compress_structures(
            structures, size, method, reference=ref, k=k, cutoff=cutoff,
            species=species, bandwidth=bandwidth, threshold=threshold,
            seed=seed, curve=curve or plot_path is not None,
            key=key if key is not None else ("auto" if report else None),
            labels=[f"structure {p} of {f}" for f, p in sources], n_jobs=n_jobs,
            verbose=not quiet)
    click.echo(result.summary())
    payload = {"inputs": {"files": list(files), "reference": list(reference)}}
    _write_selection(outputs, result, structures, sources, payload, overwrite, quiet)
    _plot(plot_path, lambda p: p.plot_selection_curves({method: result.curve},
                                                       result.before["entropy"]), overwrite)
    _report_written([plot_path], quiet)


@cli.command()
@click.argument("candidates", nargs=-1, required=True, metavar="CANDIDATES[@SLICE] ...")
@click.option("-r", "--reference", multiple=True, required=True, metavar="FILE[@SLICE]",
              help="The training set (repeat for several files).")
@click.option("-n", "--number", "size", type=int, required=True,
              help="Structures to select (the next batch).")
@descriptor_options
@bandwidth_option()
@threshold_option
@click.option("--top", type=click.IntRange(min=0), default=10, show_default=True,
              help="Picks listed in the summary.")
@common_options(output="next.xyz (the picks, in order), ranking.json or ranking.csv; "
                       "repeat for several.", output_multiple=True,
                suffixes={".xyz", ".json", ".csv"})
@click.pass_context
def select(ctx, candidates, reference, size, k, cutoff, species, index, fmt, bandwidth,
           threshold, top, n_jobs, output, overwrite, quiet):
    """Rank CANDIDATES by the information they add to the training set: the next DFT batch.

    Greedy (msc_conditional): each pick is the candidate whose most novel
    environment has the largest dH against the training set and the picks
    so far, plus its own entropy; candidates with nothing novel come last.
    The training set may be a descriptor file or store (`quests descriptors
    train.aselmdb -o train.zarr`); so may the candidates (then no .xyz output).
    """
    from quests.compression import compress as compress_structures
    from quests.compression import compress_descriptors
    from quests.io import read_structure_files

    outputs = list(output)
    if _descriptor_files(candidates, "CANDIDATES"):
        X, counts, sources, settings = _read_described(
            candidates, index, fmt, _asked(ctx, k, cutoff, species), outputs, quiet)
        structures = None
        train = _reference_descriptors(reference, index, fmt, settings, quiet)[0]
        result = compress_descriptors(X, counts, size, "msc_conditional", reference=train,
                                      bandwidth=bandwidth, threshold=threshold,
                                      settings=settings, n_jobs=n_jobs, verbose=not quiet)
        n_train = None
    else:
        structures, sources = read_structure_files(candidates, index, fmt, not quiet)
        train, n_train, (k, cutoff, species) = _training_set(ctx, reference, index, fmt, k,
                                                             cutoff, species, quiet)
        result = compress_structures(structures, size, "msc_conditional", reference=train,
                                     k=k, cutoff=cutoff, species=species,
                                     bandwidth=bandwidth, threshold=threshold, n_jobs=n_jobs,
                                     verbose=not quiet)
    click.echo(result.ranking(top, sources, n_train))
    _write_selection(outputs, result, structures, sources,
                     {"inputs": {"candidates": list(candidates), "reference": list(reference)}},
                     overwrite, quiet)


@cli.command(name="learning-curve")
@click.argument("files", nargs=-1, required=True, metavar="FILE[@SLICE] ...")
@descriptor_options
@bandwidth_option()
@click.option("--sizes", "sizes_text", default=None, metavar="N,N,...",
              help="Subset sizes (default: --n-sizes sizes from 1 to all, geometric).")
@click.option("--n-sizes", type=int, default=8, show_default=True)
@click.option("--seeds", "n_seeds", type=int, default=5, show_default=True,
              help="Random subsets per size.")
@click.option("--by", type=click.Choice(["structures", "environments"]), default="structures",
              show_default=True, help="Draw whole structures or single environments.")
@_METHOD
@_SEED
@_PLOT
@common_options(output="curve.json or curve.csv.", suffixes={".json", ".csv"})
@click.pass_context
def learning_curve(ctx, files, k, cutoff, species, index, fmt, bandwidth, sizes_text, n_sizes,
                   n_seeds, by, kde_method, seed, plot_path, n_jobs, output, overwrite, quiet):
    """Entropy of random subsets of FILES against size, and the information gap.

    FILES are structure files, or descriptor files from `quests descriptors`
    (whose structure boundaries they keep).

    Fits H(n) = a - b exp(-c (ln n)^2): a is the entropy more data of the
    same kind would reach; the gap a - H(N) says how much the full set
    still lacks.
    """
    from quests._errors import InvalidInputError
    from quests.compression import describe_structures
    from quests.io import read_datasets
    from quests.learning import learning_curve as measure

    sizes = None
    if sizes_text:
        try:
            sizes = [int(s) for s in sizes_text.split(",") if s.strip()]
        except ValueError:
            raise InvalidInputError(f"--sizes {sizes_text!r}: give integers, e.g. 1,10,100") \
                from None
    datasets = read_datasets(files, index, fmt, **_asked(ctx, k, cutoff, species), lazy=False,
                             verbose=not quiet)
    settings = datasets.settings
    data = datasets.combined("FILE")
    if not isinstance(data, list):
        X, counts, _ = datasets.grouped("FILE")
    else:
        X, counts, _, _ = describe_structures(data, k=settings["k"], cutoff=settings["cutoff"],
                                              species=settings["species"], n_jobs=n_jobs,
                                              verbose=not quiet)
    curve = measure(X, counts if by == "structures" else None, sizes, n_sizes=n_sizes,
                    n_seeds=n_seeds, bandwidth=bandwidth, method=kde_method, seed=seed,
                    n_jobs=n_jobs, verbose=not quiet)
    click.echo(curve.summary())
    _write_result(output, {"inputs": {"files": list(files)}, "descriptor": settings,
                           **curve.to_dict()}, curve.rows(), overwrite)
    _plot(plot_path, lambda p: p.plot_learning_curve(curve), overwrite)
    _report_written([output, plot_path], quiet)


@cli.command(name="active-learning")
@click.argument("generations", nargs=-1, required=True, metavar="GEN0 GEN1 ...")
@click.option("--key", default=None, metavar="KEY",
              help="Read one file (or several) and split it by the info key KEY "
                   "(generation number per structure).")
@descriptor_options
@bandwidth_option()
@threshold_option
@click.option("--min-novelty", type=float, default=0.0, show_default=True,
              help="A generation whose novel fraction is at most this added nothing.")
@_METHOD
@_PLOT
@common_options(output="generations.json or generations.csv.", suffixes={".json", ".csv"})
def active_learning(generations, key, k, cutoff, species, index, fmt, bandwidth, threshold,
                    min_novelty, kde_method, plot_path, n_jobs, output, overwrite, quiet):
    """What each active-learning generation added to the training set.

    Per generation: H and D of everything so far, the novelty (fraction of
    its environments with dH > threshold against all earlier generations),
    the gains in H and D, and whether it added nothing.
    """
    from quests.io import read_structure_files
    from quests.learning import active_learning as evaluate
    from quests.learning import split_generations

    if key is not None:
        structures, sources = read_structure_files(generations, index, fmt, not quiet)
        groups, names = split_generations(structures, key, [f"structure {position} of {spec}"
                                                            for spec, position in sources])
    else:
        groups = [read_structure_files([spec], index, fmt, not quiet)[0]
                  for spec in generations]
        names = [Path(str(spec).split("@")[0]).stem for spec in generations]
        if len(set(names)) < len(names):
            names = [str(spec) for spec in generations]
    report = evaluate(groups, names, bandwidth=bandwidth, threshold=threshold,
                      min_novelty=min_novelty, method=kde_method, k=k, cutoff=cutoff,
                      species=_parse_species(species), n_jobs=n_jobs, verbose=not quiet)
    click.echo(report.summary())
    _write_result(output, {"inputs": list(generations), "key": key, **report.to_dict()},
                  report.rows, overwrite)
    _plot(plot_path, lambda p: p.plot_active_learning(report), overwrite)
    _report_written([output, plot_path], quiet)

"""``quests uncertainty``, ``quests dh`` and ``quests overlap``."""

import contextlib
from pathlib import Path

import click
import numpy as np

from quests._errors import InvalidInputError
from quests.cli import cli
from quests.cli._options import OutputOption, _asked, _plot, _report_written, _run, \
    _write_result, _xyz_writers, bandwidth_option, common_options, descriptor_options, \
    output_option, plot_option, query_options, scheduler_option


@cli.command()
@scheduler_option
@click.argument("trajectory", metavar="TRAJ[@SLICE]")
@click.option("-r", "--reference", multiple=True, metavar="FILE[@SLICE]",
              help="Training data (repeat for several files; .npz descriptor files too).")
@output_option("--index", "index_path", metavar="FILE",
               help="Reference index cache: read if it exists, else built and written here.")
@descriptor_options(frames_option="--frames",
                    frames_help="Frames of TRAJ to judge (e.g. 0:100, ::10); a reference file "
                                "is sliced only by its own FILE@SLICE.")
@bandwidth_option(auto=True)
@query_options
@output_option("--flagged", suffixes={".xyz"}, metavar="FILE.xyz",
               help="Write the frames whose max dH exceeds the threshold (extxyz).")
@click.option("--errors", default=None, metavar="KEY[:REF]",
              help="Per-atom model error to calibrate dH against: an array such as "
                   "force_error, or forces:ref_forces for |F - F_ref|.")
@plot_option("Plot dH per frame (and the calibration with --errors).")
@click.option("--top", type=click.IntRange(min=0), default=10, show_default=True,
              help="Most novel frames listed in the summary.")
@common_options(output="Per-atom dH as extxyz (.xyz) or the per-frame table (.json, .csv); "
                       "repeat for several.", output_multiple=True,
                suffixes={".xyz", ".json", ".csv"})
@click.pass_context
def uncertainty(ctx, trajectory, reference, index_path, k, cutoff, species, index, fmt,
                bandwidth, method, n_neighbors, backend, threshold, flagged, errors, plot_path,
                top, n_jobs, output, overwrite, quiet):
    """Per-atom dH of every frame of TRAJ against the training data.

    Frames are streamed, so trajectories of any length run in bounded
    memory. Prints the fraction of novel atoms (dH > threshold) and the most
    novel frames; -o out.xyz writes the trajectory back with a per-atom dH
    array (colour by it in OVITO), --flagged the frames to recompute with DFT.
    """
    from quests.io import check_output_path
    from quests.uncertainty import TrajectoryUncertainty, frame_fields, reference_estimator

    outputs = list(output)
    if index_path is not None and not Path(index_path).exists():
        check_output_path(index_path)
    estimator, wrote = reference_estimator(
        reference, index_path, format=fmt, **_asked(ctx, k, cutoff, species),
        bandwidth=bandwidth, method=method, n_neighbors=n_neighbors, backend=backend,
        threshold=threshold, n_jobs=n_jobs, verbose=not quiet)
    if wrote and not quiet:
        click.echo(f"wrote reference index {index_path}", err=True)
    estimator.verbose = not quiet
    # every streamed output is committed at the end, or none is
    with contextlib.ExitStack() as stack:
        writers = (_xyz_writers(stack, outputs, overwrite, frame_fields)
                   + _xyz_writers(stack, [flagged], overwrite, frame_fields,
                                  keep=lambda row: row["flagged"]))
        result = _run(TrajectoryUncertainty(estimator, errors=errors,
                                            keep_atoms=errors is not None, writers=writers,
                                            verbose=not quiet), trajectory, index, fmt)
        # calibrated before any output is committed or printed: a refusal leaves nothing
        calibration, dh, errs, n_left_out = (result.calibrate() if errors is not None
                                             else (None, None, None, 0))
        scan = result.bandwidth_scan() if calibration is not None else None
    click.echo(result.summary(trajectory, top))
    if n_left_out:
        click.echo(f"{n_left_out} atoms of species the reference lacks are left out of the "
                   "calibration")
    if calibration is not None:
        click.echo("\n" + calibration.summary(errors))
        if scan["best_bandwidth"] is not None:
            click.echo(f"the bandwidth that ranks these errors best: h = "
                       f"{scan['best_bandwidth']:.4g} (Spearman {scan['best_spearman']:.3f}; "
                       f"the h used, {scan['used_bandwidth']:.4g}, gives "
                       f"{scan['used_spearman']:.3f})")
    payload = {"inputs": {"trajectory": str(trajectory), "reference": list(reference),
                          "index": index_path}, **result.to_dict(calibration),
               **({"bandwidth_scan": scan} if scan else {})}
    _write_result(outputs, {**payload, "rows": result.results.rows}, result.results.rows,
                  overwrite)
    _plot(plot_path, lambda p: p.uncertainty_figure(result.results.rows, threshold,
                                                    calibration, dh, errs), overwrite)
    _report_written(outputs + [flagged, plot_path], quiet)


@cli.command()
@click.argument("test", metavar="TEST[@SLICE]")
@click.argument("reference", metavar="REF[@SLICE]")
@descriptor_options
@bandwidth_option(auto=True)
@query_options
@common_options(output="Per-atom dH: .xyz (TEST with a dH array), .npz or .csv.",
                suffixes={".xyz", ".npz", ".csv"})
@click.pass_context
def dh(ctx, test, reference, k, cutoff, species, index, fmt, bandwidth, method, n_neighbors,
       backend, threshold, n_jobs, output, overwrite, quiet):
    """Per-atom differential entropy dH of the environments of TEST against REF."""
    from quests.io import atomic_output, atomic_write, write_frame, write_table
    from quests.uncertainty import bandwidth_lines, compare_datasets, frame_fields, \
        frame_summary

    pair = compare_datasets(test, reference, index, fmt, **_asked(ctx, k, cutoff, species),
                            n_jobs=n_jobs, verbose=not quiet)
    values, bound = pair.differential_entropy(bandwidth, method=method,
                                              n_neighbors=n_neighbors, backend=backend,
                                              n_jobs=n_jobs, verbose=not quiet)
    click.echo(f"{values.size} environments of {test} against {pair.reference.shape[0]} of "
               f"{reference}: "
               f"dH mean {values.mean():.3f}, max {values.max():.3f}, min {values.min():.3f}; "
               f"{(values > threshold).mean():.2%} novel (dH > {threshold:g})")
    for line in bandwidth_lines(pair.bandwidth_selection):
        click.echo(line)
    if bound.max() > 0:
        click.echo(f"approximate (m = {n_neighbors}): dH may exceed the exact value by at most "
                   f"{bound.max():.3f} (mean {bound.mean():.3f}) if the index found the "
                   "nearest neighbours")
    if output is None:
        return
    suffix = Path(output).suffix.lower()
    if suffix == ".npz":
        atomic_write(output, lambda f: np.savez(f, dH=values, bound=bound), overwrite, "wb")
    elif suffix == ".csv":
        write_table(output, [{"row": i, "dH": v, "bound": b}
                             for i, (v, b) in enumerate(zip(values, bound))],
                    overwrite=overwrite)
    else:
        if pair.structures is None:
            raise InvalidInputError(".xyz output needs TEST as a structure file, not .npz")
        with atomic_output(output, overwrite) as handle:
            stops = np.cumsum([len(atoms) for atoms in pair.structures])
            for atoms, part in zip(pair.structures, np.split(np.arange(values.size), stops)):
                write_frame(handle, atoms, *frame_fields(
                    frame_summary("", values[part], bound[part], threshold), values[part],
                    bound[part]))
    _report_written([output], quiet)


@cli.command()
@scheduler_option
@click.argument("test", metavar="TEST[@SLICE]")
@click.argument("reference", metavar="REF[@SLICE]")
@descriptor_options
@bandwidth_option(several=True, auto=True)
@query_options
@common_options(output="Write the result as JSON (.json).", suffixes={".json"})
@click.pass_context
def overlap(ctx, test, reference, k, cutoff, species, index, fmt, bandwidth, method,
            n_neighbors, backend, threshold, n_jobs, output, overwrite, quiet):
    """Overlap of TEST with REF: the fraction of TEST environments with dH <= threshold.

    1 means REF covers every environment of TEST. With --method approx the
    value is a lower bound (approximate dH is an upper bound).
    """
    from quests.uncertainty import bandwidth_lines, compare_datasets

    pair = compare_datasets(test, reference, index, fmt, **_asked(ctx, k, cutoff, species),
                            n_jobs=n_jobs, verbose=not quiet)
    hs = [pair.resolve_bandwidth(h) for h in bandwidth]
    hs = hs if len(hs) > 1 else hs[0]
    values = np.atleast_1d(pair.overlap(hs, threshold, method=method, n_neighbors=n_neighbors,
                                        backend=backend, n_jobs=n_jobs, verbose=not quiet))
    for h, value in zip(np.atleast_1d(hs), values):
        click.echo(f"overlap({test} | {reference}) at h = {h:g}: {value:.4f}")
    for line in bandwidth_lines(pair.bandwidth_selection):
        click.echo(line)
    _write_result(output, {"inputs": {"test": str(test), "reference": str(reference)},
                           "parameters": {**pair.settings, "threshold": threshold,
                                          "method": method},
                           "bandwidth": list(np.atleast_1d(hs)), "overlap": values,
                           "bandwidth_selection": pair.bandwidth_selection,
                           "n_test": pair.test.shape[0],
                           "n_reference": pair.reference.shape[0]}, None, overwrite)
    _report_written([output], quiet)


@cli.command()
@click.argument("input_file", metavar="IN.lmp")
@click.option("-r", "--reference", multiple=True, metavar="FILE[@SLICE]",
              help="Training data (repeat for several files; .npz descriptor files too).")
@output_option("--index", "index_path", metavar="FILE",
               help="Reference index cache: read if it exists, else built and written here.")
@click.option("--elements", required=True, multiple=True, metavar="EL[,EL...]",
              help="Element of each LAMMPS atom type, in type order: Mo; Si,O (or repeat).")
@click.option("--every", type=click.IntRange(min=1), default=100, show_default=True,
              help="Steps between checks.")
@click.option("--halt-fraction", type=click.FloatRange(0, 1, max_open=True), default=None,
              help="Stop the simulation at the first check whose novel fraction exceeds this "
                   "(exit status 3).")
@click.option("--var", "variables", multiple=True, metavar="NAME=VALUE",
              help="A LAMMPS variable for the input, as lmp -var NAME VALUE (repeat).")
@click.option("--log", cls=OutputOption, default="log.lammps", show_default=True,
              metavar="FILE", help="The LAMMPS log file ('none' for none).")
@descriptor_options(only=("k", "cutoff", "species"))
@bandwidth_option(auto=True)
@query_options
@output_option("--flagged", suffixes={".xyz"}, metavar="FILE.xyz",
               help="Write every checked configuration with a novel atom, with per-atom dH "
                    "(extxyz, for DFT).")
@common_options(output="The table of checks (.csv or .json).", suffixes={".csv", ".json"})
@click.pass_context
def watch(ctx, input_file, reference, index_path, elements, every, halt_fraction, variables,
          log, k, cutoff, species, bandwidth, method, n_neighbors, backend, threshold, flagged,
          n_jobs, output, overwrite, quiet):
    """Run the LAMMPS input IN.lmp with per-atom dH checked every N steps.

    The input runs unchanged through the LAMMPS Python module (install
    'quests[lammps]'); dH of every atom goes to the per-atom property d_dH,
    which the input's own 'dump custom ... d_dH' can write. Exits with
    status 3 when --halt-fraction stopped the simulation, 0 when the input
    ran to its end. Under 'mpirun -np P quests watch ...' every rank runs it.
    """
    from quests.lammps import HALTED_STATUS, launch_rank
    from quests.lammps import watch as watch_input
    from quests.uncertainty import bandwidth_lines, reference_estimator

    elements = [e for text in elements for e in text.replace(",", " ").split()]
    pairs = [v.split("=", 1) for v in variables]
    if any(len(p) != 2 or not p[0] for p in pairs):
        raise InvalidInputError(f"--var takes NAME=VALUE; got {variables!r}")
    # under mpirun only rank 0 writes (the index cache too) and prints
    first = launch_rank() == 0
    quiet = quiet or not first
    estimator, wrote = reference_estimator(
        reference, index_path if first or Path(index_path or "").is_file() else None,
        **_asked(ctx, k, cutoff, species), bandwidth=bandwidth, method=method,
        n_neighbors=n_neighbors, backend=backend, threshold=threshold, n_jobs=n_jobs,
        verbose=not quiet)
    if wrote and not quiet:
        click.echo(f"wrote reference index {index_path}", err=True)
    with contextlib.ExitStack() as stack:
        handle = []  # opened on the first novel check (on_check runs on rank 0 only)

        def on_check(row, atoms, dh):
            if not quiet:
                click.echo(f"step {row['step']}: max dH {row['max_dH']:.3f}, "
                           f"{row['novel_fraction']:.2%} novel", err=True)
            if flagged and row["novel_fraction"] > 0:
                handle[:] = handle or _xyz_writers(stack, [flagged], overwrite, lambda r, d: (
                    {"step": r["step"], "dH_max": r["max_dH"], "dH_mean": r["mean_dH"],
                     "novel_fraction": r["novel_fraction"]}, {"dH": d}))
                handle[0](row, atoms, dh)

        result = watch_input(input_file, estimator, elements=elements, every=every,
                             threshold=threshold, halt_fraction=halt_fraction,
                             variables=dict(pairs), on_check=on_check, log=log)
    if result.rank != 0:
        ctx.exit(HALTED_STATUS if result.halted else 0)
    click.echo("\n".join([result.summary()] + bandwidth_lines(estimator.bandwidth_selection_)))
    _write_result([output] if output else [], {"inputs": {
        "lammps_input": input_file, "reference": list(reference), "index": index_path,
        "elements": elements, "every": every, "bandwidth": estimator.bandwidth_,
        "bandwidth_selection": estimator.bandwidth_selection_,
        "threshold": threshold, "halt_fraction": halt_fraction}, "halted_step":
        result.halted_step, "rows": result.records}, result.records, overwrite)
    _report_written([output, flagged], quiet)
    if result.halted:
        ctx.exit(HALTED_STATUS)

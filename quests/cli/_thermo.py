"""``quests trajectory``, ``quests phases``, ``quests nucleation``, ``quests phase-boundary``."""

import contextlib

import click

from quests.cli import cli
from quests.cli._options import output_option, plot_option, \
    _parse_species, _plot, _report_written, _run, _write_result, _xyz_writers, bandwidth_option, \
    common_options, descriptor_options, stacked


def _bandwidth(text):
    """A float or 'volume'."""
    from quests._errors import InvalidInputError

    if text == "volume":
        return text
    try:
        return float(text)
    except ValueError:
        raise InvalidInputError(f"--bandwidth must be a number (1/Å) or 'volume'; got "
                                f"{text!r}") from None


_BANDWIDTH = bandwidth_option(volume="allowed")
_PHASE = click.option("--phase", "phase_specs", multiple=True, required=True,
                      metavar="NAME=FILE[@SLICE]",
                      help="Reference phase (repeat: at least two names; a name given twice "
                           "pools its files).")
_PLOT = plot_option("Plot.")
_XJC = {".json", ".csv", ".xyz"}


@cli.command()
@click.argument("trajectory", metavar="TRAJ[@SLICE]")
@click.option("-r", "--reference", multiple=True, metavar="FILE[@SLICE]",
              help="Reference structures for dH (default: the first --reference-frames "
                   "frames of TRAJ).")
@click.option("--reference-frames", type=int, default=5, show_default=True,
              help="Frames at the start of TRAJ that form the reference.")
@descriptor_options(frames_option="--frames")
@_BANDWIDTH
@click.option("--event-window", type=int, default=5, show_default=True,
              help="Frames on each side of a boundary fitted by a line.")
@click.option("--event-threshold", type=float, default=5.0, show_default=True,
              help="Minimum jump of H or dH, in standard errors, for an event.")
@_PLOT
@common_options(output="Per-frame table (.json with events, .csv) or per-atom dH (.xyz); "
                       "repeat for several.", output_multiple=True, suffixes=_XJC)
def trajectory(trajectory, reference, reference_frames, k, cutoff, species, index, fmt,
               bandwidth, event_window, event_threshold, plot_path, n_jobs, output, overwrite,
               quiet):
    """Entropy H(t) of every frame of TRAJ, mean dH(t) against a reference, and events.

    Events are frames where H or dH jumps (a change between straight-line
    fits of the frames before and after, of at least --event-threshold
    standard errors): melting, crystallisation, a collapse. Frames are
    streamed, so long trajectories run in bounded memory.
    """
    from quests.io import read_structures
    from quests.thermo import TrajectoryEntropy

    outputs = list(output)
    ref = [s for spec in reference
           for s in read_structures(spec, format=fmt, verbose=not quiet)] or None
    analysis = TrajectoryEntropy(
        ref, bandwidth=_bandwidth(bandwidth), reference_frames=reference_frames, k=k,
        cutoff=cutoff, species=_parse_species(species), event_window=event_window,
        event_threshold=event_threshold, n_jobs=n_jobs, verbose=not quiet)
    with contextlib.ExitStack() as stack:
        analysis.writers += _xyz_writers(stack, outputs, overwrite, analysis.frame_fields)
        _run(analysis, trajectory, index, fmt)
    res = analysis.results
    click.echo(analysis.summary(trajectory))
    payload = {"inputs": {"trajectory": str(trajectory), "reference": list(reference)},
               "parameters": {"k": k, "cutoff": cutoff, "species": species,
                              "bandwidth": bandwidth, "reference_frames": reference_frames,
                              "event_window": event_window,
                              "event_threshold": event_threshold},
               "events": [e.to_dict() for e in res.events]}
    _write_result(outputs, {**payload, "rows": res.rows}, res.rows, overwrite)
    _plot(plot_path, lambda p: p.plot_trajectory_entropy(res, **p.frame_axis(res.rows)),
          overwrite)
    _report_written(outputs + [plot_path], quiet)


def _classifier(phase_specs, *, bandwidth, threshold, average, k, cutoff, species, n_jobs,
                verbose):
    from quests.thermo import PhaseClassifier, read_phases

    # --format and --frames are TRAJ's: reference files keep their own (guessed) format
    phases = {name: [a for _, frames in files for a in frames]
              for name, files in read_phases(phase_specs, verbose=verbose).items()}
    return PhaseClassifier(phases, bandwidth=_bandwidth(bandwidth), threshold=threshold,
                           average_neighbors=average, k=k, cutoff=cutoff,
                           species=_parse_species(species), n_jobs=n_jobs,
                           verbose=verbose).fit()


_phase_options = stacked(
    _PHASE,
    descriptor_options(frames_option="--frames"),
    _BANDWIDTH,
    click.option("-t", "--threshold", type=float, default=None,
                 help="dH (nats) above which an environment is novel to a phase; atoms novel to "
                      "every phase are 'unknown' (default: never)."),
    click.option("--average/--no-average", default=True, show_default=True,
                 help="Average each atom's phase densities over its first shell."))


@cli.command()
@click.argument("trajectory", metavar="TRAJ[@SLICE]")
@_phase_options
@_PLOT
@common_options(output="Per-atom labels (.xyz: arrays phase and dH_NAME) or per-frame "
                       "fractions (.json, .csv); repeat for several.", output_multiple=True,
                suffixes=_XJC)
def phases(trajectory, phase_specs, k, cutoff, species, index, fmt, bandwidth, threshold,
           average, plot_path, n_jobs, output, overwrite, quiet):
    """Label every atom of TRAJ by the reference phase that explains it best.

    Each atom gets the phase (--phase NAME=FILE, at least two) in whose
    reference its environment is most probable (lowest dH for references of
    equal size), or 'unknown' when it is novel to all (-t). Prints the
    per-frame phase fractions; -o labels.xyz writes per-atom labels for OVITO.
    """
    from quests.thermo import PhaseAnalysis

    outputs = list(output)
    classifier = _classifier(phase_specs, bandwidth=bandwidth, threshold=threshold,
                             average=average, k=k, cutoff=cutoff, species=species,
                             n_jobs=n_jobs, verbose=not quiet)
    with contextlib.ExitStack() as stack:
        writers = _xyz_writers(stack, outputs, overwrite, classifier.frame_fields)
        result = _run(PhaseAnalysis(classifier, keep_atoms=False, writers=writers,
                                    verbose=not quiet), trajectory, index, fmt)
    res = result.results
    click.echo(result.summary(trajectory))
    payload = {"inputs": {"trajectory": str(trajectory), "phases": list(phase_specs)},
               "parameters": {"k": k, "cutoff": cutoff, "bandwidth": bandwidth,
                              "threshold": threshold, "average_neighbors": average},
               "phases": res.phases}
    _write_result(outputs, {**payload, "rows": res.rows}, res.rows, overwrite)
    _plot(plot_path, lambda p: p.plot_phase_fractions(res, **p.frame_axis(res.rows)),
          overwrite)
    _report_written(outputs + [plot_path], quiet)


@cli.command()
@click.argument("trajectory", metavar="TRAJ[@SLICE]")
@_phase_options
@click.option("--solid", default=None, metavar="NAME",
              help="The solid phase among --phase (default: 'solid', else the first).")
@click.option("--onset-size", type=int, default=50, show_default=True,
              help="Largest-cluster size from which growth counts as started.")
@click.option("--temperature", type=float, default=None,
              help="K, for the CNT fit in eV (default: the frames' thermostat temperature).")
@click.option("--min-count", type=int, default=5, show_default=True,
              help="Cluster sizes seen fewer times are left out of the CNT fit.")
@_PLOT
@common_options(output="Result (.json: n_max(t), onset, P(n), CNT fit), per-frame table "
                       "(.csv) or per-atom labels and clusters (.xyz); repeat for several.",
                output_multiple=True, suffixes=_XJC)
def nucleation(trajectory, phase_specs, k, cutoff, species, index, fmt, bandwidth, threshold,
               average, solid, onset_size, temperature, min_count, plot_path, n_jobs, output,
               overwrite, quiet):
    """Solid-like clusters in TRAJ: the largest one in time, the onset, and a CNT fit.

    Atoms are labelled as by 'quests phases'; solid-like atoms that are
    first-shell neighbours form clusters (across periodic boundaries). The
    cluster-size distribution P(n) of the frames before the onset is fitted
    by -kT ln P(n) = -n dmu + sigma n^(2/3) + c (classical nucleation theory),
    giving dmu, sigma, the critical size n* and the barrier.
    """
    from quests.thermo import NucleationAnalysis

    outputs = list(output)
    classifier = _classifier(phase_specs, bandwidth=bandwidth, threshold=threshold,
                             average=average, k=k, cutoff=cutoff, species=species,
                             n_jobs=n_jobs, verbose=not quiet)
    analysis = NucleationAnalysis(classifier, solid=solid, onset_size=onset_size,
                                  temperature=temperature, min_count=min_count,
                                  verbose=not quiet)
    with contextlib.ExitStack() as stack:
        analysis.cluster_writers += _xyz_writers(stack, outputs, overwrite,
                                                 classifier.frame_fields)
        _run(analysis, trajectory, index, fmt)
    res, fit = analysis.results, analysis.results.cnt
    click.echo(analysis.summary(trajectory))
    payload = {"inputs": {"trajectory": str(trajectory), "phases": list(phase_specs)},
               "parameters": {"k": k, "cutoff": cutoff, "bandwidth": bandwidth,
                              "threshold": threshold, "average_neighbors": average,
                              "solid": analysis.solid_, "onset_size": onset_size,
                              "min_count": min_count},
               "onset": res.onset, "n_max": res.n_max, "n_solid": res.n_solid,
               "distribution": res.distribution,
               "cnt": fit.to_dict() if fit is not None else None, "cnt_error": res.cnt_error,
               "rows": res.rows}
    _write_result(outputs, payload, res.rows, overwrite)
    _plot(plot_path, lambda p: p.plot_nucleation(res, **p.frame_axis(res.rows)), overwrite)
    _report_written(outputs + [plot_path], quiet)


@cli.command("phase-boundary")
@_PHASE
@click.option("--temperature-key", default=None,
              help="Frame info key of the (thermostat) temperature, K (default: the first of "
                   "target_K, temperature_K, temperature, T).")
@click.option("--pressure-key", default=None,
              help="Frame info key of the pressure, GPa (default: all frames at --pressure).")
@click.option("--pressure", type=float, default=0.0, show_default=True, help="GPa.")
@click.option("--energy-key", default=None,
              help="Frame info key of the potential energy, eV (default: the calculator's "
                   "energy, else energy, energy_eV, potential_energy, pe).")
@click.option("--thermo", "thermo_specs", multiple=True, metavar="NAME=LOG",
              help="LAMMPS log of the run that dumped a --phase NAME file (one per file, in "
                   "the same order): its thermo columns (PotEng, Temp, v_target, ...) join "
                   "the frames by step.")
@click.option("--phase-key", default=None,
              help="Frame info key naming each frame's phase: then --phase NAME=FILE takes "
                   "only the frames of FILE whose key equals NAME.")
@descriptor_options(only=("k", "cutoff", "format"))
@bandwidth_option(volume="default")
@_PLOT
@output_option("--line", "line_path", suffixes={".json", ".csv"}, metavar="FILE.csv|FILE.json",
               help="The boundary line T(P) with its error (needs two or more pressures).")
@plot_option("P-T diagram: the line, its error band and the state points.",
             "--phase-diagram", "diagram_path")
@common_options(output="Result (.json) or table of dG(T) (.csv).", suffixes={".json", ".csv"})
def phase_boundary(phase_specs, temperature_key, pressure_key, pressure, energy_key, thermo_specs,
                   phase_key, k, cutoff, fmt, bandwidth, plot_path, line_path, diagram_path,
                   n_jobs, output, overwrite, quiet):
    """Coexistence of two phases from MD frames at several temperatures (and pressures).

    --phase NAME=FILE for exactly two phase names (repeat a name for more
    files); frames carry their potential energy and thermostat temperature
    (and pressure with --pressure-key). Per atom and state point:
    dG = dU + P dV - kB T dH, H the entropy of the phase's environments at
    h(V); at each pressure the coexistence temperature is where a weighted
    line through dG(T) crosses zero. With state points at two or more
    pressures, U, V and H of each phase are also fitted as smooth surfaces
    over (T, P) and the boundary line T(P) (dG = 0) is printed, with its
    error, and written by --line / --phase-diagram. For LAMMPS dumps,
    --thermo NAME=LOG supplies the energies (PotEng) and temperatures (e.g.
    --temperature-key v_target, a variable holding the thermostat target
    printed with thermo_style).
    """
    from quests.io import split_named, write_table
    from quests.thermo import attach_thermo_logs, phase_boundary_report, read_phases

    files = read_phases(phase_specs, fmt, phase_key, not quiet)
    logs = {}
    for name, log in (split_named(s, "--thermo takes NAME=LOG") for s in thermo_specs):
        logs.setdefault(name, []).append(log)
    attach_thermo_logs(files, logs)
    report = phase_boundary_report(
        {name: [a for _, frames in parts for a in frames] for name, parts in files.items()},
        temperature_key=temperature_key, pressure_key=pressure_key, pressure=pressure,
        energy_key=energy_key, bandwidth=_bandwidth(bandwidth), k=k, cutoff=cutoff,
        line=True if line_path is not None or diagram_path is not None else None,
        n_jobs=n_jobs)
    if report.line_error is not None:
        click.echo(f"note: no boundary line T(P): {report.line_error}", err=True)
    click.echo(report.summary())
    parameters = {"k": k, "cutoff": cutoff, "bandwidth": bandwidth,
                  "temperature_key": temperature_key, "pressure_key": pressure_key,
                  "energy_key": energy_key}
    _write_result(output, {"inputs": {"phases": list(phase_specs)}, "parameters": parameters,
                           **report.to_dict()}, report.rows(), overwrite)
    _plot(plot_path, lambda p: p.plot_phase_boundary(report.boundaries), overwrite)
    if line_path is not None:
        write_table(line_path, report.line_rows(),
                    metadata={"inputs": {"phases": list(phase_specs)},
                              "parameters": parameters, "phases": list(report.line.phases)},
                    overwrite=overwrite)
    _plot(diagram_path, lambda p: p.plot_boundary_line(report.line), overwrite)
    _report_written([output, plot_path, line_path, diagram_path], quiet)

"""``quests zentropy``: free energies of several configurations combined by zentropy."""

from pathlib import Path

import click
import numpy as np

from quests._defaults import DEFAULT_DEBYE_SCALING, MAX_GRID_POINTS
from quests._errors import InvalidInputError
from quests._units import BOLTZMANN_EV
from quests.cli import cli
from quests.cli._options import _plot, _report_written, _write_result, common_options, \
    descriptor_options, output_option, plot_option, stacked


#: --volumes: grid points of volume
_VOLUMES = click.IntRange(3, MAX_GRID_POINTS)


def _range(text, name):
    """START:STOP:STEP as a temperature grid (``quests.zenn.temperature_grid``)."""
    from quests.zenn import temperature_grid

    try:
        start, stop, step = (float(p) for p in text.split(":"))
    except ValueError:
        raise InvalidInputError(f"{name} takes START:STOP:STEP; got {text!r}") from None
    return temperature_grid(start, stop, step, name)


def _config(spec):
    """PATH[=G] -> (path, g)."""
    path, sep, g = spec.rpartition("=")
    if not sep:
        return spec, 1.0
    try:
        return path, float(g)
    except ValueError:
        raise InvalidInputError(f"configuration {spec!r}: the multiplicity after '=' must be "
                                "a number") from None


#: the Debye-Grüneisen model's parameters, and the cell of E(V) given as CSV
_qha_options = stacked(
    click.option("--debye-scaling", type=float, default=DEFAULT_DEBYE_SCALING, show_default=True,
                 help="s in the Debye temperature s * 231.04 K * v^(1/6) * (B0/M)^(1/2) (v Å^3 "
                      "per atom, B0 GPa, M amu); 0.617 is Moruzzi-Janak-Schwarz."),
    click.option("--gruneisen-x", type=float, default=2.0 / 3.0, show_default=True,
                 help="x in the Grüneisen parameter (1 + B')/2 - x."),
    click.option("--n-atoms", type=int, default=None,
                 help="Atoms per cell of configurations given as CSV (volume, energy per cell)."),
    click.option("--mass", type=float, default=None,
                 help="Mean atomic mass (amu) of configurations given as CSV."))


def _write_report(report, output, inputs, parameters, plot_path, diagram_path, overwrite,
                  quiet, reference=None):
    """Print the report; write its rows (.csv) or everything (.json), and the plots."""
    click.echo(report.summary())
    _write_result(output, {"inputs": inputs, "parameters": parameters, **report.to_dict()},
                  report.rows(), overwrite)
    label = None if report.label == "zentropy" else report.label
    _plot(diagram_path, lambda p: p.plot_phase_diagram(report.diagram, label=label), overwrite)
    names = report.names if report.configurations else [f"configuration {k}"
                                                        for k in report.names]
    _plot(plot_path, lambda p: p.plot_zentropy(report.properties, names, reference=reference,
                                               label=report.label), overwrite)
    _report_written([output, plot_path, diagram_path], quiet)


_PHASE_DIAGRAM_OPTION = plot_option("P-T diagram: coexistence line, spinodals and critical "
                                    "point.", "--phase-diagram", "diagram_path")


@cli.command("zentropy")
@click.argument("configs", nargs=-1, required=True, metavar="CONFIG[=G]...")
@click.option("--temperatures", default="5:1200:5", show_default=True,
              metavar="START:STOP:STEP", help="Temperature grid, K.")
@click.option("--pressure", type=float, default=0.0, show_default=True, help="GPa.")
@click.option("--volumes", "n_volumes", type=_VOLUMES, default=400, show_default=True,
              help="Volume grid points over the range every configuration covers.")
@_qha_options
@plot_option("V(T), thermal expansion and p_k(T) at the pressure.")
@_PHASE_DIAGRAM_OPTION
@common_options(output="Properties at the pressure per temperature (.json with the EOS "
                       "fits, the critical point and the coexistence line, or .csv).",
                suffixes={".json", ".csv"})
def zentropy_command(configs, temperatures, pressure, n_volumes, debye_scaling, gruneisen_x,
                     n_atoms, mass, plot_path, diagram_path, n_jobs, output, overwrite, quiet):
    """Combine configurations by zentropy: F(V, T), V(T), thermal expansion at a pressure.

    Each CONFIG is a folder of per-volume VASP runs (OSZICAR + CONTCAR), an
    extxyz file of structures with energies, or a CSV of volume,energy;
    '=G' gives its multiplicity (default 1). Per configuration: a BM4 fit of
    E(V) plus a Debye-Grüneisen vibrational free energy; then F = -kB T ln
    sum_k g_k exp(-F_k / kB T) and the equilibrium at --pressure.
    """
    from quests.zenn import zentropy_report

    parsed = [_config(c) for c in configs]
    report = zentropy_report([path for path, _ in parsed], [g for _, g in parsed],
                             _range(temperatures, "--temperatures"), pressure,
                             n_volumes=n_volumes, scaling=debye_scaling, x=gruneisen_x,
                             n_atoms=n_atoms, mass=mass)
    _write_report(report, output, {"configurations": list(configs)},
                  {"pressure_GPa": pressure, "debye_scaling": debye_scaling,
                   "gruneisen_x": gruneisen_x, "n_volumes": n_volumes},
                  plot_path, diagram_path, overwrite, quiet, reference=report.alone)


@cli.group("zenn")
def zenn_group():
    """Train and use a zentropy-enhanced neural network (ZENN; needs torch)."""


def _folder_free_energy(folder, multiplicity, temperatures, n_volumes, debye_scaling,
                        gruneisen_x, n_atoms, mass):
    """Training rows (x, T, F) from a folder of configurations: their zentropy F(V, T)."""
    from quests.zenn import zentropy_training_data

    if any("=" not in item for item in multiplicity):
        raise InvalidInputError("-g/--multiplicity takes NAME=G")
    t = None if temperatures is None else _range(temperatures, "--temperatures")
    x, t, f, report, z = zentropy_training_data(
        folder, dict(_config(item) for item in multiplicity), t,
        80 if n_volumes is None else n_volumes, scaling=debye_scaling, x=gruneisen_x,
        n_atoms=n_atoms, mass=mass)
    click.echo(report.eos_table())
    click.echo(f"training on their zentropy F(V, T): {z.temperatures.size} temperatures x "
               f"{z.volumes.size} volumes ({z.volumes[0]:.2f}-{z.volumes[-1]:.2f} Å^3)")
    return x, t, f, len(report.names)


@zenn_group.command("fit")
@click.argument("data", metavar="DATA")
@click.option("-K", "--configurations", "n_configurations", type=int, default=None,
              help="Configurations K of the model [default: 2; with a folder, as many as it "
                   "holds].")
@click.option("--multiplicities", default=None, metavar="G,G,...",
              help="The model's g_k (default 1 each).")
@click.option("--hidden", default="32,32", show_default=True, help="Hidden layer widths.")
@click.option("--no-entropy", is_flag=True, help="The plain network: no S_k branch.")
@click.option("--gamma", type=float, default=None, help="Entropy regulariser (default none).")
@click.option("--kb", type=float, default=BOLTZMANN_EV, show_default=True,
              help="Temperature scale (eV/K; 1 for reduced units).")
@click.option("--learn-kb", is_flag=True, help="Learn the temperature scale.")
@click.option("--distributions", is_flag=True,
              help="DATA holds Boltzmann probabilities P over x per T (columns x, T, P), "
                   "trained by the Jensen-Shannon loss; otherwise free energies (x, T, F).")
@click.option("--epochs", type=int, default=1500, show_default=True, help="Adam epochs.")
@click.option("--lbfgs", type=int, default=1000, show_default=True,
              help="L-BFGS iterations after Adam.")
@click.option("--derivative-weight", type=float, default=1.0, show_default=True,
              help="Weight of matching the divided differences of F along x and T (F on a "
                   "full grid only; 0: off).")
@click.option("--convexity", type=float, default=0.0, show_default=True,
              help="Weight of the penalty on d2F/dT2 > 0.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("-g", "--multiplicity", multiple=True, metavar="NAME=G",
              help="With a folder: g of configuration NAME in the zentropy sum that makes "
                   "the training F (default 1; repeat per configuration).")
@click.option("--temperatures", default=None, metavar="START:STOP:STEP",
              help="With a folder: temperatures of the training F, K [default: 10:1200:10].")
@click.option("--volumes", "n_volumes", type=_VOLUMES, default=None,
              help="With a folder: volumes of the training F over the range every "
                   "configuration covers [default: 80].")
@_qha_options
@common_options(output="The trained model (.pt).", output_required=True, suffixes={".pt"})
def zenn_fit(data, n_configurations, multiplicities, hidden, no_entropy, gamma, kb, learn_kb,
             distributions, epochs, lbfgs, derivative_weight, convexity, seed, multiplicity,
             temperatures, n_volumes, debye_scaling, gruneisen_x, n_atoms, mass, n_jobs, output,
             overwrite, quiet):
    """Train a ZENN on free energies F(x, T) or Boltzmann distributions P(x | T).

    DATA is a CSV with a header, or JSON of lists: columns x (the volume or
    another feature), T and F (or P with --distributions, on a full x-by-T
    grid). Or DATA is a folder of configurations (sub-folders of per-volume
    VASP runs, .xyz/.extxyz or .csv E(V) files, as for `quests zentropy`): the
    model learns the total F(V, T) of their zentropy sum (BM4 +
    Debye-Grüneisen per configuration), without being told the
    configurations.
    """
    from quests.zenn import ZENN, read_training_data

    folder = Path(data).is_dir()
    if not folder and (multiplicity or temperatures is not None or n_volumes is not None):
        raise InvalidInputError("-g/--multiplicity, --temperatures and --volumes build the "
                                "training F from a folder of configurations; DATA is a file")
    if folder and distributions:
        raise InvalidInputError("--distributions needs a CSV/JSON of P; DATA is a folder")
    try:
        widths = tuple(int(h) for h in hidden.split(","))
        g = None if multiplicities is None else [float(m) for m in multiplicities.split(",")]
    except ValueError:
        raise InvalidInputError("--hidden and --multiplicities take comma-separated "
                                "numbers") from None
    if folder:
        x, t, f, n_found = _folder_free_energy(data, multiplicity, temperatures, n_volumes,
                                               debye_scaling, gruneisen_x, n_atoms, mass)
    if n_configurations is None:
        n_configurations = n_found if folder else 2
    model = ZENN(n_configurations, multiplicities=g,
                 hidden=widths, entropy=not no_entropy, gamma=gamma, kb=kb, learn_kb=learn_kb,
                 seed=seed)
    if not folder:
        x, t, f = read_training_data(data, distributions)
    if distributions:
        model.fit_distributions(x, t, f, epochs=epochs, lbfgs_steps=lbfgs, convexity=convexity,
                                verbose=not quiet)
        quality = ""
    else:
        model.fit(x, t, f, epochs=epochs, lbfgs_steps=lbfgs, derivative_weight=derivative_weight,
                  convexity=convexity, verbose=not quiet)
        rmse = np.sqrt(np.mean((model.predict(x, t)["F"] - f) ** 2))
        quality = f", F rmse {rmse:.3g} (units of F)"
    n_rows = f.size
    model.save(output, overwrite)
    click.echo(f"trained on {n_rows} rows ({epochs} Adam epochs, {lbfgs} L-BFGS iterations): "
               f"final loss {model.history_[-1]:.3e}{quality}")
    _report_written([output], quiet)


@zenn_group.command("predict")
@click.argument("model_path", metavar="MODEL.pt")
@click.option("--pressure", type=float, default=0.0, show_default=True, help="GPa.")
@click.option("--temperatures", default=None, metavar="START:STOP:STEP",
              help="Temperature grid, K (default: the training range in 100 steps).")
@click.option("--volumes", "n_volumes", type=_VOLUMES, default=400, show_default=True,
              help="Volume grid points over the training range.")
@plot_option("V(T), thermal expansion and p_k(T).")
@_PHASE_DIAGRAM_OPTION
@common_options(output="Properties per temperature (.csv, or .json with the critical point "
                       "and the coexistence line).", suffixes={".json", ".csv"})
def zenn_predict(model_path, pressure, temperatures, n_volumes, plot_path, diagram_path, n_jobs,
                 output, overwrite, quiet):
    """V(T), thermal expansion, B, G, Cp and p_k(T) at a pressure from a trained ZENN.

    x is taken as the volume (Å^3, one feature) and F in eV: the properties
    come from the model's F on a (T, V) grid over its training range, by the
    same functions as `quests zentropy`.
    """
    from quests.zenn import ZENN, zenn_report

    model = ZENN.load(model_path)
    t = None if temperatures is None else _range(temperatures, "--temperatures")
    report = zenn_report(model, pressure, t, n_volumes)
    _write_report(report, output, {"model": str(model_path)}, {"pressure_GPa": pressure},
                  plot_path, diagram_path, overwrite, quiet)


def _named_frames(specs, index, fmt):
    """Frames of every FILE[@SLICE] in ``specs`` and their names ('md.xyz frame 3')."""
    from quests.io import ReadError, iter_structures

    frames, names = [], []
    for spec in specs:
        found = 0
        for name, atoms in iter_structures(spec, index, fmt):
            frames.append(atoms)
            names.append(name)
            found += 1
        if not found:
            raise ReadError(f"{spec}: no frames selected")
    return frames, names


def _source_temperatures(items):
    """SOURCE=T items -> {int source: float T}."""
    out = {}
    for item in items:
        source, sep, value = item.partition("=")
        try:
            out[int(source)] = float(value)
        except ValueError:
            raise InvalidInputError(f"--source-temperature takes SOURCE=T (an integer source, a "
                                    f"temperature in K); got {item!r}") from None
    return out or None


@zenn_group.command("classify")
@click.argument("trajectories", nargs=-1, required=True, metavar="TRAJ[@SLICE]...")
@click.option("--train", "training", multiple=True, metavar="FILE[@SLICE]",
              help="Labelled frames to train on (repeat for several files).")
@click.option("--model", "model_path", default=None, metavar="MODEL.pt",
              help="A model written by --save-model, instead of --train.")
@click.option("--label", "label_key", default=None, metavar="ARRAY",
              help="Per-atom array of the training frames holding the classes (e.g. cna_min).")
@click.option("--temperature-key", default=None, metavar="KEY",
              help="Info key with each frame's temperature, K, in the training frames and "
                   "in TRAJ.")
@click.option("--source-key", default=None, metavar="KEY",
              help="Instead of --temperature-key: info key with each training frame's "
                   "source, an integer; each source gets a learnt temperature.")
@click.option("--source-temperature", "source_temperature", multiple=True, metavar="SOURCE=T",
              help="A source's known temperature, K (with --source-key, at least two).")
@click.option("--infer-temperature", is_flag=True,
              help="Infer each frame's temperature from its atoms' descriptors instead of "
                   "reading it.")
@click.option("--hidden", default="32,32", show_default=True, help="Hidden layer widths.")
@click.option("--epochs", type=click.IntRange(1), default=1000, show_default=True,
              help="Adam epochs.")
@click.option("--seed", type=int, default=0, show_default=True)
@output_option("--save-model", "save_model", suffixes={".pt"}, metavar="MODEL.pt",
               help="Write the trained model (with its descriptor settings and keys).")
@descriptor_options(only=("k", "cutoff", "species", "index", "format"),
                    frames_help="Frames to read from each file (e.g. 0:100, ::10); "
                                "FILE@SLICE overrides it per file.")
@common_options(output="Classified frames: .xyz with per-atom arrays zenn_label and "
                       "zenn_probability for OVITO; .json or .csv: the per-frame table.",
                suffixes={".xyz", ".json", ".csv"})
def zenn_classify_command(trajectories, training, model_path, label_key, temperature_key,
                          source_key, source_temperature, infer_temperature, hidden, epochs,
                          seed, save_model, k, cutoff, species, index, fmt, n_jobs, output,
                          overwrite, quiet):
    """Label every atom of TRAJ with a zentropy classifier on QUESTS descriptors.

    Trained on frames whose atoms carry a label array (--label, e.g. the CNA
    of minimised frames) at known temperatures (--temperature-key) or from
    sources of unknown temperature (--source-key, --source-temperature); each
    class is a configuration with an energy and an intrinsic entropy of the
    atom's descriptor, weighted by exp(-(E - T S) / kB T). TRAJ's frames are
    labelled at their own temperature, or at one inferred from their atoms
    (--infer-temperature). Where TRAJ carries the label array too, the
    agreement with it is printed (it is read only after the prediction).
    """
    from quests.cli._options import _parse_species
    from quests.zenn import ZENNClassifier, zenn_classify

    if bool(training) == bool(model_path):
        raise InvalidInputError("give --train FILE (to train) or --model MODEL.pt (exactly one)")
    ctx = click.get_current_context()
    flags = {param.name: "/".join(param.opts) for param in ctx.command.params}
    training_only = [flags[name] for name in
                     ("label_key", "temperature_key", "source_key", "source_temperature",
                      "save_model", "hidden", "epochs", "seed", "k", "cutoff", "species")
                     if ctx.get_parameter_source(name).name != "DEFAULT"]
    if model_path and training_only:
        raise InvalidInputError(f"--model carries its own keys, network and descriptor "
                                f"settings: {', '.join(training_only)} go with --train")
    try:
        widths = tuple(int(h) for h in hidden.split(","))
    except ValueError:
        raise InvalidInputError("--hidden takes comma-separated layer widths") from None
    model = ZENNClassifier.load(model_path) if model_path else None
    frames, names = _named_frames(trajectories, index, fmt)
    train, train_names = _named_frames(training, index, fmt) if training else (None, None)
    result = zenn_classify(
        frames, training=train, model=model, label_key=label_key,
        temperature_key=temperature_key, source_key=source_key,
        source_temperatures=_source_temperatures(source_temperature),
        infer_temperature=infer_temperature, k=k, cutoff=cutoff,
        species=_parse_species(species),
        classifier={"hidden": widths, "max_iter": epochs, "random_state": seed},
        names=names, training_names=train_names, n_jobs=n_jobs, verbose=not quiet)
    click.echo(result.summary())
    if save_model:
        result.model.save(save_model, overwrite)
    _write_result(output, {"inputs": {"trajectories": list(trajectories),
                                      "train": list(training), "model": model_path},
                           "parameters": {"hidden": list(result.model.spec_["hidden"]),
                                          "epochs": result.model.max_iter,
                                          "seed": result.model.random_state,
                                          **result.model.metadata_},
                           **result.to_dict()}, result.rows(), overwrite)
    if output and output.lower().endswith(".xyz"):
        from quests.io import atomic_output, write_frame

        with atomic_output(output, overwrite) as handle:
            for i, atoms in enumerate(frames):
                p = result.probabilities[i]
                write_frame(handle, atoms,
                            info={"zenn_temperature_K": float(result.temperatures[i]),
                                  "zenn_temperature": result.temperature_origin[i]},
                            arrays={"zenn_label": result.labels[i],
                                    "zenn_probability": p.max(axis=1)})
    _report_written([save_model, output], quiet)

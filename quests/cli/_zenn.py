"""``quests zentropy``: free energies of several configurations combined by zentropy."""

import warnings
from pathlib import Path

import click
import numpy as np

from quests._defaults import DEFAULT_DEBYE_SCALING
from quests._errors import InvalidInputError, QuestsWarning
from quests._units import BOLTZMANN_EV
from quests.cli import cli
from quests.cli._options import _PLOT_SUFFIXES, _align, _check_output, _report_written, \
    common_options


#: the most points a START:STOP:STEP grid may hold (a typo like 5:1e9:1 is not a grid)
MAX_GRID_POINTS = 100_000


def _range(text, name):
    """START:STOP:STEP as an array of temperatures (K): START, START + STEP, ... <= STOP.

    STOP is included when it falls on the grid and never passed; the grid
    needs finite values, START > 0, at least three points and at most
    ``MAX_GRID_POINTS``.
    """
    from quests._errors import InvalidInputError

    try:
        start, stop, step = (float(p) for p in text.split(":"))
    except ValueError:
        raise InvalidInputError(f"{name} takes START:STOP:STEP; got {text!r}") from None
    if not all(np.isfinite([start, stop, step])):
        raise InvalidInputError(f"{name}: START, STOP and STEP must be finite; got {text!r}")
    if not (step > 0 and stop > start and start > 0):
        raise InvalidInputError(f"{name}: need 0 < START < STOP and STEP > 0 (K); got {text!r}")
    count = int(np.floor((stop - start) / step * (1 + 1e-12))) + 1
    if count < 3:
        raise InvalidInputError(f"{name} {text} holds {count} temperature(s); at least 3 "
                                "temperatures are needed (derivatives in T)")
    if count > MAX_GRID_POINTS:
        raise InvalidInputError(f"{name} {text} holds {count} temperatures; at most "
                                f"{MAX_GRID_POINTS} are allowed")
    return start + step * np.arange(count)


def _finite_pressure(pressure):
    from quests._errors import InvalidInputError

    if not np.isfinite(pressure):
        raise InvalidInputError(f"--pressure must be a finite number of GPa; got {pressure}")


def _volume_count(n_volumes):
    from quests._errors import InvalidInputError

    if n_volumes is not None and not 3 <= n_volumes <= MAX_GRID_POINTS:
        raise InvalidInputError(f"--volumes must lie between 3 and {MAX_GRID_POINTS}; got "
                                f"{n_volumes}")


#: 1/K; smaller differences of thermal expansion are numerical, not physical
EXPANSION_TOLERANCE = 5e-7


def _spans(t, mask):
    """'a-b K, c-d K' for the runs of True in ``mask`` ('none' if there is none)."""
    edges = np.flatnonzero(np.diff(np.r_[0, mask.astype(int), 0]))
    runs = [f"{t[start]:g}-{t[stop - 1]:g} K" for start, stop in zip(edges[::2], edges[1::2])]
    return ", ".join(runs) or "none"


def _config(spec):
    """PATH[=G] -> (path, g)."""
    from quests._errors import InvalidInputError

    path, sep, g = spec.rpartition("=")
    if not sep:
        return spec, 1.0
    try:
        return path, float(g)
    except ValueError:
        raise InvalidInputError(f"configuration {spec!r}: the multiplicity after '=' must be "
                                "a number") from None


def _qha_options(command):
    """The Debye-Grüneisen model's parameters, and the cell of E(V) given as CSV."""
    for option in (
            click.option("--mass", type=float, default=None,
                         help="Mean atomic mass (amu) of configurations given as CSV."),
            click.option("--n-atoms", type=int, default=None,
                         help="Atoms per cell of configurations given as CSV (volume, "
                              "energy per cell)."),
            click.option("--gruneisen-x", type=float, default=2.0 / 3.0, show_default=True,
                         help="x in the Grüneisen parameter (1 + B')/2 - x."),
            click.option("--debye-scaling", type=float, default=DEFAULT_DEBYE_SCALING,
                         show_default=True,
                         help="s in the Debye temperature s * 231.04 K * v^(1/6) * "
                              "(B0/M)^(1/2) (v Å^3 per atom, B0 GPa, M amu); 0.617 is "
                              "Moruzzi-Janak-Schwarz.")):
        command = option(command)
    return command


def _echo_eos(data, multiplicities, eos):
    """The table of configurations: g and the BM4 fit of each."""
    table = [(d.label, f"{m:g}", f"{e.volume0:.3f}", f"{e.energy0:.4f}", f"{e.bulk_modulus0:.1f}",
              f"{e.bulk_modulus_derivative0:.2f}", f"{e.rms * 1e3:.2f}")
             for d, m, e in zip(data, multiplicities, eos)]
    click.echo(_align(("configuration", "g", "V0 (Å^3)", "E0 (eV)", "B0 (GPa)", "B'",
                       "rms (meV)"), table))


def _isobaric_rows(iso, names):
    """One row per temperature of ``IsobaricProperties``, p_NAME per configuration: the
    same columns from a zentropy sum and from a ZENN. ``equilibrium`` is False where the
    minimum of G lies on the edge of the volume range (the row's values are then empty)."""
    return [{"T_K": tk, "V_A3": v, "alpha_V_per_K": a, "alpha_L_per_K": a / 3, "B_GPa": b,
             "G_eV": gg, "S_eV_per_K": s, "Cp_eV_per_K": cp,
             **{f"p_{n}": p for n, p in zip(names, iso.probabilities[:, i])},
             "equilibrium": not edge}
            for i, (tk, edge, v, a, b, gg, s, cp) in enumerate(zip(
                iso.temperatures, iso.on_edge, iso.volume, iso.volumetric_expansion,
                iso.bulk_modulus, iso.gibbs_energy, iso.entropy, iso.heat_capacity))]


def _volume_span(iso):
    """'V from A to B Å^3 over T0-T1 K' over the temperatures that have an equilibrium."""
    ok = np.flatnonzero(~iso.on_edge)
    t = iso.temperatures
    return (f"V from {iso.volume[ok[0]]:.4g} to {iso.volume[ok[-1]]:.4g} Å^3 over "
            f"{t[ok[0]]:g}-{t[ok[-1]]:g} K")


def _phase_diagram(t, v, free_energy, plot_path, overwrite, label):
    """Echo the critical point and coexistence line; plot the P-T diagram if asked.

    Returns the JSON entries: the critical point (or None) and the coexistence rows.
    """
    from quests.io import save_figure
    from quests.zenn import phase_diagram

    diagram = phase_diagram(t, v, free_energy)
    critical = diagram.critical_point
    click.echo("critical point (spinodal closes): " + (
        f"T = {critical[0]:.1f} K, V = {critical[1]:.2f} Å^3, P = {critical[2]:.2f} GPa"
        if critical else "none in range"))
    rows = [{"T_K": tk, "P_coexistence_GPa": p, "V_low_A3": va, "V_high_A3": vb,
             "P_spinodal_low_GPa": sa, "P_spinodal_high_GPa": sb}
            for tk, p, (va, vb), (sa, sb) in zip(
                t, diagram.coexistence_pressure, diagram.coexistence_volumes,
                diagram.spinodal_pressures)
            if np.isfinite(p)]
    if rows:
        click.echo(f"coexistence of two volumes: P = {rows[0]['P_coexistence_GPa']:.2f} GPa at "
                   f"{rows[0]['T_K']:g} K to {rows[-1]['P_coexistence_GPa']:.2f} GPa at "
                   f"{rows[-1]['T_K']:g} K")
    if plot_path is not None:
        from quests.plotting import plot_phase_diagram

        save_figure(plot_phase_diagram(diagram, label=label), plot_path, overwrite)
    return (None if critical is None else
            {"T_K": critical[0], "V_A3": critical[1], "P_GPa": critical[2]}), rows


_PHASE_DIAGRAM_OPTION = click.option(
    "--phase-diagram", "diagram_path", default=None, metavar="FILE.png",
    help="P-T diagram: coexistence line, spinodals and critical point.")


@cli.command("zentropy")
@click.argument("configs", nargs=-1, required=True, metavar="CONFIG[=G]...")
@click.option("--temperatures", default="5:1200:5", show_default=True,
              metavar="START:STOP:STEP", help="Temperature grid, K.")
@click.option("--pressure", type=float, default=0.0, show_default=True, help="GPa.")
@click.option("--volumes", "n_volumes", type=int, default=400, show_default=True,
              help="Volume grid points over the range every configuration covers.")
@_qha_options
@click.option("--plot", "plot_path", default=None, metavar="FILE.png",
              help="V(T), thermal expansion and p_k(T) at the pressure.")
@_PHASE_DIAGRAM_OPTION
@common_options(output="Properties at the pressure per temperature (.json with the EOS "
                       "fits, the critical point and the coexistence line, or .csv).")
def zentropy_command(configs, temperatures, pressure, n_volumes, debye_scaling, gruneisen_x,
                     n_atoms, mass, plot_path, diagram_path, n_jobs, output, overwrite, quiet):
    """Combine configurations by zentropy: F(V, T), V(T), thermal expansion at a pressure.

    Each CONFIG is a folder of per-volume VASP runs (OSZICAR + CONTCAR), an
    extxyz file of structures with energies, or a CSV of volume,energy;
    '=G' gives its multiplicity (default 1). Per configuration: a BM4 fit of
    E(V) plus a Debye-Grüneisen vibrational free energy; then F = -kB T ln
    sum_k g_k exp(-F_k / kB T) and the equilibrium at --pressure.
    """
    from quests.io import save_figure, write_json, write_table
    from quests.zenn import isobaric_properties, read_energy_volume, zentropy_from_dft

    _check_output(output, {".json", ".csv"}, overwrite)
    _check_output(plot_path, _PLOT_SUFFIXES, overwrite)
    _check_output(diagram_path, _PLOT_SUFFIXES, overwrite)
    t = _range(temperatures, "--temperatures")
    _finite_pressure(pressure)
    _volume_count(n_volumes)
    parsed = [_config(c) for c in configs]
    data = [read_energy_volume(path, n_atoms=n_atoms, mass=mass) for path, _ in parsed]
    g = [m for _, m in parsed]
    z, free_energies, eos = zentropy_from_dft(data, g, t, n_volumes=n_volumes,
                                              scaling=debye_scaling, x=gruneisen_x)
    iso = isobaric_properties(t, z.volumes, z.free_energy, pressure, z.probabilities)
    names = [d.label for d in data]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", QuestsWarning)  # the sum's rows are what count
            first = isobaric_properties(t, z.volumes, free_energies[0], pressure)
    except InvalidInputError:
        first = None  # the first configuration alone has no equilibrium in range
    _echo_eos(data, g, eos)
    negative = iso.volumetric_expansion < -EXPANSION_TOLERANCE
    click.echo(f"\nat P = {pressure:g} GPa: {_volume_span(iso)}")
    if first is not None:
        # differences below 0.5 ppm/K are finite-difference noise, not physics
        below = iso.volumetric_expansion < first.volumetric_expansion - EXPANSION_TOLERANCE
        click.echo(f"expansion below {names[0]} alone: {_spans(t, below)}")
    click.echo(f"negative expansion: {_spans(t, negative)}")
    critical, coexistence = _phase_diagram(t, z.volumes, z.free_energy, diagram_path,
                                           overwrite, None)
    rows = _isobaric_rows(iso, names)
    if output is not None:
        if Path(output).suffix.lower() == ".csv":
            write_table(output, rows, overwrite=overwrite)
        else:
            write_json(output, {
                "inputs": {"configurations": list(configs)},
                "parameters": {"pressure_GPa": pressure, "debye_scaling": debye_scaling,
                               "gruneisen_x": gruneisen_x, "n_volumes": n_volumes},
                "eos": [{"configuration": d.label, "multiplicity": m, "V0": e.volume0,
                         "E0": e.energy0, "B0_GPa": e.bulk_modulus0,
                         "B_prime": e.bulk_modulus_derivative0, "rms_eV": e.rms}
                        for d, m, e in zip(data, g, eos)],
                "critical_point": critical, "coexistence": coexistence,
                "rows": rows}, overwrite)
    if plot_path is not None:
        from quests.plotting import plot_zentropy

        save_figure(plot_zentropy(iso, names, reference=first), plot_path, overwrite)
    _report_written([output, plot_path, diagram_path], quiet)


@cli.group("zenn")
def zenn_group():
    """Train and use a zentropy-enhanced neural network (ZENN; needs torch)."""


def _folder_free_energy(folder, multiplicity, temperatures, n_volumes, debye_scaling,
                        gruneisen_x, n_atoms, mass):
    """Training rows (x, T, F) from a folder of configurations: their zentropy F(V, T)."""
    from quests._errors import InvalidInputError
    from quests.zenn import read_configurations, zentropy_from_dft

    data = read_configurations(folder, n_atoms=n_atoms, mass=mass)
    names = [d.label for d in data]
    if any("=" not in item for item in multiplicity):
        raise InvalidInputError("-g/--multiplicity takes NAME=G")
    given = dict(_config(item) for item in multiplicity)
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise InvalidInputError(f"--multiplicity names {', '.join(unknown)}, which {folder} "
                                f"does not hold (it holds {', '.join(names)})")
    g = [given.get(name, 1.0) for name in names]
    t = _range("10:1200:10" if temperatures is None else temperatures, "--temperatures")
    n_volumes = 80 if n_volumes is None else n_volumes
    _volume_count(n_volumes)    # _range has checked the temperatures
    z, _, eos = zentropy_from_dft(data, g, t, n_volumes=n_volumes, scaling=debye_scaling,
                                  x=gruneisen_x)
    _echo_eos(data, g, eos)
    click.echo(f"training on their zentropy F(V, T): {t.size} temperatures x "
               f"{z.volumes.size} volumes ({z.volumes[0]:.2f}-{z.volumes[-1]:.2f} Å^3)")
    return (np.tile(z.volumes, t.size), np.repeat(t, z.volumes.size), z.free_energy.ravel(),
            len(data))


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
@click.option("--volumes", "n_volumes", type=int, default=None,
              help="With a folder: volumes of the training F over the range every "
                   "configuration covers [default: 80].")
@_qha_options
@common_options(output="The trained model (.pt).", output_required=True)
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
    from quests._errors import InvalidInputError
    from quests.io import read_columns
    from quests.zenn import ZENN

    _check_output(output, {".pt"}, overwrite)
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
    if distributions:
        cols = read_columns(data, ("x", "T", "P"))
        xs, ts = np.unique(cols["x"]), np.unique(cols["T"])
        if xs.size * ts.size != cols["x"].size:
            raise InvalidInputError(f"{data}: --distributions needs P on a full grid of x "
                                    f"and T ({xs.size} x {ts.size} values, {cols['x'].size} rows)")
        grid = np.full((ts.size, xs.size), np.nan)
        grid[np.searchsorted(ts, cols["T"]), np.searchsorted(xs, cols["x"])] = cols["P"]
        if np.isnan(grid).any():
            raise InvalidInputError(f"{data}: some (x, T) pairs repeat, others are missing")
        model.fit_distributions(xs, ts, grid, epochs=epochs, lbfgs_steps=lbfgs,
                                convexity=convexity, verbose=not quiet)
        n_rows, quality = cols["x"].size, ""
    else:
        if not folder:
            cols = read_columns(data, ("x", "T", "F"))
            x, t, f = cols["x"], cols["T"], cols["F"]
        model.fit(x, t, f, epochs=epochs, lbfgs_steps=lbfgs, derivative_weight=derivative_weight,
                  convexity=convexity, verbose=not quiet)
        rmse = np.sqrt(np.mean((model.predict(x, t)["F"] - f) ** 2))
        n_rows, quality = f.size, f", F rmse {rmse:.3g} (units of F)"
    model.save(output, overwrite)
    click.echo(f"trained on {n_rows} rows ({epochs} Adam epochs, {lbfgs} L-BFGS iterations): "
               f"final loss {model.history_[-1]:.3e}{quality}")
    _report_written([output], quiet)


@zenn_group.command("predict")
@click.argument("model_path", metavar="MODEL.pt")
@click.option("--pressure", type=float, default=0.0, show_default=True, help="GPa.")
@click.option("--temperatures", default=None, metavar="START:STOP:STEP",
              help="Temperature grid, K (default: the training range in 100 steps).")
@click.option("--volumes", "n_volumes", type=int, default=400, show_default=True,
              help="Volume grid points over the training range.")
@click.option("--plot", "plot_path", default=None, metavar="FILE.png",
              help="V(T), thermal expansion and p_k(T).")
@_PHASE_DIAGRAM_OPTION
@common_options(output="Properties per temperature (.csv, or .json with the critical point "
                       "and the coexistence line).")
def zenn_predict(model_path, pressure, temperatures, n_volumes, plot_path, diagram_path, n_jobs,
                 output, overwrite, quiet):
    """V(T), thermal expansion, B, G, Cp and p_k(T) at a pressure from a trained ZENN.

    x is taken as the volume (Å^3, one feature) and F in eV: the properties
    come from the model's F on a (T, V) grid over its training range, by the
    same functions as `quests zentropy`.
    """
    from quests._errors import InvalidInputError
    from quests.io import save_figure, write_json, write_table
    from quests.zenn import ZENN, isobaric_properties

    _check_output(output, {".json", ".csv"}, overwrite)
    _check_output(plot_path, _PLOT_SUFFIXES, overwrite)
    _check_output(diagram_path, _PLOT_SUFFIXES, overwrite)
    _finite_pressure(pressure)
    _volume_count(n_volumes)
    model = ZENN.load(model_path)
    spec = model.spec_
    if spec["n_features"] != 1:
        raise InvalidInputError("predict needs a model of one input feature (the volume)")
    if temperatures is None:
        t = np.linspace(spec["t_min"], spec["t_max"], 101)
    else:
        t = _range(temperatures, "--temperatures")
    v = np.linspace(spec["x_min"][0], spec["x_max"][0], n_volumes)
    grid, p = model.free_energy_grid(t, v)
    iso = isobaric_properties(t, v, grid, pressure, p)
    names = [f"configuration {k}" for k in range(spec["n_configurations"])]
    click.echo(f"at P = {pressure:g} GPa: {_volume_span(iso)}; negative expansion: "
               f"{_spans(t, iso.volumetric_expansion < -EXPANSION_TOLERANCE)}")
    critical, coexistence = _phase_diagram(t, v, grid, diagram_path, overwrite, "ZENN")
    rows = _isobaric_rows(iso, range(spec["n_configurations"]))
    if output is not None:
        if Path(output).suffix.lower() == ".csv":
            write_table(output, rows, overwrite=overwrite)
        else:
            write_json(output, {"inputs": {"model": str(model_path)},
                                "parameters": {"pressure_GPa": pressure},
                                "critical_point": critical, "coexistence": coexistence,
                                "rows": rows},
                       overwrite)
    if plot_path is not None:
        from quests.plotting import plot_zentropy

        save_figure(plot_zentropy(iso, names, label="ZENN"), plot_path, overwrite)
    _report_written([output, plot_path, diagram_path], quiet)

"""``quests zentropy``: free energies of several configurations combined by zentropy."""

from pathlib import Path

import click
import numpy as np

from quests.cli import cli
from quests.cli._entropy import _align, _check_output, common_options


def _range(text, name):
    """START:STOP:STEP (inclusive of STOP when it falls on the grid) as an array."""
    from quests._errors import InvalidInputError

    try:
        start, stop, step = (float(p) for p in text.split(":"))
    except ValueError:
        raise InvalidInputError(f"{name} takes START:STOP:STEP; got {text!r}") from None
    if not (step > 0 and stop > start):
        raise InvalidInputError(f"{name}: need STOP > START and STEP > 0; got {text!r}")
    return np.arange(start, stop + 0.5 * step, step)


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


@cli.command("zentropy")
@click.argument("configs", nargs=-1, required=True, metavar="CONFIG[=G]...")
@click.option("--temperatures", default="5:1200:5", show_default=True,
              metavar="START:STOP:STEP", help="Temperature grid, K.")
@click.option("--pressure", type=float, default=0.0, show_default=True, help="GPa.")
@click.option("--volumes", "n_volumes", type=int, default=400, show_default=True,
              help="Volume grid points over the range every configuration covers.")
@click.option("--debye-scaling", type=float, default=0.617, show_default=True,
              help="Scaling factor of the Moruzzi-Janak-Schwarz Debye temperature.")
@click.option("--gruneisen-x", type=float, default=2.0 / 3.0, show_default=True,
              help="x in the Grüneisen parameter (1 + B')/2 - x.")
@click.option("--plot", "plot_path", default=None, metavar="FILE.png",
              help="V(T), thermal expansion and p_k(T) at the pressure.")
@common_options(output="Properties at the pressure per temperature (.json with the EOS "
                       "fits and the critical point, or .csv).")
def zentropy_command(configs, temperatures, pressure, n_volumes, debye_scaling, gruneisen_x,
                     plot_path, n_jobs, output, overwrite, quiet):
    """Combine configurations by zentropy: F(V, T), V(T), thermal expansion at a pressure.

    Each CONFIG is a folder of per-volume VASP runs (OSZICAR + CONTCAR), an
    extxyz file of structures with energies, or a CSV of volume,energy;
    '=G' gives its multiplicity (default 1). Per configuration: a BM4 fit of
    E(V) plus a Debye-Grüneisen vibrational free energy; then F = -kB T ln
    sum_k g_k exp(-F_k / kB T) and the equilibrium at --pressure.
    """
    from quests.io import save_figure, write_json, write_table
    from quests.zenn import critical_point, isobaric_properties, read_energy_volume, \
        zentropy_from_dft

    _check_output(output, {".json", ".csv"}, overwrite)
    _check_output(plot_path, {".png", ".pdf", ".svg"}, overwrite)
    t = _range(temperatures, "--temperatures")
    parsed = [_config(c) for c in configs]
    data = [read_energy_volume(path) for path, _ in parsed]
    g = [m for _, m in parsed]
    z, free_energies, eos = zentropy_from_dft(data, g, t, n_volumes=n_volumes,
                                              scaling=debye_scaling, x=gruneisen_x)
    iso = isobaric_properties(t, z.volumes, z.free_energy, pressure, z.probabilities)
    first = isobaric_properties(t, z.volumes, free_energies[0], pressure)
    names = [d.label for d in data]
    table = [(d.label, f"{m:g}", f"{e.volume0:.3f}", f"{e.energy0:.4f}", f"{e.bulk_modulus0:.1f}",
              f"{e.bulk_modulus_derivative0:.2f}", f"{e.rms * 1e3:.2f}")
             for d, m, e in zip(data, g, eos)]
    click.echo(_align(("configuration", "g", "V0 (Å^3)", "E0 (eV)", "B0 (GPa)", "B'",
                       "rms (meV)"), table))
    # differences below 0.5 ppm/K are finite-difference noise, not physics
    below = iso.volumetric_expansion < first.volumetric_expansion - EXPANSION_TOLERANCE
    negative = iso.volumetric_expansion < -EXPANSION_TOLERANCE
    click.echo(f"\nat P = {pressure:g} GPa: V from {iso.volume[0]:.3f} to {iso.volume[-1]:.3f} "
               f"Å^3 over {t[0]:g}-{t[-1]:g} K")
    click.echo(f"expansion below {names[0]} alone: {_spans(t, below)}")
    click.echo(f"negative expansion: {_spans(t, negative)}")
    critical = critical_point(t, z.volumes, z.free_energy)
    click.echo("critical point (spinodal closes): " + (
        f"T = {critical[0]:.1f} K, V = {critical[1]:.2f} Å^3" if critical else "none in range"))
    if iso.on_edge.any():
        click.echo(f"warning: at {int(iso.on_edge.sum())} temperatures the minimum lies on the "
                   "edge of the volume range (V(T) there is not an equilibrium)")
    rows = [{"T_K": tk, "V_A3": v, "alpha_V_per_K": a, "alpha_L_per_K": a / 3, "B_GPa": b,
             "G_eV": gg, "S_eV_per_K": s, "Cp_eV_per_K": cp,
             **{f"p_{n}": p for n, p in zip(names, iso.probabilities[:, i])}}
            for i, (tk, v, a, b, gg, s, cp) in enumerate(zip(
                t, iso.volume, iso.volumetric_expansion, iso.bulk_modulus, iso.gibbs_energy,
                iso.entropy, iso.heat_capacity))]
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
                "critical_point": None if critical is None else
                {"T_K": critical[0], "V_A3": critical[1]},
                "rows": rows}, overwrite)
    if plot_path is not None:
        from quests.plotting import plot_zentropy

        save_figure(plot_zentropy(iso, names, reference=first), plot_path, overwrite)
    if not quiet:
        for path in (output, plot_path):
            if path:
                click.echo(f"wrote {path}", err=True)

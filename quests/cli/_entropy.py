"""``quests entropy``, ``quests descriptors`` and ``quests demo``."""

from pathlib import Path

import click
import numpy as np

from quests._defaults import DEFAULT_BANDWIDTH, DEFAULT_CUTOFF, DEFAULT_K
from quests.cli import cli
from quests.cli._options import _asked, _parse_species, _report_written, _write_result, \
    bandwidth_option, check_output, common_options, descriptor_options, scheduler_option


def run_entropy(specs, *, k, cutoff, bandwidth, species, index, fmt, n_jobs, output,
                overwrite, quiet):
    """Shared by ``entropy`` and ``demo``: load, compute, print, write. ``k`` and
    ``cutoff`` None: as the descriptor files hold them, else the defaults."""
    from quests.io import read_datasets
    from quests.report import entropy_report

    bandwidth = bandwidth[0] if len(bandwidth) == 1 else list(bandwidth)
    entropy_report.check_params(k=k if k is not None else DEFAULT_K,
                                cutoff=cutoff if cutoff is not None else DEFAULT_CUTOFF,
                                bandwidth=bandwidth, n_jobs=n_jobs)
    datasets = read_datasets(specs, index, fmt, k=k, cutoff=cutoff,
                             species=_parse_species(species), verbose=not quiet)
    settings = datasets.settings
    report = entropy_report(datasets, settings["k"], settings["cutoff"], bandwidth,
                            species=settings["species"], n_jobs=n_jobs, verbose=not quiet)
    click.echo(report.summary())
    _write_result(output, {**report.to_dict(), "inputs": [str(s) for s in specs],
                           "index": index}, None, overwrite)
    _report_written([output], quiet)


@cli.command()
@scheduler_option
@click.argument("files", nargs=-1, required=True, metavar="FILE[@SLICE] ...")
@descriptor_options
@bandwidth_option(several=True)
@common_options(output="Write the results as JSON (.json).", suffixes={".json"})
@click.pass_context
def entropy(ctx, files, k, cutoff, species, index, fmt, bandwidth, n_jobs, output, overwrite,
            quiet):
    """Entropy H, diversity D and size of each dataset (and of all together).

    FILE is any structure file ase.io reads, optionally with a frame
    selection (traj.xyz@0:100), or a descriptor file from `quests descriptors`.
    A table goes to stdout; -o result.json writes the same as JSON.
    """
    asked = _asked(ctx, k, cutoff, None)
    run_entropy(files, k=asked["k"], cutoff=asked["cutoff"], bandwidth=bandwidth,
                species=species, index=index, fmt=fmt, n_jobs=n_jobs, output=output,
                overwrite=overwrite, quiet=quiet)


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
    run_entropy(files, k=None, cutoff=None, bandwidth=[DEFAULT_BANDWIDTH],
                species=None, index=None, fmt=None, n_jobs=n_jobs, output=None,
                overwrite=False, quiet=quiet)


@cli.command()
@scheduler_option
@click.argument("files", nargs=-1, required=True, metavar="FILE[@SLICE] ...")
@descriptor_options
@click.option("--dtype", type=click.Choice(["float64", "float32"]), default="float64",
              show_default=True, help="Precision of the stored descriptors.")
@click.option("--restart", is_flag=True,
              help="A .zarr output: discard the blocks an interrupted run left and start "
                   "again (default: continue after them).")
@common_options(output="Output .npz file, or a chunked .zarr store for large sets.",
                output_required=True)
def descriptors(files, k, cutoff, species, index, fmt, dtype, restart, n_jobs, output,
                overwrite, quiet):
    """Compute QUESTS descriptors of every atom and save them to OUTPUT (.npz or .zarr).

    The file holds `descriptors` (n_atoms, 2k-1), `structure_index` and
    `atom_index` (where each row comes from), `numbers`, `source` (which FILE)
    and the settings as JSON `metadata`. `quests entropy OUTPUT.npz` reads it.

    A .zarr output is a folder of blocks of whole frames, marked complete only
    at the end. FILES are streamed into it a block at a time, so memory does not
    grow with their size (an OMat24 .aselmdb folder); an interrupted run
    continues where it stopped when run again. With --scheduler the workers
    compute and write the blocks (the structures are read here first).
    `quests entropy OUTPUT.zarr` reads it instead of recomputing.
    """
    from quests import _engine
    from quests.descriptor import compute_descriptors, descriptor_length, store_descriptors, \
        stream_descriptors, structure_species
    from quests.io import check_store_path, read_structure_files

    compute_descriptors.check_params(k=k, cutoff=cutoff, n_jobs=n_jobs)
    species = _parse_species(species)
    metadata = {"inputs": [str(f) for f in files], "index": index}
    streamed = Path(output).suffix.lower() == ".zarr" and not _engine.active()
    if restart and not streamed:
        from quests._errors import InvalidInputError

        raise InvalidInputError("--restart applies to a .zarr output written without "
                                "--scheduler (the only kind an interrupted run leaves blocks "
                                "of)")
    if Path(output).suffix.lower() == ".zarr":
        check_store_path(output, overwrite)
        if streamed:
            _, n_rows, n_structures = stream_descriptors(
                files, output, k, cutoff, index=index, format=fmt,
                species=species, dtype=dtype, metadata=metadata, overwrite=overwrite,
                resume=not restart, n_jobs=n_jobs, verbose=not quiet)
            click.echo(f"{n_rows} environments from {n_structures} structures -> {output}")
            return
    else:
        check_output(output, {".npz"}, overwrite)
    per_file = [read_structure_files([spec], index, fmt, not quiet)[0] for spec in files]
    structures = [s for group in per_file for s in group]
    store_descriptors(structures, output, k, cutoff, species=species, dtype=dtype,
                      sources=np.repeat(np.arange(len(files)), [len(g) for g in per_file]),
                      overwrite=overwrite, n_jobs=n_jobs, verbose=not quiet,
                      metadata=metadata)
    n_rows = sum(len(s) for s in structures)
    n_species = len(structure_species(structures) if species == "all" else species or [])
    width = ("" if Path(output).suffix.lower() == ".zarr" else
             f" x {descriptor_length(k, n_species)} features")
    click.echo(f"{n_rows} environments{width} from {len(structures)} structures -> {output}")

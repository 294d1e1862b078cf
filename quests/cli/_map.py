"""``quests map``: a chemiscope viewer of a dataset."""

import click

from quests.cli import cli
from quests.cli._options import _parse_species, _report_written, bandwidth_option, \
    common_options, descriptor_options


@cli.command(name="map")
@click.argument("files", nargs=-1, required=True, metavar="FILE[@SLICE] ...")
@click.option("-r", "--reference", multiple=True, metavar="FILE[@SLICE]",
              help="Also colour by dH against this data (repeat for several files).")
@click.option("--color", "color", default=None, metavar="PROPERTY",
              help="What the map is coloured by first (any other is a click away in the "
                   "viewer): 'max dH (rest)' (default), 'max dH (reference)', 'entropy', "
                   "'energy per atom', 'atoms', or an info key such as config_type.")
@click.option("--projection", type=click.Choice(["pca", "umap"]), default="pca",
              show_default=True, help="How descriptors are put on the plane (umap needs "
                                      "umap-learn).")
@click.option("--environments", is_flag=True,
              help="One point per atom (descriptor) instead of one per structure.")
@click.option("--max-points", type=click.IntRange(min=2), default=5000, show_default=True,
              help="Points shown at most; beyond, chosen by coverage compression.")
@descriptor_options
@bandwidth_option()
@click.option("--seed", type=int, default=0, show_default=True)
@common_options(output="map.html (a standalone page that opens offline), map.json.gz or "
                       "map.json (chemiscope's input, for its website and Jupyter widget).",
                output_required=True)
def map_command(files, reference, color, projection, environments, max_points, k, cutoff,
                species, index, fmt, bandwidth, seed, n_jobs, output, overwrite, quiet):
    """Write a map of FILES for the chemiscope viewer.

    One point per structure at the PCA (or UMAP) projection of its mean
    descriptor, coloured by what QUESTS measures: its entropy, the max dH
    of its atoms against the rest of the data (or --reference), its energy
    per atom or any info key; the viewer's 3-D panel shows each structure
    with its atoms coloured by dH. Large datasets are thinned for display by
    coverage compression (not at random), and the map says so.
    """
    from quests._optional import require
    from quests.io import map_format, read_structure_files, write_map
    from quests.maps import dataset_map

    map_format(output)  # a wrong suffix, or no chemiscope to write with, fails before any work
    require("chemiscope", "quests map", "map")
    structures, _ = read_structure_files(files, index, fmt, not quiet)
    ref = read_structure_files(reference, index, fmt, not quiet)[0] if reference else None
    result = dataset_map(structures, reference=ref, projection=projection,
                         environments=environments, max_points=max_points, k=k,
                         cutoff=cutoff, species=_parse_species(species), bandwidth=bandwidth,
                         seed=seed, n_jobs=n_jobs, verbose=not quiet)
    name = " ".join(str(f) for f in files)
    data = result.to_chemiscope(name=f"quests map of {name}", color=color)
    write_map(output, data, title=f"quests map: {name}",
              header=f"{name}: {result.note}; {result.projection}", overwrite=overwrite)
    click.echo(result.summary())
    _report_written([output], quiet)

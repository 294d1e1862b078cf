"""Files in, results out: the only module that touches the file system.

Structures are read from ASE databases (``.db`` through ``ase.db``, with
``--select`` queries; ``.aselmdb``, the LMDB files of OMat24/OMol25/OMC25, with
the ``lmdb`` package) and with ``ase.io`` (any format it knows: extxyz, LAMMPS
dump/data, VASP, ASE trajectories, ...); a folder or glob is one dataset.
Results are written atomically: to a temporary file in the destination folder,
then renamed, so a user's file is never half-written, and never replaced unless
``overwrite`` is set.

The package's modules, each one concern: ``_paths`` (specs), ``_structures``
(structure files, the reader registry), ``_databases`` (ASE databases),
``_tables`` (CSV/JSON tables, LAMMPS logs), ``_outputs`` (atomic writers),
``_store`` (.zarr descriptor stores), ``_descriptors`` (descriptor files and
datasets), ``_maps`` (dataset maps for chemiscope). Import every name from ``quests.io``.
"""

from quests.io._descriptors import Datasets, read_datasets, read_descriptors, \
    write_descriptors
from quests.io._outputs import OutputAppearedError, atomic_output, atomic_write, \
    check_distinct_paths, check_output_path, clean_stale_temporaries, output_mode, \
    save_figure, to_jsonable, write_frame, write_json, write_structures, write_table
from quests.io._paths import DESCRIPTOR_SUFFIXES, ReadError, as_slice, check_readable, \
    spec_paths, split_index, split_named
from quests.io._store import DescriptorStore
# the steps of writing a store block by block, for quests.descriptor.store_descriptors and
# the dask engine's tasks (not listed in __all__: store_descriptors is the public way)
from quests.io._store import STORE_ROW_ARRAYS, begin_descriptor_store, check_store_path, \
    discard_descriptor_store, finish_descriptor_store, open_descriptor_store, \
    read_descriptor_store, resumable_descriptor_store, write_store_block  # noqa: F401
from quests.io._databases import write_aselmdb
from quests.io._maps import MAP_SUFFIXES, chemiscope_javascript, map_format, write_map
from quests.io._structures import STRUCTURE_READERS, iter_structures, read_structure_files, \
    names_database, read_structures, row_query, rows_selected, structure_paths
from quests.io._tables import read_columns, read_lammps_thermo, read_oszicar_energy

__all__ = [
    "read_lammps_thermo",
    "split_index",
    "split_named",
    "spec_paths",
    "check_readable",
    "read_columns",
    "ReadError",
    "DescriptorStore",
    "as_slice",
    "read_structures",
    "iter_structures",
    "check_output_path",
    "clean_stale_temporaries",
    "output_mode",
    "OutputAppearedError",
    "atomic_output",
    "atomic_write",
    "write_table",
    "write_json",
    "write_frame",
    "to_jsonable",
    "write_descriptors",
    "read_descriptors",
    "save_figure",
    "DESCRIPTOR_SUFFIXES",
    "Datasets",
    "read_datasets",
    "read_structure_files",
    "write_structures",
    "check_distinct_paths",
    "read_oszicar_energy",
    "write_aselmdb",
    "write_map",
    "map_format",
    "MAP_SUFFIXES",
    "chemiscope_javascript",
    "STRUCTURE_READERS",
    "rows_selected",
    "row_query",
    "names_database",
    "structure_paths",
]

# public objects say they live here (tracebacks, reprs and pickles name quests.io)
for _name in (*__all__, "check_distinct_paths", "check_store_path", "begin_descriptor_store",
              "write_store_block", "finish_descriptor_store", "discard_descriptor_store",
              "open_descriptor_store", "read_descriptor_store", "resumable_descriptor_store"):
    if hasattr(globals()[_name], "__module__"):
        globals()[_name].__module__ = __name__
del _name

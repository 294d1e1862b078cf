"""Zentropy free energies of several configurations (and, with torch, the ZENN model).

Network-free path, numpy only:

- per-configuration Helmholtz energies from DFT E(V) (``quests/zenn/_qha.py``):
  ``read_energy_volume`` (VASP folders, extxyz, CSV), ``read_configurations``
  (a folder of them), ``fit_bm4``, and the
  Debye-Grüneisen vibrational free energy (``helmholtz_energy``).
- the zentropy sum (``quests/zenn/_zentropy.py``): ``zentropy`` combines F_k(V, T) with
  multiplicities g_k; ``isobaric_properties`` gives V(T), thermal expansion,
  G and Cp at a pressure; ``spinodal``, ``critical_point`` and
  ``phase_diagram`` (coexistence line, spinodal pressures, critical point).
- from files to a report (``quests/zenn/_report.py``): ``zentropy_report`` (what
  ``quests zentropy`` prints and writes), ``zentropy_training_data`` (the F(V, T)
  rows a ZENN learns from a folder of configurations), ``zenn_report`` (the same
  properties from a trained model), ``temperature_grid``, ``distribution_grid``.

Every name is imported from ``quests.zenn`` itself.

With torch (``pip install 'quests[zenn]'``): ``ZENN``, the zentropy-enhanced
neural network, trained on free energies or on Boltzmann distributions; its
``free_energy_grid`` feeds the same property functions; ``ZENNClassifier``,
a scikit-learn classifier whose classes are configurations with E_c(x) and
S_c(x), weighted by temperature as in zentropy (``quests/zenn/_classifier.py``).
torch is imported only when a model is built or loaded.
"""

from quests.zenn._atoms import AtomClassification, atom_labels, zenn_classify
from quests.zenn._classifier import ZENNClassifier
from quests.zenn._model import ZENN
from quests.zenn._qha import (
    BM4,
    EnergyVolume,
    debye_free_energy,
    debye_function,
    debye_temperature,
    fit_bm4,
    helmholtz_energy,
    read_configurations,
    read_energy_volume,
)
from quests.zenn._report import (
    EXPANSION_TOLERANCE,
    MAX_GRID_POINTS,
    ZentropyReport,
    distribution_grid,
    read_training_data,
    temperature_grid,
    zenn_report,
    zentropy_report,
    zentropy_training_data,
)
from quests.zenn._zentropy import (
    IsobaricProperties,
    PhaseDiagram,
    Zentropy,
    critical_point,
    isobaric_properties,
    phase_diagram,
    spinodal,
    zentropy,
    zentropy_from_dft,
)

__all__ = ["ZENN", "ZENNClassifier", "AtomClassification", "atom_labels", "zenn_classify",
           "BM4", "EXPANSION_TOLERANCE", "MAX_GRID_POINTS",
           "EnergyVolume",
           "IsobaricProperties", "PhaseDiagram", "Zentropy", "ZentropyReport",
           "distribution_grid", "read_training_data", "temperature_grid", "zenn_report",
           "zentropy_report", "zentropy_training_data",
           "critical_point", "phase_diagram",
           "debye_free_energy", "debye_function", "debye_temperature", "fit_bm4",
           "helmholtz_energy", "isobaric_properties", "read_configurations",
           "read_energy_volume", "spinodal",
           "zentropy", "zentropy_from_dft"]

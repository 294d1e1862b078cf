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

Every name is imported from ``quests.zenn`` itself.

With torch (``pip install 'quests[zenn]'``): ``ZENN``, the zentropy-enhanced
neural network, trained on free energies or on Boltzmann distributions; its
``free_energy_grid`` feeds the same property functions. torch is imported
only when a ZENN is built or loaded.
"""

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

__all__ = ["ZENN", "BM4", "EnergyVolume", "IsobaricProperties", "PhaseDiagram", "Zentropy",
           "critical_point", "phase_diagram",
           "debye_free_energy", "debye_function", "debye_temperature", "fit_bm4",
           "helmholtz_energy", "isobaric_properties", "read_configurations",
           "read_energy_volume", "spinodal",
           "zentropy", "zentropy_from_dft"]

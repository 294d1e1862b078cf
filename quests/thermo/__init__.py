"""Thermodynamics from MD trajectories through the information entropy of environments.

- ``TrajectoryEntropy``: H(t) and mean dH(t) of each frame (fixed bandwidth
  or the volume rule h(V)) and the events where they change abruptly
  (``detect_events``).
- ``PhaseClassifier`` / ``PhaseAnalysis``: each atom labelled by the
  reference phase (solid, liquid, ...) that explains its environment best,
  and per-frame phase fractions.
- ``NucleationAnalysis``: clusters of solid-like atoms, the largest one in
  time, the onset of growth and a classical-nucleation-theory fit
  (``fit_cnt``) of the cluster-size distribution.
- ``common_neighbor_analysis``: the structural baseline (fcc, hcp, bcc,
  ico, other; fixed or adaptive cutoff) that entropy labels are checked
  against.
- ``phase_states`` / ``phase_boundary``: dG(T, P) = dU + P dV - kB T dH per
  atom between two phases and the coexistence temperature where dG = 0 at
  each pressure; ``phase_boundary_line``: U, V, H of each phase fitted as
  smooth surfaces over (T, P) (``fit_state_surface``) and the line T(P)
  where dG = 0, with its error band; ``phase_boundary_report``: all of it from the
  frames of two phases (what ``quests phase-boundary`` prints), with LAMMPS logs
  joined by ``attach_thermo_logs``.

Every analysis over frames follows ``quests.analysis.FrameAnalysis``:
``.run(frames)`` returns itself with the results in ``.results``.
"""

from quests.thermo._boundary import (
    EV_PER_A3_PER_GPA,
    BoundaryLine,
    PhaseBoundary,
    PhaseState,
    StateSurface,
    check_line_pressures,
    coexistence_temperature,
    fit_state_surface,
    gibbs_difference,
    phase_boundary,
    phase_boundary_line,
    phase_state,
    phase_states,
    state_pressure,
)
from quests.thermo._cna import BCC, CNA_NAMES, FCC, HCP, ICO, OTHER, common_neighbor_analysis
from quests.thermo._events import Event, detect_events, jump_scores, signal_noise
from quests.thermo._frames import (
    attach_thermo,
    frame_value,
    potential_energy,
    volume_bandwidth,
    volume_per_atom,
)
from quests._units import BOLTZMANN_EV
from quests.thermo._nucleation import (
    CNTFit,
    NucleationAnalysis,
    cluster_size_distribution,
    fit_cnt,
    onset_frame,
    solid_clusters,
)
from quests.thermo._report import PhaseBoundaryReport, attach_thermo_logs, \
    phase_boundary_report, read_phases
from quests.thermo._phases import UNKNOWN, PhaseAnalysis, PhaseClassifier, first_shell_pairs
from quests.thermo._trajectory import BandwidthRule, TrajectoryEntropy, merge_events

__all__ = [
    "BOLTZMANN_EV", "EV_PER_A3_PER_GPA", "UNKNOWN", "CNA_NAMES", "FCC", "HCP", "BCC", "ICO",
    "OTHER", "common_neighbor_analysis", "BandwidthRule", "BoundaryLine", "CNTFit", "Event",
    "NucleationAnalysis", "PhaseAnalysis", "PhaseBoundary", "PhaseClassifier", "PhaseState",
    "StateSurface", "TrajectoryEntropy", "attach_thermo", "check_line_pressures",
    "cluster_size_distribution", "coexistence_temperature", "detect_events",
    "first_shell_pairs", "fit_cnt", "fit_state_surface", "frame_value", "jump_scores",
    "merge_events", "onset_frame", "phase_boundary", "phase_boundary_line", "phase_state",
    "phase_states", "potential_energy", "signal_noise", "solid_clusters", "volume_bandwidth",
    "volume_per_atom", "gibbs_difference", "state_pressure", "PhaseBoundaryReport",
    "attach_thermo_logs", "phase_boundary_report", "read_phases",
]

"""Physical constants in the package's units (eV, Å, K, GPa), in one place.

Light enough for the command line to import.
"""

#: Boltzmann constant, eV/K (CODATA 2018, exact)
BOLTZMANN_EV = 8.617333262e-5
#: 1 eV/Å^3 in GPa
GPA_PER_EV_PER_A3 = 160.21766208

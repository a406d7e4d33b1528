"""The vanishing-gradient lab (Section 5.2): gradient flow through time, Jacobian
products and spectra, the Pascanu bound, gradient clipping, long-lag tasks and
Figure 5.2's numbers (the figure is drawn in ``seqlm.figures.gradients``). See
docs/vanishing_gradients.md.

torch and matplotlib are imported only by the submodules that need them.
"""
from seqlm.analysis.flow import CellFlow, GradientFlow, gradient_flow
from seqlm.analysis.summary import describe, write_tables
from seqlm.analysis.theory import (DecayFit, fit_decay_rate, pascanu_bound, scale_to_sigma_max,
                                   sigma_max, spectral_radius)

__all__ = ["gradient_flow", "GradientFlow", "CellFlow", "write_tables", "describe", "fit_decay_rate", "DecayFit", "pascanu_bound",
           "scale_to_sigma_max", "sigma_max", "spectral_radius"]

"""Imports a module that is not installed."""
import numpy as np  # noqa: F401
import seqlm_no_such_module  # noqa: F401

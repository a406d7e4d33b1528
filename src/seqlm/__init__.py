"""seqlm: recurrent sequence models and language models, from the equations up.

The public API is small and re-exported here; see the README for a tour.
"""
__version__ = "0.1.0"

from seqlm.errors import SeqlmError
from seqlm.metrics import Evaluation, summarize

__all__ = ["__version__", "SeqlmError", "Evaluation", "summarize"]

"""NumPy float64 reference of the chapter's equations (5.1)-(5.11), each forward
beside its hand-derived backward. Slow-ish, readable, and the ground truth the
PyTorch layers are tested against."""
from seqlm.reference._common import (
                                     Grads,
                                     orthogonal,
                                     scale_to_sigma_max,
                                     scale_to_spectral_radius,
                                     sigma_max,
                                     sigmoid,
)
from seqlm.reference.gradcheck import check_gradients, numerical_grad, rel_error
from seqlm.reference.gru import GRU, gru_param_shapes
from seqlm.reference.lstm import LSTM
from seqlm.reference.output import SoftmaxOutput, log_softmax, softmax
from seqlm.reference.rnn import RNN
from seqlm.reference.stack import Stack

__all__ = ["RNN", "LSTM", "GRU", "SoftmaxOutput", "Stack", "Grads", "softmax", "log_softmax",
           "sigmoid", "sigma_max", "scale_to_sigma_max", "scale_to_spectral_radius", "orthogonal",
           "gru_param_shapes", "numerical_grad", "rel_error", "check_gradients"]

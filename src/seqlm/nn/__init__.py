"""PyTorch recurrent layers (explicit cells and fused backends) and clipping."""
from seqlm.nn.cells import (GATE_NAMES, ExplicitGRU, ExplicitLayer, ExplicitLSTM,
                            ExplicitRNN, make_layer)
from seqlm.nn.clip import clip_grad_norm_, clip_grad_value_, clip_norm_np
from seqlm.nn.convert import (explicit_to_fused, explicit_to_reference,
                              explicit_to_torch_weights, fused_to_explicit,
                              load_reference_params, reference_params,
                              reference_to_explicit, torch_to_explicit_weights)
from seqlm.nn.init import init_layer_tensors
from seqlm.nn.stack import RecurrentStack, explicit_layers

__all__ = ["RecurrentStack", "ExplicitLayer", "ExplicitRNN", "ExplicitLSTM", "ExplicitGRU",
           "make_layer", "explicit_layers", "GATE_NAMES", "explicit_to_fused", "fused_to_explicit",
           "reference_params", "load_reference_params", "explicit_to_reference",
           "reference_to_explicit", "explicit_to_torch_weights", "torch_to_explicit_weights",
           "init_layer_tensors", "clip_grad_norm_", "clip_grad_value_", "clip_norm_np"]

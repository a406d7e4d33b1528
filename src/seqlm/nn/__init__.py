"""PyTorch recurrent layers (explicit cells and fused backends) and clipping."""
from seqlm.nn.clip import clip_grad_norm_, clip_grad_value_

__all__ = ["clip_grad_norm_", "clip_grad_value_"]

"""Devices, precision and torchrun-launched data parallelism."""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from seqlm.errors import SeqlmError
from seqlm.lm.base import map_state, state_to

DEVICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(name: str = "auto", local_rank: int | None = None) -> torch.device:
    """``auto`` → CUDA, else MPS, else CPU. An unavailable device is a user error."""
    if name not in DEVICES and not name.startswith("cuda:"):
        raise SeqlmError(f"unknown device {name!r} (choose from {', '.join(DEVICES)})")
    if name == "auto":
        if torch.cuda.is_available():
            name = "cuda"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            name = "mps"
        else:
            name = "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise SeqlmError("--device cuda: no CUDA device is available")
        if name == "cuda" and local_rank is not None:
            name = f"cuda:{local_rank}"
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise SeqlmError("--device mps: MPS is not available")
    return torch.device(name)


def bf16_supported(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            return False
    return False


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` → bf16 autocast on CPUs that compute bf16 natively (AVX-512 BF16 /
    AMX), fp32 elsewhere. On CUDA the chapter's models are small and
    latency-bound: autocast's casts cost more than bf16 saves (measured on an
    H100, docs/benchmarks/ptb_lm.md), so ``auto`` keeps fp32 there."""
    if precision == "auto":
        return "bf16" if device.type == "cpu" and bf16_supported(device) else "fp32"
    if precision == "bf16" and not bf16_supported(device):
        raise SeqlmError(f"--precision bf16: not supported on this {device.type} device")
    return precision


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owns_group: bool = False    # we created the process group (and destroy it at the end)

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device_name: str = "auto") -> DistInfo:
    """Join the process group when launched by ``torchrun`` (``WORLD_SIZE`` > 1):
    NCCL on CUDA, gloo on CPU. A plain launch returns a world of one."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    import torch.distributed as dist
    info = DistInfo(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        use_cuda = device_name in ("auto", "cuda") and torch.cuda.is_available()
        if use_cuda:
            torch.cuda.set_device(info.local_rank)
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
        info.owns_group = True
    return info


def finish_distributed(info: DistInfo) -> None:
    if info.owns_group:
        import torch.distributed as dist
        if dist.is_initialized():
            dist.destroy_process_group()
        info.owns_group = False


# ------------------------------------------------------------------ collectives
def all_gather_float(info: DistInfo, device: torch.device, x: float) -> list[float]:
    """``x`` from every rank (a list of one without torchrun)."""
    if not info.enabled:
        return [x]
    import torch.distributed as dist
    dev = device if device.type == "cuda" else "cpu"
    t = torch.tensor([x], dtype=torch.float64, device=dev)
    parts = [torch.empty_like(t) for _ in range(info.world_size)]
    dist.all_gather(parts, t)
    return [float(p.item()) for p in parts]


def gather_state(info: DistInfo, state, dim: int):
    """The full (all ranks') carried state on CPU, for a checkpoint."""
    if not info.enabled:
        return state_to(state, "cpu")
    import torch.distributed as dist

    def gather(t):
        parts = [torch.empty_like(t) for _ in range(info.world_size)]
        dist.all_gather(parts, t.contiguous())
        return torch.cat(parts, dim=dim).cpu()
    return map_state(gather, state)


def local_slice(info: DistInfo, state, dim: int, batch_size: int, device: torch.device):
    """This rank's columns of a full carried state, on its device."""
    if not info.enabled:
        return state_to(state, device)
    b = batch_size // info.world_size
    return map_state(lambda t: t.narrow(dim, info.rank * b, b).contiguous().to(device), state)

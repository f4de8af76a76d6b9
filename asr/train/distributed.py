"""Data-parallel training across processes with ``torch.distributed``, launched by ``torchrun``.

``torchrun`` starts one process per GPU (or per group of CPU cores) and tells
each its place through environment variables (``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``); several nodes meet through
its rendezvous.  Without those variables, or with ``WORLD_SIZE=1``, nothing
here starts a process group and training runs as one plain process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")


@dataclass(frozen=True)
class World:
    """This process's place among the training processes."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0  # rank within this node: picks the GPU
    owns_group: bool = False  # this process started the process group, so it ends it

    @property
    def is_main(self) -> bool:
        """Rank 0 alone writes checkpoints, logs and plots."""
        return self.rank == 0


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value) if value else default
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r} is not an integer") from None


def init(device_type: str) -> World:
    """Join the process group that torchrun's environment describes (NCCL on CUDA, gloo on CPU).

    Returns the single-process world when ``WORLD_SIZE`` is unset or 1.
    """
    size = _env_int("WORLD_SIZE", 1)
    if size <= 1:
        return World()
    rank, local_rank = _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
    if not 0 <= rank < size:
        raise ValueError(f"RANK={rank} is outside WORLD_SIZE={size}")
    if device_type == "cuda":
        torch.cuda.set_device(local_rank)  # before the group: NCCL binds to the current device
    owns = not dist.is_initialized()
    if owns:
        dist.init_process_group("nccl" if device_type == "cuda" else "gloo", rank=rank, world_size=size)
    return World(rank, size, local_rank, owns)


def finish(world: World) -> None:
    """Leave the process group if :func:`init` started it."""
    if world.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def on_main(world: World, fn: Callable[[], T]) -> T:
    """Run ``fn`` on rank 0 only and hand its result to every rank.

    An error there is raised on every rank, so no rank is left waiting in a
    collective for a rank that failed.
    """
    if world.size == 1:
        return fn()
    payload: list[object] = [None]
    if world.is_main:
        try:
            payload = [(True, fn())]
        except Exception as error:  # noqa: BLE001 - re-raised on every rank below
            payload = [(False, error)]
    dist.broadcast_object_list(payload, src=0)
    ok, value = payload[0]  # type: ignore[misc]
    if not ok:
        raise value
    return value


def all_sum(world: World, values: list[float]) -> list[float]:
    """Element-wise sum of ``values`` over all ranks (the values themselves with one process)."""
    if world.size == 1:
        return values
    device = torch.device("cuda", world.local_rank) if dist.get_backend() == "nccl" else torch.device("cpu")
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.tolist()


def all_gather(world: World, value: T) -> list[T]:
    """Every rank's ``value`` (any picklable object), in rank order."""
    if world.size == 1:
        return [value]
    gathered: list[T] = [value] * world.size
    dist.all_gather_object(gathered, value)
    return gathered


def barrier(world: World) -> None:
    """Wait until every rank gets here."""
    if world.size > 1:
        dist.barrier(device_ids=[world.local_rank] if dist.get_backend() == "nccl" else None)

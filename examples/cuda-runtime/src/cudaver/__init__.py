"""The CUDA runtime's version, from a C extension linked against the nvidia-cuda-runtime wheel."""

from ._cudart import runtime_version

__all__ = ["runtime_version"]

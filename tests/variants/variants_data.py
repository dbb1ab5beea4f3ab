"""Shared test data for the variant tests."""

from __future__ import annotations

from typing import Any

FASTTHING: dict[str, Any] = {
    "project": {"name": "fastthing", "version": "1.2.0"},
    "variant": {
        "default-priorities": {"namespace": ["x86_64", "blas_lapack"]},
        "providers": {
            "x86_64": {"requires": ["provider-variant-x86-64 >=0.0.1"]},
            "blas_lapack": {"static-properties": {"library": ["openblas", "mkl"]}},
        },
        "variants": {
            "v3_openblas": {"x86_64": {"level": ["v3"]}, "blas_lapack": {"library": ["openblas"]}},
            "mkl": {"blas_lapack": {"library": ["mkl"]}},
        },
    },
}

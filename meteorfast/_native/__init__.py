"""Compiled kernels: ``cpu`` (always built) and ``cuda`` (built when nvcc was found). Import them through
:mod:`meteorfast.cam`, which says what was built and falls back to the NumPy reference."""

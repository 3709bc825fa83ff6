"""Batched multi-temperature fits of spectra and band photometry.

:func:`fit_spectra` fits every spectrum of an observation Dataset (numpy or dask backed);
:func:`select_model` compares 1T/2T/3T per spectrum. The compiled engine lives in
:mod:`thermal._kernels.fit`; :mod:`thermal.fit.engine` is its Python face.
"""

from thermal.fit.engine import STATUS, STATUS_MESSAGES, fit_arrays, fit_spectra
from thermal.fit.selection import select_model

__all__ = ["STATUS", "STATUS_MESSAGES", "fit_arrays", "fit_spectra", "select_model"]

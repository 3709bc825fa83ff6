"""Batched fits of spectra and band photometry.

:func:`fit_spectra` fits every spectrum of an observation Dataset (numpy or dask backed) with
any model of :mod:`thermal.models` (the one engine); :func:`fit` does the same for plain numpy
arrays and :func:`report` describes one fitted spectrum in words; :func:`select_model` compares
1T/2T/3T per spectrum. The compiled solvers live in :mod:`thermal._kernels`;
:mod:`thermal.fit.engine` is their Python face. Statuses are :class:`thermal.status.Status` codes.
"""

from thermal.fit.engine import Channels, fit_arrays, fit_spectra
from thermal.fit.report import fit, report
from thermal.fit.selection import select_model
from thermal.status import Status

__all__ = ["Channels", "Status", "fit", "fit_arrays", "fit_spectra", "report", "select_model"]

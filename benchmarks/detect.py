"""Hot-spot detection: frames/s of thermal.detect.find_hotspots against a plain photutils
pipeline (Background2D + detect_sources + SourceCatalog) on the same synthetic JIRAM halves.

Each frame is a 128 x 432 half (lit disk with limb, or dark night side) of a 256-line JIRAM
imager frame, with 8 spots of SNR 10-300 (thermal.detect.synthetic_frame). Goal: <= 1 s per
256-line frame (two halves). Also printed: completeness for SNR >= 10, false positives per
frame at nsigma 5, median centroid error [px], the fraction of centroids within 0.3 px and
median |radiance_sum| error of the spots with SNR >= 50 (found by both).
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from astropy.utils.exceptions import AstropyUserWarning
from photutils.background import Background2D, MedianBackground
from photutils.segmentation import SourceCatalog, detect_sources, make_2dgaussian_kernel
from photutils.utils import NoDetectionsWarning
from scipy import ndimage

from benchmarks._common import print_table
from thermal.detect import find_hotspots, synthetic_frame


def plain_photutils(image, nsigma=5.0):
    """The textbook photutils pipeline: (line, sample, sum) arrays."""
    bkg = Background2D(image, (32, 32), filter_size=(3, 3), bkg_estimator=MedianBackground())
    data = image - bkg.background
    kernel = make_2dgaussian_kernel(2.355, size=5).array
    convolved = ndimage.convolve(data, kernel)
    noise = bkg.background_rms * np.sqrt((kernel**2).sum())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoDetectionsWarning)
        segm = detect_sources(convolved, nsigma * noise, 3)
    if segm is None:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    cat = SourceCatalog(data, segm, convolved_data=convolved)
    return np.asarray(cat.y_centroid), np.asarray(cat.x_centroid), np.asarray(cat.segment_flux)


def _score(lines, samples, sums, truth):
    found, errors, sum_errors, taken = 0, [], [], set()
    for k in range(truth.sizes["hotspot"]):
        d = np.hypot(lines - truth.line.values[k], samples - truth.sample.values[k])
        j = int(np.argmin(d)) if d.size else -1
        if j >= 0 and d[j] < 1.5 and j not in taken:
            taken.add(j)
            found += truth.snr.values[k] >= 10
            errors.append(d[j])
            if truth.snr.values[k] >= 50:
                sum_errors.append(abs(sums[j] / truth.radiance_sum.values[k] - 1))
    return found, int((truth.snr.values >= 10).sum()), len(lines) - len(taken), errors, sum_errors


def main(quick: bool = False) -> None:
    n = 4 if quick else 20
    frames = [
        synthetic_frame(seed=s, disk="lit" if s % 2 else "dark", spots=8, pairs=0)
        for s in range(n)
    ]
    rows = []
    for name in ("thermal find_hotspots", "plain photutils"):
        elapsed, found, total, false, errors, sum_errors = 0.0, 0, 0, 0, [], []
        for image, truth in frames:
            start = time.perf_counter()
            if name.startswith("thermal"):
                out = find_hotspots(image)
                result = (out.line.values, out.sample.values, out.radiance_sum.values)
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", AstropyUserWarning)
                    result = plain_photutils(image.values)
            elapsed += time.perf_counter() - start
            f, t, fp, e, se = _score(*result, truth)
            found, total, false = found + f, total + t, false + fp
            errors += e
            sum_errors += se
        per_half = elapsed / n
        rows.append(
            (
                name,
                n,
                1.0 / per_half,
                per_half,
                2 * per_half,
                "yes" if 2 * per_half <= 1.0 else "no",
                found / max(total, 1),
                false / n,
                float(np.median(errors)),
                float(np.mean(np.asarray(errors) <= 0.3)),
                float(np.median(sum_errors)),
            )
        )
    print_table(
        "hot-spot detection on 128 x 432 JIRAM halves (goal <= 1 s per 256-line frame)",
        [
            "pipeline",
            "halves",
            "halves/s",
            "s/half",
            "s/frame",
            "goal met",
            "completeness SNR>=10",
            "false pos./half",
            "median centroid err [px]",
            "centroids within 0.3 px",
            "median |sum err| SNR>=50",
        ],
        rows,
    )

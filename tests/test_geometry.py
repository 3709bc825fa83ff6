"""Viewing geometry (thermal.geometry): backplanes, label values, SPICE intercepts checked
against exact values and spiceypy.sincpt on kernels written here, the limb (pointing)
correction, and the intensity and flux of hot spots."""

from __future__ import annotations

import math
import os
import textwrap

import numpy as np
import pytest
import xarray as xr

from thermal import geometry
from thermal.layout import InputError

IO_RADII = (1829.4, 1819.4, 1815.7)  # [km], IAU 2015 (pck00011)
DISTANCE = 1.0e5  # [km] spacecraft to Io's centre in the static scene
TEST_IFOV = 1.5e-3  # [rad]: Io spans ~24 pixels at DISTANCE
FRAME = "TEST_JIRAM"
IO_AT = (7.0e8, 1.0e8, -2.0e7)  # [km] Io from the solar-system barycentre


# --------------------------------------------------------------------------- kernels


def _text_kernel(path, kind, body):
    path.write_text(f"KPL/{kind}\n\\begindata\n{textwrap.dedent(body)}\n\\begintext\n")
    return path


def _frame_kernel(path, matrix):
    """A fixed (TK) instrument frame relative to J2000: ``matrix`` maps instrument to J2000
    vectors (its columns are the instrument axes in J2000)."""
    columns = np.asarray(matrix, dtype=float).T  # SPICE reads the matrix by columns
    values = "\n        ".join(" ".join(f"{v:.17g}" for v in column) for column in columns)
    return _text_kernel(
        path,
        "FK",
        f"""
        NAIF_BODY_NAME += ( 'JUNO' )
        NAIF_BODY_CODE += ( -61 )
        FRAME_{FRAME} = -61999
        FRAME_-61999_NAME = '{FRAME}'
        FRAME_-61999_CLASS = 4
        FRAME_-61999_CLASS_ID = -61999
        FRAME_-61999_CENTER = -61
        TKFRAME_-61999_RELATIVE = 'J2000'
        TKFRAME_-61999_SPEC = 'MATRIX'
        TKFRAME_-61999_MATRIX = ( {values} )
        """,
    )


def _pck(path, pole_ra=270.0, pole_dec=90.0, pm=(0.0, 0.0)):
    """Io's radii and orientation; the defaults make IAU_IO equal to J2000 at every epoch."""
    return _text_kernel(
        path,
        "PCK",
        f"""
        BODY501_RADII = ( {IO_RADII[0]} {IO_RADII[1]} {IO_RADII[2]} )
        BODY501_POLE_RA = ( {pole_ra} 0.0 0.0 )
        BODY501_POLE_DEC = ( {pole_dec} 0.0 0.0 )
        BODY501_PM = ( {pm[0]} {pm[1]} 0.0 )
        """,
    )


def _lsk(path):
    """A minimal leapseconds kernel (the DELTET values of naif0012, leap seconds to 2017)."""
    steps = [
        (10, "1972-JAN-1"), (11, "1972-JUL-1"), (12, "1973-JAN-1"), (13, "1974-JAN-1"),
        (14, "1975-JAN-1"), (15, "1976-JAN-1"), (16, "1977-JAN-1"), (17, "1978-JAN-1"),
        (18, "1979-JAN-1"), (19, "1980-JAN-1"), (20, "1981-JUL-1"), (21, "1982-JUL-1"),
        (22, "1983-JUL-1"), (23, "1985-JUL-1"), (24, "1988-JAN-1"), (25, "1990-JAN-1"),
        (26, "1991-JAN-1"), (27, "1992-JUL-1"), (28, "1993-JUL-1"), (29, "1994-JUL-1"),
        (30, "1996-JAN-1"), (31, "1997-JUL-1"), (32, "1999-JAN-1"), (33, "2006-JAN-1"),
        (34, "2009-JAN-1"), (35, "2012-JUL-1"), (36, "2015-JUL-1"), (37, "2017-JAN-1"),
    ]  # fmt: skip
    table = ",\n    ".join(f"{n}, @{date}" for n, date in steps)
    return _text_kernel(
        path,
        "LSK",
        f"""
        DELTET/DELTA_T_A = 32.184
        DELTET/K = 1.657D-3
        DELTET/EB = 1.671D-2
        DELTET/M = ( 6.239996D0 1.99096871D-7 )
        DELTET/DELTA_AT = ( {table} )
        """,
    )


def _spk(path, io_state, sc_state, span=1.0e5):
    """Io about the barycentre and JUNO about Io, each moving uniformly (exact in a type 8
    linear-Lagrange segment) over [-span, span] s."""
    import spiceypy as sp

    epochs = np.array([-span, span])
    handle = sp.spkopn(str(path), "thermal test", 0)
    try:
        for body, centre, state in ((501, 0, io_state), (-61, 501, sc_state)):
            state = np.asarray(state, dtype=float)
            states = [np.concatenate([state[:3] + state[3:] * t, state[3:]]) for t in epochs]
            sp.spkw08(
                handle, body, centre, "J2000", -span, span, f"body {body}", 1, 2, states,
                -span, 2 * span,
            )  # fmt: skip
    finally:
        sp.spkcls(handle)
    return path


def _look_at(direction, up=(0.0, 0.0, 1.0)):
    """Instrument-to-J2000 matrix with +Z along ``direction`` and +X (decreasing line) as
    near ``up`` as possible; +Y = Z x X (increasing sample)."""
    z = np.asarray(direction, dtype=float)
    z = z / np.linalg.norm(z)
    x = np.asarray(up, dtype=float) - np.dot(up, z) * z
    x /= np.linalg.norm(x)
    return np.column_stack([x, np.cross(z, x), z])


@pytest.fixture(scope="module")
def spiceypy():
    sp = pytest.importorskip("spiceypy")
    before = sp.ktotal("ALL")
    yield sp
    assert sp.ktotal("ALL") == before, "kernels left loaded"


@pytest.fixture(scope="module")
def static_scene(tmp_path_factory, spiceypy):
    """Io fixed at IAU_IO = J2000, JUNO at rest on Io's +X axis at DISTANCE, the boresight at
    Io's centre, lines running south and samples east: every intercept is known exactly
    (no motion: light time and stellar aberration change nothing)."""
    folder = tmp_path_factory.mktemp("static")
    _pck(folder / "io.tpc")
    _frame_kernel(folder / "camera.tf", _look_at((-1.0, 0.0, 0.0)))
    _spk(folder / "scene.bsp", (*IO_AT, 0.0, 0.0, 0.0), (DISTANCE, 0.0, 0.0, 0.0, 0.0, 0.0))
    _lsk(folder / "naif.tls")
    meta = _text_kernel(
        folder / "scene.tm",
        "MK",
        """
        PATH_VALUES = ( '.' )
        PATH_SYMBOLS = ( 'HERE' )
        KERNELS_TO_LOAD = ( '$HERE/io.tpc', 'camera.tf',
                            'sce+', 'ne.bsp', 'naif.tls' )
        """,
    )
    return meta


@pytest.fixture(scope="module")
def moving_scene(tmp_path_factory, spiceypy):
    """A realistic moving scene: Io at 17 km/s plus Jupiter's 13 km/s about the barycentre,
    JUNO 80,000 km away passing at 55 km/s, Io's real pole and spin (pck00011)."""
    folder = tmp_path_factory.mktemp("moving")
    _pck(folder / "io.tpc", pole_ra=268.05, pole_dec=64.50, pm=(200.39, 203.4889538))
    sc = np.array([-60000.0, 45000.0, 30000.0, 20.0, -50.0, 10.0])
    _frame_kernel(folder / "camera.tf", _look_at(-sc[:3]))
    _spk(folder / "scene.bsp", (*IO_AT, 12.0, -17.0, 9.0), sc)
    return [str(folder / n) for n in ("io.tpc", "camera.tf", "scene.bsp")]


def _exact(line, sample, shape, ifov=TEST_IFOV):
    """Exact intercept of pixel (line, sample) in the static scene, solved here by hand:
    lat, lon [degree], emission [degree], range [km]."""
    l0, s0 = (shape[0] - 1) / 2, (shape[1] - 1) / 2
    x, y = -(line - l0) * ifov, (sample - s0) * ifov  # instrument X = north, Y = east
    d = np.array([-1.0, y, x])  # instrument +Z = -X of IAU_IO
    o = np.array([DISTANCE, 0.0, 0.0])
    r = np.array(IO_RADII)
    a, b, c = np.sum((d / r) ** 2), np.sum(o * d / r**2), np.sum((o / r) ** 2) - 1
    t = (-b - math.sqrt(b * b - a * c)) / a
    p = o + t * d
    n = p / r**2
    cos_e = np.dot(n, -d) / np.linalg.norm(n) / np.linalg.norm(d)
    lat = math.degrees(math.atan2(p[2], math.hypot(p[0], p[1])))
    lon = math.degrees(math.atan2(p[1], p[0])) % 360.0
    return lat, lon, math.degrees(math.acos(cos_e)), t * np.linalg.norm(d)


def _angle_difference(a, b):
    return np.abs((np.asarray(a) - np.asarray(b) + 180.0) % 360.0 - 180.0)


# --------------------------------------------------------------------------- SPICE


def test_spice_static_scene_exact(static_scene):
    shape = (31, 41)
    g = geometry.from_spice(static_scene, 0.0, shape=shape, ifov=TEST_IFOV, frame=FRAME)
    assert g.attrs["geometry_source"] == "spice"
    assert g["latitude"].dims == ("line", "sample")
    centre = g.isel(line=15, sample=20)
    assert abs(float(centre["latitude"])) < 1e-9
    assert _angle_difference(float(centre["longitude"]), 0.0) < 1e-9
    assert float(centre["emission_angle"]) < 1e-6
    assert float(centre["range"]) == pytest.approx((DISTANCE - IO_RADII[0]) * 1e3, rel=1e-12)
    on = np.isfinite(g["latitude"].values)
    assert 300 < on.sum() < 31 * 41 - 200  # a disk with sky around it
    worst = np.zeros(3)
    values = {name: g[name].values for name in g.data_vars}
    for line, sample in zip(*np.nonzero(on), strict=True):
        lat, lon, e, r = _exact(line, sample, shape)
        worst = np.maximum(
            worst,
            [
                abs(values["latitude"][line, sample] - lat),
                _angle_difference(values["longitude"][line, sample], lon),
                abs(values["emission_angle"][line, sample] - e),
            ],
        )
        assert values["range"][line, sample] == pytest.approx(r * 1e3, rel=1e-9)
    assert worst.max() < 1e-6  # [degree]; 0.01 required
    # north is up (line 0) and east to the right (samples increase)
    assert float(g["latitude"][5, 20]) > 0 and 0 < float(g["longitude"][15, 30]) < 90
    # the intercepts off the disk are NaN, and so are the rays that miss
    assert np.isnan(g["emission_angle"][0, 0]) and np.isnan(g["range"][0, 0])


def test_spots_on_spice_geometry(static_scene):
    shape = (31, 41)
    g = geometry.from_spice(static_scene, 0.0, shape=shape, ifov=TEST_IFOV, frame=FRAME)
    edge = int(np.nonzero(np.isfinite(g["latitude"].values[15]))[0].max())  # last on disk
    spots = _spots([15.0, 14.5, 15.0, 15.0], [20.0, 26.25, edge, edge + 1], [1.0, 2.0, 3.0, 4.0])
    out = geometry.spot_geometry(spots, g, ifov=TEST_IFOV)
    assert out.attrs["geometry_source"] == "spice"
    assert abs(out["latitude"].values[0]) < 1e-9 and out["emission_angle"].values[0] < 1e-6
    r = (DISTANCE - IO_RADII[0]) * 1e3
    assert out["intensity"].values[0] == pytest.approx(1.0 * (r * TEST_IFOV) ** 2, rel=1e-9)
    assert out["spectral_flux"].values[0] == pytest.approx(math.pi * (r * TEST_IFOV) ** 2)
    # between pixel centres: bilinear, close to the exact intercept of that direction
    lat, lon, e, _ = _exact(14.5, 26.25, shape)
    assert (
        abs(out["latitude"].values[1] - lat) < 0.05 and abs(out["longitude"].values[1] - lon) < 0.1
    )
    assert abs(out["emission_angle"].values[1] - e) < 0.2
    np.testing.assert_array_equal(out["limb"].values, [False, False, True, True])
    assert np.isnan(out["spectral_flux"].values[2:]).all()
    assert np.isfinite(out["intensity"].values[2]) and np.isnan(out["intensity"].values[3])


def test_spice_analytic_matches_sincpt_in_motion(moving_scene, spiceypy):
    shape = (17, 21)
    common = {"shape": shape, "ifov": 4e-3, "frame": FRAME, "boresight_pixel": (7.5, 10.0)}
    for abcorr in ("LT+S", "CN+S", "NONE"):
        fast = geometry.from_spice(moving_scene, 12.5, aberration_correction=abcorr, **common)
        slow = geometry.from_spice(
            moving_scene, 12.5, aberration_correction=abcorr, method="sincpt", **common
        )
        on = np.isfinite(slow["latitude"].values)
        assert on.sum() > 100 and (~on).sum() > 20
        assert np.array_equal(on, np.isfinite(fast["latitude"].values))
        for name in ("latitude", "longitude", "emission_angle"):
            error = _angle_difference(fast[name].values[on], slow[name].values[on])
            assert error.max() < 1e-5, (abcorr, name, error.max())  # 0.01 degree required
        assert np.allclose(fast["range"].values[on], slow["range"].values[on], rtol=1e-8)
    # stellar aberration matters (~55 km/s: 1.8e-4 rad): with and without differ
    plain = geometry.from_spice(moving_scene, 12.5, aberration_correction="LT", **common)
    corrected = geometry.from_spice(moving_scene, 12.5, **common)
    assert np.nanmax(_angle_difference(plain["longitude"], corrected["longitude"])) > 0.05


def test_spice_time_from_utc_and_offsets(static_scene):
    shape = (31, 41)
    kw = {"shape": shape, "ifov": TEST_IFOV, "frame": FRAME}
    g = geometry.from_spice(static_scene, "2000-01-01T11:58:55.816", **kw)
    assert abs(g.attrs["ephemeris_time"]) < 0.01  # the J2000 epoch in UTC
    g64 = geometry.from_spice(static_scene, np.datetime64("2000-01-01T11:58:55.816"), **kw)
    assert g64.attrs["ephemeris_time"] == pytest.approx(g.attrs["ephemeris_time"], abs=1e-6)
    # the M half of a 256-line frame: its lines are numbered 128... in the observation
    half = geometry.from_spice(static_scene, 0.0, line_offset=128, **kw)
    assert half["line"].values[0] == 128 and half["line"].values[-1] == 128 + 30
    np.testing.assert_array_equal(half["latitude"].values, g["latitude"].values)
    # a pointing offset moves the disk by whole pixels; flip_samples mirrors it
    moved = geometry.from_spice(static_scene, 0.0, offset=(2, -3), **kw)
    np.testing.assert_allclose(
        moved["latitude"].values[2:, :-3], g["latitude"].values[:-2, 3:], atol=1e-9
    )
    flipped = geometry.from_spice(static_scene, 0.0, flip_samples=True, **kw)
    np.testing.assert_allclose(
        flipped["longitude"].values, g["longitude"].values[:, ::-1], atol=1e-9
    )


def test_spice_boresight_from_ik(static_scene, tmp_path):
    folder = os.path.dirname(static_scene)
    kernels = [os.path.join(folder, n) for n in ("io.tpc", "camera.tf", "scene.bsp")]
    ik = _text_kernel(
        tmp_path / "camera.ti",
        "IK",
        f"""
        NAIF_BODY_NAME += ( '{FRAME}' )
        NAIF_BODY_CODE += ( -61999 )
        INS-61999_FOV_FRAME = '{FRAME}'
        INS-61999_FOV_SHAPE = 'RECTANGLE'
        INS-61999_BORESIGHT = ( {3 * TEST_IFOV} 0.0 1.0 )
        INS-61999_FOV_CLASS_SPEC = 'CORNERS'
        INS-61999_FOV_BOUNDARY_CORNERS = ( 0.01 0.01 1.0 -0.01 0.01 1.0
                                           -0.01 -0.01 1.0 0.01 -0.01 1.0 )
        """,
    )
    kw = {"shape": (31, 41), "ifov": TEST_IFOV, "frame": FRAME}
    g = geometry.from_spice([*kernels, ik], 0.0, boresight="ik", **kw)
    # a boresight 3 pixels towards +X puts Io's centre 3 lines lower
    moved = geometry.from_spice(kernels, 0.0, offset=(3, 0), **kw)
    np.testing.assert_allclose(g["latitude"].values, moved["latitude"].values, atol=1e-9)
    assert g.attrs["boresight"][0] == pytest.approx(3 * TEST_IFOV)
    with pytest.raises(InputError, match="no instrument named"):
        geometry.from_spice(kernels, 0.0, boresight="ik", **kw)
    with pytest.raises(ValueError, match="boresight"):
        geometry.from_spice(kernels, 0.0, boresight="fov", **kw)


def test_spice_frame_speed_jiram_size(static_scene):
    import time

    start = time.perf_counter()
    g = geometry.from_spice(static_scene, 0.0, shape=(128, 432), ifov=2e-4, frame=FRAME)
    elapsed = time.perf_counter() - start
    assert np.isfinite(g["latitude"].values).sum() > 10_000
    assert elapsed < 2.0, elapsed


def test_spice_missing_and_wrong_kernels(static_scene, tmp_path, spiceypy):
    folder = os.path.dirname(static_scene)
    loaded = spiceypy.ktotal("ALL")
    kw = {"shape": (5, 5), "ifov": TEST_IFOV, "frame": FRAME}
    with pytest.raises(InputError, match="not found"):
        geometry.from_spice(tmp_path / "nothing.tm", 0.0, **kw)
    # no ephemeris: SPICE's complaint in one line, and nothing stays loaded
    partial = [os.path.join(folder, n) for n in ("io.tpc", "camera.tf")]
    with pytest.raises(InputError, match="SPICE.NOLOADEDFILES") as caught:
        geometry.from_spice(partial, 0.0, **kw)
    assert "\n" not in str(caught.value) and caught.value.path == partial[0]
    assert spiceypy.ktotal("ALL") == loaded
    # an epoch the ephemeris does not cover
    with pytest.raises(InputError, match="SPKINSUFFDATA"):
        geometry.from_spice(static_scene, 1e7, **kw)
    # an unknown instrument frame
    with pytest.raises(InputError, match="SPICE"):
        geometry.from_spice(static_scene, 0.0, shape=(5, 5), ifov=TEST_IFOV, frame="NOPE")
    # a file that is no kernel
    junk = tmp_path / "junk.bsp"
    junk.write_bytes(b"\x00\x01 not a kernel" * 20)
    with pytest.raises(InputError) as caught:
        geometry.from_spice([junk], 0.0, **kw)
    assert caught.value.path == str(junk) and "\n" not in str(caught.value)
    # a UTC time without a leapseconds kernel
    with pytest.raises(InputError, match="SPICE"):
        geometry.from_spice(
            [*partial, os.path.join(folder, "scene.bsp")], "2000-01-01T12:00:00", **kw
        )
    assert spiceypy.ktotal("ALL") == loaded


def test_meta_kernel_confined_to_its_folder(static_scene, tmp_path):
    folder = tmp_path / "mk"
    folder.mkdir()
    outside = tmp_path / "outside.tpc"
    _pck(outside)
    kw = {"shape": (5, 5), "ifov": TEST_IFOV, "frame": FRAME}
    for name in ("../outside.tpc", str(outside), "$UP/outside.tpc"):
        meta = _text_kernel(
            folder / "escape.tm",
            "MK",
            f"PATH_VALUES = ( '..' )\nPATH_SYMBOLS = ( 'UP' )\nKERNELS_TO_LOAD = ( '{name}' )",
        )
        with pytest.raises(InputError, match="outside its folder"):
            geometry.from_spice(meta, 0.0, **kw)
        # a kernel root above both lets the same meta-kernel through
        assert geometry.kernel_files(meta, kernel_root=tmp_path) == [
            os.path.join(str(folder), name.replace("$UP", ".."))
            if not os.path.isabs(name)
            else name
        ]
    link = folder / "link.tpc"
    link.symlink_to(outside)
    meta = _text_kernel(folder / "link.tm", "MK", "KERNELS_TO_LOAD = ( 'link.tpc' )")
    with pytest.raises(InputError, match="refused"):
        geometry.kernel_files(meta)
    meta = _text_kernel(folder / "gone.tm", "MK", "KERNELS_TO_LOAD = ( 'gone.bsp' )")
    with pytest.raises(InputError, match="not found"):
        geometry.kernel_files(meta)
    meta = _text_kernel(folder / "sym.tm", "MK", "KERNELS_TO_LOAD = ( '$NOPE/a.bsp' )")
    with pytest.raises(InputError, match="undefined path symbol"):
        geometry.kernel_files(meta)
    with pytest.raises(ValueError, match="kernels"):
        geometry.kernel_files([])
    # continuation and symbols of the fixture's meta-kernel
    names = [os.path.basename(p) for p in geometry.kernel_files(static_scene)]
    assert names == ["io.tpc", "camera.tf", "scene.bsp", "naif.tls"]
    # a kernel that only mentions KERNELS_TO_LOAD in its comments is no meta-kernel
    commented = folder / "note.tf"
    commented.write_text("KPL/FK\nKERNELS_TO_LOAD is not assigned here\n\\begindata\nX = 1\n")
    assert geometry.kernel_files(commented) == [str(commented)]
    # nested meta-kernels are confined the same way
    inner = _text_kernel(folder / "inner.tm", "MK", "KERNELS_TO_LOAD = ( '../outside.tpc' )")
    outer = _text_kernel(folder / "outer.tm", "MK", "KERNELS_TO_LOAD = ( 'inner.tm' )")
    with pytest.raises(InputError, match="refused") as caught:
        geometry.kernel_files(outer)
    assert caught.value.path == str(inner)


def test_spice_argument_errors(static_scene):
    kw = {"ifov": TEST_IFOV, "frame": FRAME}
    with pytest.raises(ValueError, match="shape"):
        geometry.from_spice(static_scene, 0.0, shape=(0, 5), **kw)
    with pytest.raises(ValueError, match="ifov"):
        geometry.from_spice(static_scene, 0.0, shape=(5, 5), ifov=-1.0, frame=FRAME)
    with pytest.raises(ValueError, match="aberration_correction"):
        geometry.from_spice(static_scene, 0.0, shape=(5, 5), aberration_correction="XLT", **kw)
    with pytest.raises(ValueError, match="method"):
        geometry.from_spice(static_scene, 0.0, shape=(5, 5), method="fast", **kw)
    with pytest.raises(ValueError, match="time"):
        geometry.from_spice(static_scene, float("nan"), shape=(5, 5), **kw)
    with pytest.raises(ValueError, match="boresight_pixel"):
        geometry.from_spice(static_scene, 0.0, shape=(5, 5), boresight_pixel=(1,), **kw)


# --------------------------------------------------------------------------- limb


def _lit_disk(g, sun=(1.0, 0.0, 0.0), seed=0, noise=0.002):
    """A synthetic frame from a geometry: Lambertian disk lit from ``sun`` (IAU_IO), sky
    noise, and one bright hot spot."""
    lat, lon = np.deg2rad(g["latitude"].values), np.deg2rad(g["longitude"].values)
    normal = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
    cos_i = np.tensordot(np.asarray(sun) / np.linalg.norm(sun), normal, axes=1)
    image = np.where(np.isfinite(cos_i), 0.3 * np.clip(cos_i, 0, None), 0.0)
    image = image + np.random.default_rng(seed).normal(0.0, noise, image.shape)
    image[20, 30] += 50.0
    return image


# phase angles 0, 49 and 117 degrees (a crescent)
@pytest.mark.parametrize("sun", [(1.0, 0.0, 0.0), (1.0, 1.0, 0.3), (-0.5, 1.0, 0.0)])
def test_limb_offset_recovered(static_scene, sun):
    shape, kw = (48, 64), {"ifov": TEST_IFOV, "frame": FRAME}
    truth = geometry.from_spice(static_scene, 0.0, shape=shape, **kw)
    image = _lit_disk(truth, sun)
    wrong = geometry.from_spice(static_scene, 0.0, shape=shape, offset=(-3, 2), **kw)
    fixed = geometry.correct_limb(image, wrong, max_shift=6)
    assert tuple(fixed.attrs["limb_offset"]) == (3, -2)
    assert "limb fit" in fixed.attrs["limb_correction"]
    both = np.isfinite(fixed["latitude"].values)
    np.testing.assert_allclose(
        fixed["latitude"].values[both], truth["latitude"].values[both], atol=1e-9
    )
    # recomputing with the pointing corrected fills the pixels shifted in from outside
    corrected = np.add(wrong.attrs["pointing_offset"], fixed.attrs["limb_offset"])
    again = geometry.from_spice(static_scene, 0.0, shape=shape, offset=corrected, **kw)
    np.testing.assert_allclose(again["latitude"].values, truth["latitude"].values, atol=1e-9)
    # a DataArray image works the same; the input geometry is untouched
    before = wrong["latitude"].values.copy()
    da = xr.DataArray(image.T, dims=("sample", "line"))
    assert tuple(geometry.correct_limb(da, wrong, max_shift=6).attrs["limb_offset"]) == (3, -2)
    np.testing.assert_array_equal(wrong["latitude"].values, before)


def test_limb_offset_subpixel(static_scene):
    shape, kw = (48, 64), {"ifov": TEST_IFOV, "frame": FRAME}
    truth = geometry.from_spice(static_scene, 0.0, shape=shape, **kw)
    wrong = geometry.from_spice(static_scene, 0.0, shape=shape, offset=(-2.6, 1.7), **kw)
    fixed = geometry.correct_limb(_lit_disk(truth), wrong)
    assert tuple(fixed.attrs["limb_offset"]) == (3, -2)
    np.testing.assert_allclose(fixed.attrs["limb_offset_subpixel"], (2.6, -1.7), atol=0.2)
    offset = wrong.attrs["pointing_offset"] + fixed.attrs["limb_offset_subpixel"]
    again = geometry.from_spice(static_scene, 0.0, shape=shape, offset=offset, **kw)
    # a pixel is 150 km here, ~5 degrees of latitude at the centre: the integer shift leaves
    # errors of ~3 degrees (measured 3.2), the sub-pixel one ~0.6
    errors = {}
    for name, g in (("integer", fixed), ("subpixel", again)):
        lat, true = g["latitude"].values, truth["latitude"].values
        on = np.isfinite(lat) & np.isfinite(true) & (truth["emission_angle"].values < 60)
        errors[name] = np.abs(lat[on] - true[on]).max()
    assert errors["subpixel"] < 1.0 and errors["subpixel"] < errors["integer"] / 3


def test_limb_night_side_gives_zero_offset(static_scene):
    shape = (48, 64)
    wrong = geometry.from_spice(
        static_scene, 0.0, shape=shape, ifov=TEST_IFOV, frame=FRAME, offset=(-3, 2)
    )
    image = np.random.default_rng(1).normal(0.0, 0.002, shape)
    image[20, 30] += 50.0  # a hot spot on a dark disk
    image[24, 33] += 5.0
    fixed = geometry.correct_limb(image, wrong)
    assert tuple(fixed.attrs["limb_offset"]) == (0, 0)
    assert "no visible limb" in fixed.attrs["limb_correction"]
    np.testing.assert_array_equal(fixed["latitude"].values, wrong["latitude"].values)
    with pytest.raises(ValueError, match="shape"):
        geometry.correct_limb(image[:10], wrong)
    with pytest.raises(ValueError, match="max_shift"):
        geometry.correct_limb(image, wrong, max_shift=-1)


# --------------------------------------------------------------------------- backplanes


def _planes(shape=(4, 5)):
    lat = np.linspace(-30, 30, shape[0] * shape[1]).reshape(shape)
    lon_w = np.full(shape, 310.0)
    e = np.full(shape, 40.0)
    r = np.full(shape, 80_000.0)  # km
    lat[0, 0] = lon_w[0, 0] = e[0, 0] = r[0, 0] = -1024.0  # the published fill: off disk
    return lat, lon_w, e, r


def test_backplanes_units_dict_and_netcdf(tmp_path):
    lat, lon_w, e, r = _planes()
    g = geometry.from_backplanes(
        {"latitude": lat, "longitude_west": lon_w, "emission_angle": e, "range": r * 1e3}
    )
    assert g.attrs["geometry_source"] == "backplanes"
    assert float(g["longitude"][1, 1]) == pytest.approx(50.0)
    assert float(g["range"][1, 1]) == pytest.approx(8e7)
    assert np.isnan(g["latitude"][0, 0]) and np.isnan(g["range"][0, 0])
    assert g["longitude"].attrs["units"] == "degrees_east"
    ds = xr.Dataset(
        {
            "latitude": (("y", "x"), lat, {"units": "degrees_north"}),
            "longitude": (("y", "x"), lon_w, {"units": "degrees_west"}),
            "emission_angle": (("y", "x"), e, {"units": "degree"}),
            "range": (("y", "x"), r, {"units": "km"}),
        }
    )
    path = tmp_path / "planes.nc"
    ds.to_netcdf(path)
    f = geometry.from_backplanes(path, shape=(4, 5))
    xr.testing.assert_allclose(
        f[["latitude", "longitude", "range"]], g[["latitude", "longitude", "range"]]
    )
    # east longitudes and a transposed (sample, line) layout
    east = ds.assign(longitude=ds["longitude"].copy(data=360.0 - lon_w))
    east["longitude"].attrs["units"] = "degrees_east"
    east = east.rename(y="line", x="sample").transpose("sample", "line")
    h = geometry.from_backplanes(east)
    np.testing.assert_allclose(h["longitude"].values, g["longitude"].values)


def test_backplanes_errors(tmp_path):
    lat, lon_w, e, r = _planes()
    good = {"latitude": lat, "longitude": lon_w, "emission_angle": e, "range": r}
    with pytest.raises(ValueError, match="source: backplanes differ in shape"):
        geometry.from_backplanes({**good, "range": r[:, :3]})
    with pytest.raises(ValueError, match=r"shape \(4, 5\), the frame \(4, 6\)"):
        geometry.from_backplanes(good, shape=(4, 6))
    with pytest.raises(ValueError, match="no variable 'emission_angle'"):
        geometry.from_backplanes({k: v for k, v in good.items() if k != "emission_angle"})
    with pytest.raises(ValueError, match="2-D"):
        geometry.from_backplanes({**good, "latitude": lat.ravel()})
    with pytest.raises(ValueError, match="latitude must be in"):
        geometry.from_backplanes({**good, "latitude": lat + 100})
    ds = xr.Dataset({k: (("line", "sample"), v) for k, v in good.items()})
    ds["range"].attrs["units"] = "km"
    ds["longitude"].attrs["units"] = "degrees"  # east or west? refused
    path = tmp_path / "ambiguous.nc"
    ds.to_netcdf(path)
    with pytest.raises(InputError, match="degrees_east' or 'degrees_west"):
        geometry.from_backplanes(path)
    ds["longitude"].attrs["units"] = "degrees_east"
    del ds["range"].attrs["units"]
    ds.to_netcdf(tmp_path / "no_unit.nc")
    with pytest.raises(InputError, match="'m' or 'km'"):
        geometry.from_backplanes(tmp_path / "no_unit.nc")
    (tmp_path / "bad.nc").write_bytes(b"not netcdf")
    with pytest.raises(InputError, match="cannot read"):
        geometry.from_backplanes(tmp_path / "bad.nc")
    with pytest.raises(InputError, match="not found"):
        geometry.from_backplanes(tmp_path / "none.nc")


# --------------------------------------------------------------------------- label, spots


def _spots(lines, samples, radiance_sum):
    n = len(lines)
    return xr.Dataset(
        {
            "line": ("hotspot", np.asarray(lines, dtype=float)),
            "sample": ("hotspot", np.asarray(samples, dtype=float)),
            "radiance_sum": ("hotspot", np.asarray(radiance_sum), {"units": "W m-2 sr-1 um-1"}),
            "radiance_sum_uncertainty": ("hotspot", 0.1 * np.asarray(radiance_sum)),
        },
        coords={"hotspot": np.arange(n)},
    )


def test_label_geometry_intensity_and_flux():
    r, e, ifov = 85_000e3, 35.0, geometry.JIRAM_IFOV
    g = geometry.from_label(
        range=r, emission_angle=e, latitude=-12.0, longitude_west=300.0, shape=(128, 432)
    )
    assert g.attrs["geometry_source"] == "label"
    assert float(g["longitude"][3, 3]) == pytest.approx(60.0)
    spots = _spots([10.2, 64.5], [20.7, 300.0], [2.0, 0.5])
    out = geometry.spot_geometry(spots, g, ifov=ifov)
    intensity = np.array([2.0, 0.5]) * (r * ifov) ** 2
    np.testing.assert_allclose(out["intensity"].values, intensity, rtol=1e-2)
    np.testing.assert_allclose(
        out["spectral_flux"].values, math.pi * intensity / math.cos(math.radians(e)), rtol=1e-2
    )
    np.testing.assert_allclose(out["spectral_flux_uncertainty"], 0.1 * out["spectral_flux"])
    assert out["intensity"].attrs["units"] == "W sr-1 um-1"
    assert out["spectral_flux"].attrs["units"] == "W um-1"
    assert out["longitude_west"].values == pytest.approx([300.0, 300.0])
    assert not out["limb"].any() and out.attrs["geometry_source"] == "label"
    assert "intensity" not in spots  # a copy


def test_label_from_observation_and_band():
    # what read_jiram gives for a 256-line frame: per-line pixel_area and emission_angle
    r = {"jiram_l": 90_000e3, "jiram_m": 91_000e3}
    e = {"jiram_l": 20.0, "jiram_m": 22.0}
    area = {b: (r[b] * geometry.JIRAM_IFOV) ** 2 / math.cos(math.radians(e[b])) for b in r}
    radiance = np.full((256, 8, 2), np.nan)
    radiance[:128, :, 0] = 0.1
    radiance[128:, :, 1] = 0.2
    obs = xr.Dataset(
        {
            "radiance": (("line", "sample", "band"), radiance),
            "pixel_area": ("line", np.repeat([area["jiram_l"], area["jiram_m"]], 128)),
            "emission_angle": ("line", np.repeat([e["jiram_l"], e["jiram_m"]], 128)),
        },
        coords={"line": np.arange(256), "sample": np.arange(8), "band": ["jiram_l", "jiram_m"]},
    )
    g = geometry.from_label(obs, "jiram_m")
    assert np.isnan(g["range"][:128]).all()
    np.testing.assert_allclose(g["range"][128:], r["jiram_m"], rtol=1e-12)
    np.testing.assert_allclose(g["emission_angle"][128:], 22.0)
    assert np.isnan(g["latitude"]).all()
    both = geometry.from_label(obs)
    assert float(both["range"][0, 0]) == pytest.approx(r["jiram_l"], rel=1e-12)
    with pytest.raises(ValueError, match="band"):
        geometry.from_label(obs, "jiram_x")
    with pytest.raises(ValueError, match="required"):
        geometry.from_label(shape=(4, 4), range=1e7)
    with pytest.raises(ValueError, match="emission_angle must be in"):
        geometry.from_label(shape=(4, 4), range=1e7, emission_angle=95.0)
    with pytest.raises(ValueError, match="range must be > 0"):
        geometry.from_label(shape=(4, 4), range=-1.0, emission_angle=5.0)


def test_spot_geometry_limb_and_interpolation():
    shape = (6, 8)
    lat = np.tile(np.arange(6.0)[:, None], (1, 8))
    lon = np.tile(np.array([356.0, 358.0, 0.0, 2.0, 4.0, 6.0, 8.0, 10.0]), (6, 1))
    e = np.tile(np.linspace(60.0, 88.0, 8), (6, 1))
    r = np.full(shape, 1e8)
    lat[:, -1] = lon[:, -1] = e[:, -1] = r[:, -1] = np.nan  # beyond the limb
    g = geometry.from_backplanes(
        {"latitude": lat, "longitude": lon, "emission_angle": e, "range": r}
    )
    spots = _spots([2.5, 1.0, 3.0, 3.0, 9.0], [1.5, 2.0, 5.5, 6.4, 1.0], [1.0] * 5)
    out = geometry.spot_geometry(spots, g, ifov=geometry.JIRAM_IFOV)
    assert out["latitude"].values[0] == pytest.approx(2.5)
    assert out["longitude"].values[0] == pytest.approx(359.0)  # across 0/360
    assert out["emission_angle"].values[0] == pytest.approx(60.0 + 1.5 * 4.0)
    np.testing.assert_array_equal(out["limb"].values, [False, False, True, True, True])
    # beyond e = 80 (sample 5): no flux, no division by cos(e); intensity stays
    assert np.isnan(out["spectral_flux"].values[2:]).all()
    assert np.isfinite(out["intensity"].values[:4]).all()
    # next to the sky: the nearest pixel, not a mix with NaN
    assert out["emission_angle"].values[3] == pytest.approx(e[3, 6])
    assert np.isnan(out["latitude"].values[4])  # outside the frame
    with pytest.raises(ValueError, match="max_emission_angle"):
        geometry.spot_geometry(spots, g, ifov=geometry.JIRAM_IFOV, max_emission_angle=90.0)
    with pytest.raises(ValueError, match="ifov"):
        geometry.spot_geometry(spots, g, ifov=0.0)
    empty = geometry.spot_geometry(spots.isel(hotspot=slice(0, 0)), g, ifov=1e-4)
    assert empty.sizes["hotspot"] == 0 and "spectral_flux" in empty


def test_a_frame_without_io(static_scene):
    """Pointing that misses Io: every intercept is NaN, a spot found there gets no position,
    intensity or flux (and is not called a limb spot), the limb correction leaves it alone."""
    shape = (31, 41)
    g = geometry.from_spice(
        static_scene, 0.0, shape=shape, ifov=TEST_IFOV, frame=FRAME, offset=(100.0, 100.0)
    )
    assert all(np.isnan(g[name].values).all() for name in ("latitude", "emission_angle"))
    out = geometry.spot_geometry(_spots([15.0], [20.0], [1.0]), g, ifov=TEST_IFOV)
    for name in ("latitude", "longitude", "emission_angle", "intensity", "spectral_flux"):
        assert np.isnan(out[name].values).all(), name
    image = np.random.default_rng(2).normal(0.0, 0.002, shape)
    image[15, 20] += 5.0
    fixed = geometry.correct_limb(image, g)
    assert tuple(fixed.attrs["limb_offset"]) == (0, 0)

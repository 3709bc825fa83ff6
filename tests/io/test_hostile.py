"""Hostile and broken inputs (issue 17, readers): confinement of PDS3 pointers, bounded parse
time and memory, one error type. The fuzzing is in ``test_fuzz.py``."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import pickle
import re
import resource
import shutil
import signal
import struct
import sys
import threading
import time
import tracemalloc
import zipfile

import numpy as np
import pytest
import xarray as xr

from thermal import simulate
from thermal.io import InputError, formats, input_files, jiram, limits, open_observation
from thermal.io.formats import OptionError, register_format
from thermal.io.jwst import fits_structure
from thermal.io.limits import ReadTimeout, deadline

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(ROOT, "data", "examples")
IMAGE = "JIR_IMG_RDR_2017033T114006_V99"
SECRET_BYTES = 123_457  # a size that must never appear in a message

_opened: list[str] | None = None  # files opened while recording (an audit hook)


def _audit(event, arguments):
    if _opened is not None and event == "open" and isinstance(arguments[0], str | bytes):
        _opened.append(os.fsdecode(arguments[0]))


sys.addaudithook(_audit)


class record_opens:
    """Context: the paths opened (the ``open`` audit event: Python and numpy reads)."""

    def __enter__(self):
        global _opened
        _opened = []
        return _opened

    def __exit__(self, *exc):
        global _opened
        _opened = None


@pytest.fixture(autouse=True)
def fresh_registry():
    formats._reset()
    yield
    formats._reset()


@pytest.fixture
def product(tmp_path):
    """A copy of the bundled imager product in tmp/product/, and a secret file beside the
    folder (tmp/secret.IMG) that labels must not reach."""
    folder = tmp_path / "product"
    folder.mkdir()
    for ext in (".LBL", ".IMG"):
        shutil.copy(os.path.join(EXAMPLES, IMAGE + ext), folder / (IMAGE + ext))
    secret = tmp_path / "secret.IMG"
    secret.write_bytes(os.urandom(SECRET_BYTES))
    return folder / f"{IMAGE}.LBL", secret


def _point(label, target: str) -> None:
    text = label.read_text()
    text = re.sub(r'\^IMAGE(\s*)= "[^"]*"', rf'^IMAGE\1= "{target}"', text)
    label.write_text(text)


def _refused(label, secret, match):
    with record_opens() as opened:
        with pytest.raises(InputError, match=match) as caught:
            open_observation(label)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{label}: ")
    assert str(SECRET_BYTES) not in message and "bytes" not in message
    assert not any(os.path.realpath(p) == os.path.realpath(secret) for p in opened), opened
    listed = input_files(label)
    assert listed[0] == str(label)
    assert not any(os.path.realpath(p) == os.path.realpath(secret) for p in listed), listed


# ---------------------------------------------------------------------------------------------
# 1. Confinement


def test_a_pointer_with_dot_dot_is_refused_and_nothing_is_read(product):
    label, secret = product
    _point(label, "../secret.IMG")
    _refused(label, secret, r"data file '\.\./secret\.IMG', which has a '\.\.' component")


def test_an_absolute_pointer_is_refused_and_nothing_is_read(product):
    label, secret = product
    _point(label, str(secret))
    _refused(label, secret, r"which has an absolute path: a data file must be inside")


def test_a_symlink_leaving_the_folder_is_refused_and_nothing_is_read(product):
    label, secret = product
    data = label.with_suffix(".IMG")
    data.unlink()
    data.symlink_to(secret)
    _refused(label, secret, r"a symbolic link .* that leaves the label's folder; refused")
    # a link to a folder outside, used as a path component, is refused the same way
    data.unlink()
    (label.parent / "elsewhere").symlink_to(secret.parent, target_is_directory=True)
    _point(label, "elsewhere/secret.IMG")
    _refused(label, secret, r"leaves the label's folder")


def test_links_and_subfolders_inside_the_folder_are_followed(product):
    label, _ = product
    reference = open_observation(label)
    folder = label.parent
    (folder / "data").mkdir()
    os.replace(label.with_suffix(".IMG"), folder / "data" / "frame.img")
    (folder / f"{IMAGE}.IMG").symlink_to(folder / "data" / "frame.img")  # link inside: fine
    xr.testing.assert_identical(open_observation(label), reference)
    _point(label, "data/frame.img")  # a relative path below the label's folder
    assert open_observation(label).radiance.equals(reference.radiance)


@pytest.mark.parametrize("pointer", ["^TABLE", "^QUBE"])
def test_other_pointers_are_confined_too(tmp_path, pointer):
    label, _ = simulate.jiram_spectrometer(tmp_path)
    (tmp_path.parent / f"{tmp_path.name}-outside.DAT").write_bytes(b"x" * 99)
    text = open(label).read()
    foreign = f"../{tmp_path.name}-outside.DAT"
    if pointer == "^TABLE":
        text = re.sub(r'\^TABLE(\s*)= "[^"]*"', rf'^TABLE\1= "{foreign}"', text)
        with open(label, "w") as handle:
            handle.write(text)
        with pytest.raises(InputError, match=r"'\.\.' component"):
            open_observation(label)
    text = text.replace("END_OBJECT                      = FILE", f'  ^QUBE = "{foreign}"\r\n'
                        "END_OBJECT                      = FILE")  # fmt: skip
    with open(label, "w") as handle:
        handle.write(text)
    assert not any("outside" in name for name in input_files(label))


def test_data_file_names_the_reason():
    assert jiram._foreign("a/../../b") == "a '..' component"
    assert jiram._foreign("/etc/passwd") == "an absolute path"
    assert jiram._foreign("C:data.img") == "an absolute path"
    assert jiram._foreign("..\\x.img") == "a backslash"
    assert jiram._foreign("x\x00.img") == "an empty name or a NUL character"
    assert jiram._foreign("sub/./X.IMG") is None


# ---------------------------------------------------------------------------------------------
# 2. Bounded parse time


HANGS = (
    "A = 1 / = B = 2 / END",  # the line of the issue
    "A = 1 =\nEND",  # pvl 1.3's recovery loops forever on these
    "A = (1, 2) =\nEND",
    "B = 2\nC = 3 = 4\nEND",
)


@pytest.mark.parametrize("line", HANGS)
def test_labels_that_make_pvl_loop_are_refused_at_once(product, line):
    label, _ = product
    text = label.read_text().replace("END\n", "").rstrip("\n")
    label.write_text(text + "\n" + line + "\n")
    started = time.monotonic()
    with pytest.raises(InputError, match=rf"^{re.escape(str(label))}: PDS3 label: "):
        open_observation(label)
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize("where", ["main thread", "worker thread"])
def test_a_parse_that_loops_ends_with_the_label_deadline(product, monkeypatch, where):
    # without the syntax check, pvl loops on "A = 1 =": the deadline ends it
    label, _ = product
    label.write_text("PDS_VERSION_ID = PDS3\nA = 1 =\nEND\n")
    monkeypatch.setattr(jiram, "_label_syntax", lambda text, path: len(text))
    monkeypatch.setattr(jiram, "LABEL_TIMEOUT", 0.5)
    outcome = {}

    def run():
        started = time.monotonic()
        try:
            open_observation(label)
        except BaseException as error:
            outcome["error"] = error
        outcome["seconds"] = time.monotonic() - started

    if where == "main thread":
        run()
    else:
        thread = threading.Thread(target=run)
        thread.start()
        thread.join(20)
        assert not thread.is_alive()
    error = outcome["error"]
    assert isinstance(error, ReadTimeout) and isinstance(error, InputError)
    assert str(error).startswith(f"{label}: parsing the PDS3 label took longer than")
    assert 0.5 <= outcome["seconds"] < 3.0
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def _spin(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        sum(range(100))


def test_deadline_main_thread_nested_and_restored():
    before = signal.getsignal(signal.SIGALRM)
    with pytest.raises(ReadTimeout, match=r"^inner: parsing took longer than 0\.2 s"):
        with deadline(5, "outer"):
            with deadline(0.2, "inner", "parsing"):
                _spin(3)
    with pytest.raises(ReadTimeout, match=r"^outer: reading took longer than 0\.2 s"):
        with deadline(0.2, "outer"):
            with deadline(5, "inner"):
                _spin(3)
    with deadline(1.0, "fast"):
        _spin(0.05)  # ends in time: nothing raised
    with deadline(None, "unlimited"):
        time.sleep(0.01)
    with pytest.raises(ReadTimeout):
        with deadline(0.2, "sleeping"):
            time.sleep(3)  # a blocking call is interrupted too
    assert signal.getsignal(signal.SIGALRM) is before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    with pytest.raises(ValueError, match="timeout must be > 0"):
        deadline(0, "x")


def test_deadline_in_a_worker_thread_and_beside_a_foreign_timer():
    errors = []

    def work():
        try:
            with deadline(0.2, "threaded"):
                _spin(3)
        except ReadTimeout as error:
            errors.append(error)

    thread = threading.Thread(target=work)
    started = time.monotonic()
    thread.start()
    thread.join(10)
    assert len(errors) == 1 and time.monotonic() - started < 2.0
    # someone else's interval timer runs on the main thread: it is left alone
    fired = []
    previous = signal.signal(signal.SIGALRM, lambda *a: fired.append(1))
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.6)
        with pytest.raises(ReadTimeout):
            with deadline(0.2, "beside"):
                _spin(3)
        _spin(0.6)
        assert fired == [1]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_open_observation_timeout(tmp_path):
    register_format("slow", lambda path: _spin(30), extensions=(".slow",))
    path = tmp_path / "a.slow"
    path.write_text("x")
    started = time.monotonic()
    with pytest.raises(ReadTimeout, match=r"a\.slow: reading took longer than 0\.3 s"):
        open_observation(path, timeout=0.3)
    assert time.monotonic() - started < 2.0
    error = ReadTimeout(str(path), "reading took longer than 0.3 s")
    assert str(pickle.loads(pickle.dumps(error))) == str(error)
    with pytest.raises(OptionError, match="timeout must be > 0"):
        open_observation(path, timeout=-1)
    assert open_observation(os.path.join(EXAMPLES, "keck_2013-08.csv"), timeout=None).sizes


# ---------------------------------------------------------------------------------------------
# 3. Bounded memory


def _peak(function):
    """(exception or result, tracemalloc peak [bytes], ru_maxrss growth [bytes])."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    tracemalloc.start()
    try:
        try:
            result = function()
        except InputError as error:
            result = error
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return result, peak, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss


def test_a_compressed_netcdf_declaring_1e10_bytes_is_refused(tmp_path):
    import netCDF4

    path = tmp_path / "bomb.nc"
    with netCDF4.Dataset(path, "w") as nc:  # 1250 x 1e6 float64 = 1e10 bytes, none written
        nc.createDimension("spot", 1250)
        nc.createDimension("wavelength", 1_000_000)
        wavelength = nc.createVariable("wavelength", "f8", ("wavelength",), zlib=True)
        wavelength.units = "um"
        radiance = nc.createVariable(
            "radiance", "f8", ("spot", "wavelength"), zlib=True, chunksizes=(1, 100_000)
        )
        radiance.units = "W m-2 sr-1 um-1"
    assert os.path.getsize(path) < 100_000
    budget = 512 * 2**20
    error, peak, rss = _peak(lambda: open_observation(path, max_memory=budget))
    assert isinstance(error, InputError)
    assert re.search(
        r"1,251,000,000 values declared; largest radiance \(1250 x 1000000\)", str(error)
    )
    assert "more than the 512 MiB allowed (max_memory)" in str(error)
    assert peak < budget / 10 and rss < budget
    # the default budget (half the memory) refuses it as well on machines under 600 GB
    if limits.default_max_memory() < 1.25e9 * 32:
        with pytest.raises(InputError, match="refused before reading"):
            open_observation(path)


def test_netcdf_within_and_beyond_the_budget(tmp_path, spectra, write):
    path = write(spectra, tmp_path / "s.nc")
    assert open_observation(path, max_memory=1e8).sizes == open_observation(path).sizes
    with pytest.raises(InputError, match="more than the 1000 bytes allowed"):
        open_observation(path, max_memory=1000)
    with pytest.raises(OptionError, match="max_memory must be a number of bytes > 0"):
        open_observation(path, max_memory=0)


def test_pds3_declared_sizes_against_file_and_budget(product):
    label, _ = product
    text = label.read_text()
    label.write_text(text.replace("LINE_SAMPLES                    = 432",
                                  "LINE_SAMPLES                    = 4320000000"))  # fmt: skip
    error, peak, _ = _peak(lambda: open_observation(label))
    assert isinstance(error, InputError) and "the label implies 4423680000000" in str(error)
    assert peak < 1e6
    label.write_text(text)
    with pytest.raises(InputError, match=r"the IMAGE \(256 x 432 values\) would need about 8\.4"):
        open_observation(label, max_memory=2**20)
    label.write_text(text.replace("LINES                           = 256", "LINES = 2.5"))
    with pytest.raises(InputError, match=r"LINES = 2\.5 is not an integer"):
        open_observation(label)


def _sci_header(shape) -> bytes:
    from astropy.io import fits

    primary = fits.PrimaryHDU().header.tostring().encode()
    sci = fits.ImageHDU(name="SCI").header
    sci["BITPIX"] = -32
    sci["NAXIS"] = 3
    for i, n in enumerate(reversed(shape), 1):
        sci[f"NAXIS{i}"] = n
    return primary + sci.tostring().encode()


def _gzip_bomb(path, shape) -> None:
    """A gzip FITS whose SCI data are zeros: one member per MiB (about 1 kB each)."""
    zeros = gzip.compress(bytes(2**20), compresslevel=9)
    with open(path, "wb") as handle:
        handle.write(gzip.compress(_sci_header(shape)))
        for _ in range(4 * int(np.prod(shape)) // 2**20):
            handle.write(zeros)


def test_a_gzipped_fits_bomb_is_refused_within_the_budget(tmp_path):
    path = tmp_path / "bomb_s3d.fits.gz"
    _gzip_bomb(path, (1024, 512, 512))  # 1 GiB of float32 in about 1 MB
    assert os.path.getsize(path) < 3e6
    budget = 64 * 2**20
    started = time.monotonic()
    error, peak, rss = _peak(lambda: open_observation(path, format="fits", max_memory=budget))
    assert isinstance(error, InputError), error
    assert "gzip-compressed FITS expands to more than 64 MiB (max_memory)" in str(error)
    assert peak < budget / 4 and rss < budget and time.monotonic() - started < 5.0


@pytest.mark.parametrize("compression", ["gzip", "bzip2", "xz", "zip"])
def test_compressed_fits_are_read_or_refused_by_their_expanded_size(tmp_path, compression):
    plain = open(os.path.join(EXAMPLES, "jwst_nirspec_synthetic_s3d.fits"), "rb").read()
    bomb = _sci_header((64, 64, 64)) + bytes(4 * 64**3)  # 1 MiB of zeros
    results = []
    for name, content in (("cube", plain), ("bomb", bomb)):
        path = tmp_path / f"{name}.fits.{compression}"
        if compression == "zip":
            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
                archive.writestr(f"{name}.fits", content)
        else:
            opener = {"gzip": gzip.compress, "bzip2": bz2.compress, "xz": lzma.compress}
            path.write_bytes(opener[compression](content))
        results.append(path)
    reference = open_observation(os.path.join(EXAMPLES, "jwst_nirspec_synthetic_s3d.fits"))
    xr.testing.assert_equal(open_observation(results[0], format="fits"), reference)
    with pytest.raises(InputError, match=f"{compression}-compressed FITS expands to more than"):
        open_observation(results[1], format="fits", max_memory=2**19)


def test_fits_structure_limits(tmp_path):
    cube = open(os.path.join(EXAMPLES, "jwst_nirspec_synthetic_s3d.fits"), "rb").read()
    truncated = tmp_path / "truncated.fits"
    truncated.write_bytes(_sci_header((1000, 1000, 1000)) + bytes(2880))
    with pytest.raises(InputError, match=r"HDU 1 \(SCI\) declares 3\.73 GiB of data but the file"):
        open_observation(truncated, format="fits")
    endless = tmp_path / "endless.fits"  # a header that never ends: refused, not parsed
    card = b"COMMENT".ljust(80)
    endless.write_bytes(b"SIMPLE  =                    T".ljust(80) + card * (36 * 1001))
    with pytest.raises(InputError, match=r"HDU 0: no END card in the first 1000 header blocks"):
        open_observation(endless, format="fits")
    notfits = tmp_path / "x.fits"
    notfits.write_bytes(b"BZh9" + cube[:100])  # looks bzip2 to astropy
    with pytest.raises(InputError, match=r"x\.fits: not a readable FITS file"):
        open_observation(notfits, format="fits")


def test_tables_larger_than_the_budget_are_refused(tmp_path):
    path = os.path.join(EXAMPLES, "keck_2013-08.csv")
    with pytest.raises(InputError, match=r"the CSV table \(1\.63 KiB\) would need about 131 KiB"):
        open_observation(path, max_memory=50_000)


# ---------------------------------------------------------------------------------------------
# 4. One error type


def _write(tmp_path, name, content: bytes):
    path = tmp_path / name
    path.write_bytes(content)
    return path


PDS = b"PDS_VERSION_ID = PDS3\n"
SIMPLE = b"SIMPLE  =                    T".ljust(80)
BROKEN = [
    ("bad.csv", b"nirc2_kc,nirc2_kc_uncertainty\n1,\xff\xfe\n", r"not UTF-8 text: byte 0xff"),
    (
        "long.csv",
        b'nirc2_kc,nirc2_kc_uncertainty\n"' + b"1" * 200_000 + b'",1\n',
        r"CSV syntax on table line 2: field larger than field limit",
    ),
    ("nul.csv", b"nirc2_kc,nirc2_kc_uncertainty\n1,2\x00\n", r"is not a number|CSV syntax"),
    ("t.csv", b"time,nirc2_kc,nirc2_kc_uncertainty\n9-99-99,1,2\n", r"time: cells must be ISO"),
    ("x.LBL", PDS + b'A = "\xff"\nEND\n', r"PDS3 label: not ASCII text \(byte 0xff"),
    ("y.LBL", PDS + b"OBJECT = FILE\nEND_OBJECT = FILE\nEND\n", r"neither \^IMAGE nor \^TABLE"),
    ("z.LBL", PDS + b"FILE = 3\nEND\n", r"FILE is a keyword, not an OBJECT"),
    ("w.LBL", PDS + b"A = (1, 2\nEND\n", r"PDS3 label: unclosed \("),
    ("e.nc", b"CDF\x01" + bytes(40), r"exactly one spectral dimension"),
    ("d.nc", b"CDF\x01" + bytes(2), r"not a readable netCDF file"),
    ("f.fits", SIMPLE + bytes(3000), r"HDU 0: the header is truncated"),
    ("g.fits", SIMPLE + b"END".ljust(2880 - 80), r"HDU 0: no BITPIX card"),
]


@pytest.mark.parametrize(("name", "content", "message"), BROKEN)
def test_parse_failures_are_one_line_input_errors(tmp_path, name, content, message):
    path = _write(tmp_path, name, content)
    with pytest.raises(InputError, match=message) as caught:
        open_observation(path)
    text = str(caught.value)
    assert text.startswith(f"{path}: ") and text.isprintable() and len(text) < 500


def test_label_values_of_the_wrong_kind(product):
    label, _ = product
    text = label.read_text()
    for old, new, message in (
        ("LINES" + " " * 27 + "= 256", "LINES = ABC", r"LINES = 'ABC' is not an integer"),
        ("= 1728 ", '= "x" ', r"RECORD_BYTES = 'x' is not an integer"),
        ("GROUP                           = L_BAND_PARAMETERS",
         "L_BAND_PARAMETERS = 1\nGROUP = L_BAND_PARAMETERS", "L_BAND_PARAMETERS is a keyword"),
        ("EMISSION_ANGLE                  = 30.0000 <degree>", 'EMISSION_ANGLE = "steep"',
         r"cannot read it: ValueError: could not convert string to float: 'steep'"),
    ):  # fmt: skip
        label.write_text(text.replace(old, new, 1))
        with pytest.raises(InputError, match=message):
            open_observation(label)


@pytest.mark.parametrize(
    ("raised", "message"),
    [
        (KeyError("wavelength"), r"cannot read it: KeyError: 'wavelength'"),
        (IndexError("list index out of range"), r"cannot read it: IndexError: list index"),
        (struct.error("unpack requires a buffer of 4 bytes"), r"cannot read it: struct\.error"),
        (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
         r"cannot read it: UnicodeDecodeError: 'utf-8' codec can't decode byte 0xff"),
        (ValueError("line one\nline two"), r"cannot read it: ValueError: line one$"),
        (InputError("elsewhere", "two\nlines"), r"^elsewhere: two lines$"),
        (RecursionError("maximum recursion depth exceeded"), r"RecursionError"),
        (OSError(5, "Input/output error"), r"cannot read it: OSError: \[Errno 5\]"),
    ],
)  # fmt: skip
def test_unexpected_exceptions_become_input_errors(tmp_path, raised, message):
    def reader(path):
        raise raised

    register_format("broken", reader, extensions=(".broken",))
    path = _write(tmp_path, "a.broken", b"x")
    with pytest.raises(InputError, match=message) as caught:
        open_observation(path)
    assert "\n" not in str(caught.value)
    assert caught.value.__cause__ is raised  # the traceback of --debug


@pytest.mark.parametrize("raised", [KeyboardInterrupt(), SystemExit(3), MemoryError()])
def test_interrupts_and_memory_errors_pass_unchanged(tmp_path, raised):
    def reader(path):
        raise raised

    register_format("broken", reader, extensions=(".broken",))
    path = _write(tmp_path, "a.broken", b"x")
    with pytest.raises(type(raised)) as caught:
        open_observation(path)
    assert caught.value is raised


def test_options_are_usage_errors_not_input_errors(tmp_path, product):
    label, _ = product
    for options, message in (
        ({"distance": -1.0}, "distance must be > 0"),
        ({"band_integrated": "maybe"}, "band_integrated must be"),
        ({"relative_uncertainty": 0.0}, "relative_uncertainty must be > 0"),
        ({"colour": "red"}, "unexpected option"),
        ({"format": "nope"}, "format must be"),
    ):
        with pytest.raises(OptionError, match=message) as caught:
            open_observation(label, **options)
        assert not isinstance(caught.value, InputError)
    cube = os.path.join(EXAMPLES, "jwst_nirspec_synthetic_s3d.fits")
    with pytest.raises(OptionError, match="distance must be > 0"):
        open_observation(cube, distance=0.0)


def test_devices_and_fifos_are_refused(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match=r"not a regular file \(a device, FIFO or socket\)"):
        open_observation(fifo)  # would block forever on a read
    if os.path.exists("/dev/zero"):
        with pytest.raises(InputError, match="not a regular file"):
            open_observation("/dev/zero", format="fits")


def test_an_unreadable_file_is_an_input_error(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    path = _write(tmp_path, "locked.csv", b"nirc2_kc,nirc2_kc_uncertainty\n1,2\n")
    path.chmod(0)
    with pytest.raises(InputError, match=r"cannot read it: PermissionError"):
        open_observation(path)


def test_messages_are_bounded(tmp_path):
    huge = "x" * 10_000
    path = _write(tmp_path, "a.csv", f"nirc2_kc,nirc2_kc_uncertainty\n{huge},1\n".encode())
    with pytest.raises(InputError) as caught:
        open_observation(path)
    assert len(str(caught.value)) < len(str(path)) + 200
    assert limits.one_line("a\nb\r\tc\x00d") == "a b c d"
    assert limits.format_bytes(1e10) == "9.31 GiB" and limits.format_bytes(12) == "12 bytes"


def test_memory_budget_is_a_context_variable():
    default = limits.current_max_memory()
    assert default == limits.default_max_memory() > 0
    with limits.memory_budget(1234):
        assert limits.current_max_memory() == 1234
        seen = []
        thread = threading.Thread(target=lambda: seen.append(limits.current_max_memory()))
        thread.start()
        thread.join()
        assert seen == [default]  # another thread keeps its own budget
    assert limits.current_max_memory() == default
    with pytest.raises(ValueError, match="max_memory"):
        with limits.memory_budget(float("nan")):
            pass


def test_bundled_examples_read_unchanged_through_the_limits():
    # every example reads under a small budget and deadline, identically to no limits
    for name in sorted(os.listdir(EXAMPLES)):
        path = os.path.join(EXAMPLES, name)
        limited = open_observation(path, timeout=30, max_memory=64 * 2**20)
        xr.testing.assert_identical(limited, open_observation(path, timeout=None))


def test_a_gzipped_cube_is_read_from_its_stream(tmp_path):
    # astropy reads gzip transparently; the structure walk decompresses without keeping it
    data = open(os.path.join(EXAMPLES, "jwst_nirspec_synthetic_s3d.fits"), "rb").read()
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as handle:
        handle.write(data)
    path = _write(tmp_path, "cube.fits.gz", buffer.getvalue())
    names = [name for name, _ in fits_structure(path)]
    assert names[:2] == ["", "SCI"] and "DQ" in names
    reference = open_observation(os.path.join(EXAMPLES, "jwst_nirspec_synthetic_s3d.fits"))
    xr.testing.assert_equal(open_observation(path, format="fits"), reference)

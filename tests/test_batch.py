"""Batches of files from scripts (thermal.batch): the runs the command line makes, without it."""

import os

import pytest

from thermal import batch

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "examples")
KECK = os.path.join(EXAMPLES, "keck_2013-08.csv")
JIRAM_IMAGE = os.path.join(EXAMPLES, "JIR_IMG_RDR_2017033T114006_V99.LBL")


def test_plan_names_results_and_refuses_impossible_requests(tmp_path):
    a, b = str(tmp_path / "a.csv"), str(tmp_path / "sub" / "a.csv")
    assert batch.plan_outputs([a], str(tmp_path / "out")) == [
        (a, str(tmp_path / "out" / "a.fit.nc"))
    ]
    assert batch.plan_outputs([a], str(tmp_path / "one.nc")) == [(a, str(tmp_path / "one.nc"))]
    with pytest.raises(ValueError, match=r"one\.nc: a single output file needs a single input"):
        batch.plan_outputs([a, b], str(tmp_path / "one.nc"))
    with pytest.raises(ValueError, match="would both be written to"):
        batch.plan_outputs([a, b], str(tmp_path / "out"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="file: exists and is not a directory"):
        batch.plan_outputs([a], str(tmp_path / "file"))


def test_fit_file_runs_from_a_script_and_resumes(tmp_path):
    """fit_file goes straight into run_serial (model "auto", no options); a second run finds
    the result current and skips it; a bad input is its row's one-line error."""
    bad = tmp_path / "bad.csv"
    bad.write_text("not a table\n")
    plan = batch.plan_outputs([KECK, str(bad)], str(tmp_path / "out"))
    os.makedirs(tmp_path / "out")
    seen = []
    rows = batch.run_serial(plan, batch.fit_file, {}, seen.append)
    assert [r["input"] for r in seen] == [KECK, str(bad)]
    good, failed = rows
    assert good["error"] is None and not good["skipped"] and good["fitted"] == 4
    assert os.path.isfile(good["output"])
    assert failed["error"].startswith(f"{bad}:") and "\n" not in failed["error"]
    assert not os.path.exists(failed["output"])
    again = batch.fit_file(KECK, good["output"])
    assert again["skipped"] and again["error"] is None and again["fitted"] == 4


def test_a_file_that_is_not_this_inputs_result_is_never_replaced_silently(tmp_path):
    """Another input's result, an observation or any other file at the output path stays as
    it is (a one-line error) unless overwrite is given; this input's own result is refitted."""
    import shutil

    other = tmp_path / "other" / "keck_2013-08.csv"
    other.parent.mkdir()
    shutil.copy(KECK, other)
    output = tmp_path / "keck.fit.nc"
    assert batch.fit_file(str(other), str(output))["error"] is None
    before = output.read_bytes()
    row = batch.fit_file(KECK, str(output))
    assert row["error"] == (
        f"{output}: exists and holds the result of {other}, not of this input; give "
        "--overwrite (overwrite=True) to replace it"
    )
    assert output.read_bytes() == before
    stranger = tmp_path / "notes.nc"
    stranger.write_text("my notes")
    assert "exists and is not a thermal result" in batch.fit_file(KECK, str(stranger))["error"]
    assert stranger.read_text() == "my notes"
    replaced = batch.fit_file(KECK, str(output), options={"overwrite": True})
    assert replaced["error"] is None and output.read_bytes() != before
    # the same input fitted with another model: its own result, refitted without overwrite
    assert batch.fit_file(KECK, str(output), model="1T")["error"] is None


def test_the_next_input_is_read_ahead_unless_its_result_will_be_kept(tmp_path, monkeypatch):
    asked = []
    monkeypatch.setattr(
        "thermal.io.isolated.read_ahead", lambda path, **arguments: asked.append(path)
    )
    output = tmp_path / "keck.fit.nc"
    batch.fit_read_ahead(KECK, str(output), {})
    output.write_bytes(b"")  # a result: a resumed batch would skip this input
    batch.fit_read_ahead(KECK, str(output), {})
    batch.fit_read_ahead(KECK, str(output), {"overwrite": True})
    batch.fit_read_ahead(KECK, str(output), {"overwrite": True, "max_memory": 1000})  # too big
    assert asked == [KECK, KECK]
    # run_serial asks for the next input before each task, and for nothing after the last
    order = []
    plan = [("a", "a.out"), ("b", "b.out"), ("c", "c.out")]
    batch.run_serial(
        plan,
        lambda path, output, options: order.append(("task", path)) or {"input": path},
        {},
        lambda row: None,
        read_ahead=lambda path, output, options: order.append(("ahead", path)),
    )
    assert order == [
        ("ahead", "b"), ("task", "a"), ("ahead", "c"), ("task", "b"), ("task", "c"),
    ]  # fmt: skip


def test_a_batch_read_ahead_reads_each_input_once(tmp_path, monkeypatch):
    """What fit_read_ahead sends is what fit_file then asks for: one read per input."""
    from thermal.io import isolated

    if not isolated.isolation_available():
        pytest.skip("no reader process here")
    inputs = []
    for i in range(3):
        inputs.append(str(tmp_path / f"keck{i}.csv"))
        with open(KECK) as source, open(inputs[-1], "w") as copy:
            copy.write(source.read())
    sent = []
    send = isolated._Session._send
    monkeypatch.setattr(
        isolated._Session,
        "_send",
        lambda self, payload, state: sent.append(payload) or send(self, payload, state),
    )
    os.makedirs(tmp_path / "out")
    plan = batch.plan_outputs(inputs, str(tmp_path / "out"))
    rows = batch.run_serial(plan, batch.fit_file, {}, lambda row: None, None, batch.fit_read_ahead)
    assert [r["error"] for r in rows] == [None] * 3
    assert len(sent) == len(set(sent)) == 3


def test_detect_file_and_the_catalogue_from_a_script(tmp_path):
    output = str(tmp_path / "frame.hotspots.nc")
    row = batch.detect_file(JIRAM_IMAGE, output)
    assert row["error"] is None and row["spots"] == 2 and os.path.isfile(output)
    path = batch.write_catalogue([row], str(tmp_path))
    assert path == str(tmp_path / batch.CATALOGUE) and os.path.isfile(path)
    assert batch.write_catalogue([], str(tmp_path / "none")) is None
    with pytest.raises(ValueError, match="no adaptive-optics image"):
        batch.write_photometry_table([row], str(tmp_path / "table.csv"))


def test_one_output_reached_through_a_link_is_one_lock(tmp_path):
    """Two runs writing into a folder and a symbolic link to it take turns on each output."""
    import threading

    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    entered = threading.Event()

    def other():
        with batch._claim(str(tmp_path / "link" / "x.fit.nc")):
            entered.set()

    with batch._claim(str(real / "x.fit.nc")):
        thread = threading.Thread(target=other)
        thread.start()
        assert not entered.wait(0.5)  # waits for this claim
    thread.join(5)
    assert entered.is_set()

"""minitorch.utils.tensorboard.SummaryWriter: what it writes, read back from the event files."""

import struct

import numpy as np
import pytest

import minitorch

pytest.importorskip("tensorboardX", reason="SummaryWriter writes through tensorboardX")
from tensorboardX.proto import event_pb2  # noqa: E402

from minitorch.utils.tensorboard import SummaryWriter  # noqa: E402


def _events(log_dir):
    """Every Event in the TFRecord files under log_dir and its subfolders (add_scalars writes
    one run per key); a record is its length, the length's crc, the data, the data's crc."""
    events = []
    for path in sorted(log_dir.rglob("events.out.tfevents.*")):
        data = path.read_bytes()
        at = 0
        while at < len(data):
            (length,) = struct.unpack("<Q", data[at : at + 8])
            events.append(event_pb2.Event.FromString(data[at + 12 : at + 12 + length]))
            at += 12 + length + 4
    return events


def _values(log_dir):
    """{tag: [(step, summary value)]} of the summaries written under log_dir."""
    found = {}
    for event in _events(log_dir):
        for value in event.summary.value:
            found.setdefault(value.tag, []).append((event.step, value))
    return found


def test_scalars_of_tensors_and_numbers(tmp_path):
    w = minitorch.tensor([1.5, -2.0], requires_grad=True)
    with SummaryWriter(log_dir=str(tmp_path)) as writer:
        for step in range(3):
            loss = (w * w).sum() * (step + 1)  # a 0-d tensor that requires grad
            writer.add_scalar("loss", loss, step)
        writer.add_scalar("lr", 0.01, 0)
        writer.add_scalars("pair", {"a": minitorch.tensor(1.0), "b": 2.0}, 5)
    values = _values(tmp_path)
    assert [(s, v.simple_value) for s, v in values["loss"]] == [(0, 6.25), (1, 12.5), (2, 18.75)]
    assert values["lr"][0][1].simple_value == pytest.approx(0.01)
    assert sorted((s, v.simple_value) for s, v in values["pair"]) == [(5, 1.0), (5, 2.0)]


def test_histogram_image_and_text(tmp_path):
    weights = minitorch.arange(100, dtype=minitorch.float32) / 10
    image = minitorch.zeros(3, 8, 6)  # CHW, as add_image's default dataformats
    with SummaryWriter(log_dir=str(tmp_path)) as writer:
        writer.add_histogram("fc.weight", weights, 1)
        writer.add_image("sample", image, 1)
        writer.add_text("note", "trained on digits", 1)
    values = _values(tmp_path)
    histo = values["fc.weight"][0][1].histo
    assert (histo.num, histo.min, histo.max) == (100, 0.0, pytest.approx(9.9))
    assert histo.sum == pytest.approx(float(np.arange(100).sum()) / 10, rel=1e-6)
    picture = values["sample"][0][1].image
    assert (picture.height, picture.width, picture.colorspace) == (8, 6, 3)
    assert b"trained on digits" in values["note/text_summary"][0][1].tensor.string_val[0]


def test_add_hparams_takes_torch_arguments(tmp_path):
    with SummaryWriter(log_dir=str(tmp_path)) as writer:
        metrics = {"hparam/loss": minitorch.tensor(0.5)}
        writer.add_hparams({"lr": 0.1, "bs": 32}, metrics, run_name="r")
    assert _values(tmp_path)["hparam/loss"][0][1].simple_value == 0.5


def test_add_graph_is_refused_with_what_to_do(tmp_path):
    with SummaryWriter(log_dir=str(tmp_path)) as writer:
        with pytest.raises(NotImplementedError, match=r"add_graph.*explain\(\)"):
            writer.add_graph(minitorch.nn.Linear(2, 1), minitorch.zeros(1, 2))

"""minitorch.utils.tensorboard: PyTorch's `SummaryWriter`, writing TensorBoard event files
through tensorboardX (`pip install minitorch[tensorboard]`).

`SummaryWriter(log_dir=None, comment="", purge_step=None, max_queue=10, flush_secs=120,
filename_suffix="")` takes torch's arguments; every `add_*` method takes minitorch tensors
(detached and copied to the host first) wherever tensorboardX takes numpy arrays, including
the values of `add_scalars`' dict. `add_graph` is refused: it traces a model with torch.jit.
"""

from __future__ import annotations

import functools

try:
    import tensorboardX
except ImportError as error:  # NOTE: torch.utils.tensorboard raises ImportError too
    raise ImportError(
        "minitorch.utils.tensorboard writes through tensorboardX, which is not installed; "
        "install it with `pip install minitorch[tensorboard]` (or `pip install tensorboardX`)"
    ) from error

from ..tensor import Tensor

__all__ = ["SummaryWriter"]

# tensorboardX's methods that draw a model's graph: they need a torch / ONNX / OpenVINO model
_GRAPH_METHODS = ("add_graph", "add_onnx_graph", "add_openvino_graph")


def _host(value):
    """value with every minitorch tensor in it (also inside dicts, lists and tuples) replaced
    by a numpy array of its values."""
    if isinstance(value, Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, dict):
        return {key: _host(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_host(item) for item in value)
    return value


def _taking_tensors(method):
    @functools.wraps(method)
    def add(self, *args, **kwargs):
        args = [_host(arg) for arg in args]
        return method(self, *args, **{key: _host(item) for key, item in kwargs.items()})

    return add


class SummaryWriter(tensorboardX.SummaryWriter):
    """Writes scalars, histograms, images, text... to event files under log_dir (default
    runs/CURRENT_DATETIME_HOSTNAME) for TensorBoard, as torch.utils.tensorboard does."""

    def __init__(
        self,
        log_dir=None,
        comment="",
        purge_step=None,
        max_queue=10,
        flush_secs=120,
        filename_suffix="",
    ):
        super().__init__(
            logdir=log_dir,
            comment=comment,
            purge_step=purge_step,
            max_queue=max_queue,
            flush_secs=flush_secs,
            filename_suffix=filename_suffix,
        )

    def add_hparams(
        self,
        hparam_dict,
        metric_dict,
        hparam_domain_discrete=None,
        run_name=None,
        global_step=None,
    ):
        """torch's signature; hparam_domain_discrete is not written (tensorboardX has none)."""
        metrics = _host(metric_dict)
        super().add_hparams(_host(hparam_dict), metrics, name=run_name, global_step=global_step)

    def add_graph(self, model, input_to_model=None, verbose=False, use_strict_trace=True):
        raise NotImplementedError(
            "SummaryWriter.add_graph: drawing a model's graph needs torch.jit, which minitorch "
            "does not have; log scalars, histograms and images instead, or look at a compiled "
            "step's graph with minitorch.compile(step).explain()"
        )


for _name in dir(tensorboardX.SummaryWriter):
    if _name.startswith("add_") and _name not in _GRAPH_METHODS and _name != "add_hparams":
        setattr(SummaryWriter, _name, _taking_tensors(getattr(tensorboardX.SummaryWriter, _name)))

"""nn: Module machinery, containers, layers, init and utils, checked against PyTorch.

Each layer test copies the same weights into a torch module and a minitorch module, then
compares outputs, input gradients and parameter gradients within float32 tolerance.
"""

# NOTE: minitorch (numba/LLVM) is imported before torch (see DESIGN.md, LLVM load order).
import copy
import math
import pickle
import warnings
from collections import OrderedDict

import numpy as np
import pytest

import minitorch as mt
import minitorch.nn as mnn
import minitorch.nn.functional as MF
from minitorch.nn import init as minit

torch = pytest.importorskip("torch")
tnn = torch.nn
TF = torch.nn.functional

ATOL, RTOL = 1e-5, 1e-4


# ---- parity helpers --------------------------------------------------------------------------


def _np(t):
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


def close(a, b, atol=ATOL, rtol=RTOL, what=""):
    a, b = _np(a), _np(b)
    assert a.shape == b.shape, f"{what} shape mismatch: minitorch={a.shape} | torch={b.shape}"
    np.testing.assert_allclose(a, b, atol=atol, rtol=rtol, err_msg=what)


def sync(mmod, tmod):
    """Copy torch's parameters and buffers into the minitorch module (same names)."""
    sd = {k: mt.tensor(v.detach().numpy()) for k, v in tmod.state_dict().items()}
    mmod.load_state_dict(sd)


def check_module(mmod, tmod, *arrays, atol=ATOL, rtol=RTOL, grad_inputs=True, seed=0):
    """Forward both modules on the same inputs; compare outputs and all gradients."""
    sync(mmod, tmod)
    mins = [mt.tensor(a, requires_grad=grad_inputs and a.dtype.kind == "f") for a in arrays]
    tins = [torch.tensor(a, requires_grad=grad_inputs and a.dtype.kind == "f") for a in arrays]
    mout, tout = mmod(*mins), tmod(*tins)
    close(mout, tout, atol, rtol, "output")
    g = np.random.default_rng(seed).standard_normal(tuple(tout.shape)).astype(np.float32)
    mout.backward(mt.tensor(g))
    tout.backward(torch.tensor(g))
    for i, (a, b) in enumerate(zip(mins, tins)):
        if b.grad is not None:
            close(a.grad, b.grad, atol, rtol, f"grad of input {i}")
    tparams = dict(tmod.named_parameters())
    for name, p in mmod.named_parameters():
        tp = tparams[name]
        if tp.grad is None:
            assert p.grad is None, name
        else:
            close(p.grad, tp.grad, atol, rtol, f"grad of {name}")
    return mout, tout


def rand(*shape, seed=0, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


# ---- Parameter ---------------------------------------------------------------------------------


def test_parameter_is_tensor_with_grad_and_repr():
    p = mnn.Parameter(mt.tensor([1.0, 2.0]))
    assert isinstance(p, mt.Tensor) and isinstance(p, mnn.Parameter)
    assert p.requires_grad and p.is_leaf
    assert repr(p).startswith("Parameter containing:\ntensor([1., 2.]")
    assert "requires_grad=True" in repr(p)
    assert not mnn.Parameter(mt.zeros(2), requires_grad=False).requires_grad
    q = copy.deepcopy(p)
    assert isinstance(q, mnn.Parameter) and q.requires_grad and q is not p
    r = pickle.loads(pickle.dumps(p))
    assert isinstance(r, mnn.Parameter) and r.tolist() == [1.0, 2.0]


def test_parameter_shares_storage():
    t = mt.zeros(3)
    p = mnn.Parameter(t)
    with mt.no_grad():
        p.add_(1.0)
    assert t.tolist() == [1.0, 1.0, 1.0]


# ---- Module tree, names, state_dict ------------------------------------------------------------


def _mlp(nn):
    return nn.Sequential(
        nn.Linear(8, 16),
        nn.BatchNorm1d(16),
        nn.ReLU(),
        nn.Dropout(0.2),
        nn.Sequential(nn.Linear(16, 16), nn.LayerNorm(16), nn.GELU()),
        nn.Linear(16, 4),
    )


def _custom(nn):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Linear(4, 6)
            self.blocks = nn.ModuleList([nn.Linear(6, 6), nn.Linear(6, 6)])
            self.heads = nn.ModuleDict({"a": nn.Linear(6, 2), "b": nn.Linear(6, 3)})
            self.shared = self.encoder  # same module twice: listed once
            self.scale = nn.Parameter(torch_or_mt(nn).ones(1))
            self.register_buffer("steps", torch_or_mt(nn).zeros(1))
            self.register_buffer("cache", torch_or_mt(nn).zeros(2), persistent=False)
            self.norm = nn.BatchNorm1d(6)

        def forward(self, x):
            h = self.encoder(x)
            for b in self.blocks:
                h = b(h).relu()
            return self.heads["a"](self.norm(h)) * self.scale

    return Net()


def torch_or_mt(nn):
    return torch if nn is tnn else mt


@pytest.mark.parametrize("build", [_mlp, _custom])
def test_names_and_state_dict_keys_match_torch(build):
    m, t = build(mnn), build(tnn)
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in m.named_buffers()] == [n for n, _ in t.named_buffers()]
    assert [n for n, _ in m.named_modules()] == [n for n, _ in t.named_modules()]
    assert [n for n, _ in m.named_children()] == [n for n, _ in t.named_children()]
    assert list(m.state_dict().keys()) == list(t.state_dict().keys())
    for (k, a), (_, b) in zip(m.state_dict().items(), t.state_dict().items()):
        assert tuple(a.shape) == tuple(b.shape), k
        assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1], k
    assert len(list(m.parameters())) == len(list(t.parameters()))
    assert len(list(m.modules())) == len(list(t.modules()))
    assert [n for n, _ in m.named_parameters(remove_duplicate=False)] == [
        n for n, _ in t.named_parameters(remove_duplicate=False)
    ]
    assert [n for n, _ in m.named_parameters(prefix="model", recurse=False)] == [
        n for n, _ in t.named_parameters(prefix="model", recurse=False)
    ]


def test_repr_matches_torch():
    def build(nn):
        return nn.Sequential(
            OrderedDict(
                [
                    ("fc", nn.Linear(3, 4, bias=False)),
                    ("bn", nn.BatchNorm1d(4, momentum=None)),
                    ("act", nn.LeakyReLU(0.2, inplace=True)),
                    ("drop", nn.Dropout(p=0.1)),
                    ("seq", nn.Sequential(nn.LayerNorm(4), nn.GELU("tanh"), nn.Softmax(dim=1))),
                    ("emb", nn.Embedding(10, 4, padding_idx=0)),
                    ("gn", nn.GroupNorm(2, 4)),
                    ("list", nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2), nn.ReLU()])),
                    ("dict", nn.ModuleDict({"x": nn.Tanh()})),
                    ("flat", nn.Flatten()),
                    ("unflat", nn.Unflatten(1, (2, 2))),
                    ("sp", nn.Softplus(beta=2, threshold=10)),
                    ("ht", nn.Hardtanh(-2.0, 2.0)),
                    ("elu", nn.ELU()),
                    ("bil", nn.Bilinear(2, 3, 4)),
                    ("id", nn.Identity()),
                    ("d2", nn.Dropout2d()),
                    ("r6", nn.ReLU6()),
                    ("ce", nn.CrossEntropyLoss()),
                    ("ls", nn.LogSoftmax(dim=-1)),
                ]
            )
        )

    assert repr(build(mnn)) == repr(build(tnn))
    assert repr(mnn.ModuleList()) == repr(tnn.ModuleList())


def test_setattr_getattr_delattr_semantics():
    m = mnn.Module()
    m.w = mnn.Parameter(mt.ones(2))
    assert "w" in m._parameters and m.w is m._parameters["w"]
    m.sub = mnn.Linear(2, 2)
    assert "sub" in m._modules
    m.register_buffer("buf", mt.zeros(2))
    m.buf = mt.ones(2)  # a plain tensor assigned to a buffer name stays a buffer
    assert m._buffers["buf"].tolist() == [1.0, 1.0]
    with pytest.raises(TypeError):
        m.w = mt.ones(2)  # not a Parameter
    m.w = None
    assert m._parameters["w"] is None and "w" not in dict(m.named_parameters())
    with pytest.raises(TypeError):
        m.sub = 3
    del m.sub
    assert "sub" not in m._modules
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        _ = m.missing
    with pytest.raises(KeyError):
        m.register_buffer("a.b", mt.zeros(1))
    with pytest.raises(KeyError, match="already exists"):
        m.plain = 3
        m.register_parameter("plain", None)
    with pytest.raises(TypeError):
        m.register_buffer("nb", [1, 2])
    nonleaf = mnn.Parameter(mt.ones(2))
    with pytest.raises(AttributeError):
        mnn.Module.__new__(mnn.Module).x = nonleaf  # before __init__
    m.x = mt.ones(1)  # a plain tensor is a plain attribute
    assert "x" not in m._buffers and "x" not in m._parameters
    m.b2 = mnn.Buffer(mt.zeros(3), persistent=False)
    assert "b2" in m._buffers and "b2" not in m.state_dict()


def test_register_buffer_persistent_and_children_dedup():
    m = _custom(mnn)
    assert "cache" not in m.state_dict() and "steps" in m.state_dict()
    assert "cache" in dict(m.named_buffers())
    assert [n for n, _ in m.named_children()] == ["encoder", "blocks", "heads", "norm"]
    assert len(list(m.children())) == 4


def test_train_eval_requires_grad_zero_grad():
    m = _mlp(mnn)
    assert all(x.training for x in m.modules())
    assert m.eval() is m and not any(x.training for x in m.modules())
    m.train()
    assert all(x.training for x in m.modules())
    x = mt.randn(5, 8)
    m(x).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.any() for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())


def test_to_dtype_device_and_apply():
    m = _mlp(mnn)
    w = m[0].weight
    assert m.to(mt.float64) is m
    assert m[0].weight is w and w.dtype is mt.float64  # converted in place
    assert m[1].running_mean.dtype is mt.float64
    assert m[1].num_batches_tracked.dtype is mt.int64  # integer buffers untouched
    assert m(mt.randn(3, 8, dtype=mt.float64)).dtype is mt.float64
    m.float()
    assert w.dtype is mt.float32
    m.double()
    assert w.dtype is mt.float64
    assert m.to("cpu") is m and m.cpu() is m and m.to(mt.device("cpu"), mt.float32) is m
    if mt.cuda.is_available():  # the CUDA simulator in CI: moving works (see test_cuda.py)
        assert m.cuda() is m and m[0].weight is w and w.is_cuda
        assert m.cpu() is m and not w.is_cuda and m[1].running_mean.device == mt.device("cpu")
    else:
        with pytest.raises(RuntimeError, match="cuda"):
            m.to("cuda")
        with pytest.raises(RuntimeError, match="cuda"):
            m.cuda()
    with pytest.raises(TypeError):
        m.to(mt.int64)
    seen = []
    m.apply(lambda mod: seen.append(type(mod).__name__))
    assert seen[-1] == "Sequential" and seen[0] == "Linear"


def test_load_state_dict_from_torch_gives_same_outputs():
    t = _mlp(tnn).eval()
    m = _mlp(mnn).eval()
    result = m.load_state_dict({k: mt.tensor(v.numpy()) for k, v in t.state_dict().items()})
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    x = rand(5, 8)
    close(m(mt.tensor(x)), t(torch.tensor(x)))


def test_load_state_dict_strict_errors_like_torch():
    m, t = mnn.Linear(3, 2), tnn.Linear(3, 2)
    bad_m = {"weight": mt.zeros(2, 4), "extra": mt.zeros(1)}
    bad_t = {"weight": torch.zeros(2, 4), "extra": torch.zeros(1)}
    with pytest.raises(RuntimeError) as em:
        m.load_state_dict(bad_m)
    with pytest.raises(RuntimeError) as et:
        t.load_state_dict(bad_t)
    text_m = str(em.value)
    assert text_m.startswith("Error(s) in loading state_dict for Linear:")
    assert 'Missing key(s) in state_dict: "bias".' in text_m
    assert 'Unexpected key(s) in state_dict: "extra".' in text_m
    assert "size mismatch for weight: copying a param with shape" in text_m
    # same lines, in the same order, as PyTorch (shapes print as Size([...]) in both)
    lines_t = [line.split(":")[0] for line in str(et.value).split("\n\t")]
    assert [line.split(":")[0] for line in text_m.split("\n\t")] == lines_t
    result = m.load_state_dict({"weight": mt.ones(2, 3), "extra": mt.zeros(1)}, strict=False)
    assert result.missing_keys == ["bias"] and result.unexpected_keys == ["extra"]
    assert m.weight.tolist() == [[1.0] * 3] * 2
    with pytest.raises(TypeError):
        m.load_state_dict([1, 2])


def test_load_state_dict_assign_takes_the_tensors_like_torch():
    for lib in (mt, torch):
        linear, norm = lib.nn.Linear(2, 1), lib.nn.BatchNorm1d(2)
        old = linear.weight
        weight = lib.ones(1, 2, dtype=lib.float64)
        linear.load_state_dict({"weight": weight, "bias": lib.ones(1)}, assign=True)
        assert linear.weight is not old and isinstance(linear.weight, lib.nn.Parameter)
        assert linear.weight.dtype == lib.float64 and linear.weight.requires_grad
        assert [n for n, _ in linear.named_parameters()] == ["weight", "bias"]
        state = {k: v + 1 for k, v in norm.state_dict().items()}
        norm.load_state_dict(state, assign=True)
        assert norm.running_mean is state["running_mean"]  # buffers: the tensors themselves
        assert norm.weight.requires_grad and norm.weight.tolist() == [2.0, 2.0]
        with pytest.raises(RuntimeError, match="size mismatch"):
            linear.load_state_dict({"weight": lib.ones(2, 2), "bias": lib.ones(1)}, assign=True)


def test_state_dict_shares_storage_and_keep_vars():
    m = mnn.Linear(2, 2)
    sd = m.state_dict()
    assert not sd["weight"].requires_grad
    with mt.no_grad():
        m.weight.fill_(3.0)
    assert sd["weight"].tolist() == [[3.0, 3.0], [3.0, 3.0]]
    assert m.state_dict(keep_vars=True)["weight"] is m.weight
    assert list(m.state_dict(prefix="p.").keys()) == ["p.weight", "p.bias"]


def test_batchnorm_state_without_num_batches_tracked_loads():
    # PyTorch fills a missing num_batches_tracked (old checkpoints) instead of failing
    bn = mnn.BatchNorm1d(3)
    sd = {k: v for k, v in bn.state_dict().items() if k != "num_batches_tracked"}
    assert bn.load_state_dict(sd).missing_keys == []


def test_deepcopy_module_is_independent():
    m = _mlp(mnn)
    c = copy.deepcopy(m)
    assert isinstance(c[0].weight, mnn.Parameter)
    with mt.no_grad():
        c[0].weight.fill_(0.0)
    assert m[0].weight.abs().sum().item() > 0
    x = mt.randn(4, 8)
    m.eval()
    c2 = copy.deepcopy(m)
    close(c2(x), m(x))


# ---- hooks ---------------------------------------------------------------------------------


def test_forward_hooks_and_pre_hooks_with_removable_handles():
    m = mnn.Linear(2, 2)
    calls = []
    h1 = m.register_forward_pre_hook(lambda mod, args: (args[0] * 0,))
    h2 = m.register_forward_hook(lambda mod, args, out: calls.append("a") or out + 1)
    h3 = m.register_forward_hook(lambda mod, args, out: calls.append("b"), prepend=True)
    x = mt.ones(1, 2)
    out = m(x)
    assert calls == ["b", "a"]
    close(out, (m.bias + 1).detach().reshape(1, 2))
    h1.remove()
    h2.remove()
    h3.remove()
    h2.remove()  # removing twice is harmless
    calls.clear()
    close(m(x), mnn.functional.linear(x, m.weight, m.bias))
    assert calls == []
    with m.register_forward_hook(lambda mod, args, kwargs, out: out * 0, with_kwargs=True):
        assert not m(x).any()
    assert m(x).any()
    h = m.register_forward_pre_hook(
        lambda mod, args, kwargs: ((args[0] * 2,), kwargs), with_kwargs=True
    )
    close(m(x), m.forward(x * 2))
    h.remove()
    assert not m._forward_pre_hooks and not m._forward_pre_hooks_with_kwargs


def test_forward_hook_collects_activations_like_torch():
    def collect(nn):
        model = _mlp(nn).eval()
        acts = {}
        for name, mod in model.named_modules():
            if name:
                mod.register_forward_hook(
                    lambda mod, args, out, name=name: acts.__setitem__(name, tuple(out.shape))
                )
        return model, acts

    m, am = collect(mnn)
    t, at = collect(tnn)
    sync(m, t)
    m(mt.randn(3, 8))
    t(torch.randn(3, 8))
    assert am == at


# ---- containers --------------------------------------------------------------------------------


def test_sequential_indexing_slicing_append_len_iter():
    a, b, c = mnn.Linear(2, 3), mnn.ReLU(), mnn.Linear(3, 1)
    s = mnn.Sequential(a, b, c)
    assert len(s) == 3 and s[0] is a and s[-1] is c
    assert list(s) == [a, b, c]
    sub = s[1:]
    assert isinstance(sub, mnn.Sequential) and list(sub) == [b, c]
    assert list(sub._modules) == ["1", "2"]  # slicing keeps the original names, as PyTorch
    s.append(mnn.Sigmoid())
    assert len(s) == 4 and isinstance(s[3], mnn.Sigmoid)
    del s[1]
    assert list(s._modules) == ["0", "1", "2"] and s[1] is c
    s.insert(1, b)
    assert s[1] is b
    with pytest.raises(IndexError):
        s[10]
    s[0] = mnn.Linear(2, 3)
    assert s[0] is not a
    named = mnn.Sequential(OrderedDict([("first", a), ("act", b)]))
    assert named.first is a and list(named.state_dict()) == ["first.weight", "first.bias"]
    x = mt.randn(4, 2)
    close(mnn.Sequential(a, b)(x), b(a(x)))
    assert len(mnn.Sequential(a) + mnn.Sequential(b)) == 2


def test_modulelist_moduledict():
    ml = mnn.ModuleList([mnn.Linear(2, 2) for _ in range(3)])
    assert len(ml) == 3 and len(list(ml.parameters())) == 6
    ml.append(mnn.ReLU())
    ml.extend([mnn.Tanh()])
    assert isinstance(ml[-1], mnn.Tanh) and len(ml) == 5
    assert isinstance(ml[1:3], mnn.ModuleList) and len(ml[1:3]) == 2
    ml.insert(0, mnn.Sigmoid())
    assert isinstance(ml[0], mnn.Sigmoid) and len(ml) == 6
    del ml[0]
    assert list(ml._modules) == [str(i) for i in range(5)]
    md = mnn.ModuleDict({"a": mnn.Linear(1, 1)})
    md["b"] = mnn.ReLU()
    assert list(md.keys()) == ["a", "b"] and "a" in md and len(md) == 2
    assert md.pop("b").__class__ is mnn.ReLU and len(md) == 1
    md.update([("c", mnn.Tanh())])
    assert list(md) == ["a", "c"]


def test_parameterlist_parameterdict():
    pl = mnn.ParameterList([mnn.Parameter(mt.zeros(2, 3)), mt.ones(4)])
    assert len(pl) == 2 and all(isinstance(p, mnn.Parameter) for p in pl)
    assert [n for n, _ in pl.named_parameters()] == ["0", "1"]
    pl.append(mnn.Parameter(mt.ones(1)))
    assert len(list(pl.parameters())) == 3
    tpl = tnn.ParameterList(
        [tnn.Parameter(torch.zeros(2, 3)), torch.ones(4), tnn.Parameter(torch.ones(1))]
    )
    assert repr(pl).replace("minitorch.", "torch.") == repr(tpl)
    pd = mnn.ParameterDict({"w": mnn.Parameter(mt.ones(2)), "b": mt.zeros(1)})
    assert list(pd.keys()) == ["b", "w"] and isinstance(pd["b"], mnn.Parameter)  # sorted
    assert [n for n, _ in pd.named_parameters()] == ["b", "w"]
    del pd["w"]
    assert list(pd) == ["b"] and len(list(pd.parameters())) == 1
    pd = mnn.ParameterDict(OrderedDict([("w", mnn.Parameter(mt.ones(2))), ("b", mt.zeros(1))]))
    assert list(pd.keys()) == ["w", "b"]  # an OrderedDict keeps its order


def _on_both(fn):
    """fn(lib, nn) on minitorch and on torch: results, or the exception class and message."""
    out = []
    for lib, nn in ((mt, mnn), (torch, tnn)):
        try:
            out.append(str(fn(lib, nn)).replace("minitorch", "torch"))
        except Exception as ex:  # noqa: BLE001  (compared between the two libraries)
            out.append(f"{type(ex).__name__}: {ex}".replace("minitorch", "torch"))
    return out


CONTAINER_CASES = {
    "seq pop": lambda lib, nn: (lambda s: (type(s.pop(1)).__name__, list(s._modules)))(
        nn.Sequential(nn.ReLU(), nn.Tanh(), nn.Sigmoid())
    ),
    "seq extend": lambda lib, nn: (lambda s: (s.extend([nn.ReLU()]), list(s._modules)))(
        nn.Sequential(nn.ReLU(), nn.Tanh())
    ),
    "seq reversed slice": lambda lib, nn: list(
        nn.Sequential(nn.ReLU(), nn.Tanh(), nn.Sigmoid())[::-1]._modules
    ),
    "seq del slice": lambda lib, nn: (lambda s: (s.__delitem__(slice(0, 2)), list(s._modules)))(
        nn.Sequential(nn.ReLU(), nn.Tanh(), nn.Sigmoid())
    ),
    "seq mul": lambda lib, nn: list((nn.Sequential(nn.ReLU(), nn.Tanh()) * 2)._modules),
    "list add": lambda lib, nn: repr(nn.ModuleList([nn.ReLU()]) + nn.ModuleList([nn.Tanh()])),
    "list iadd": lambda lib, nn: (lambda m: (m.__iadd__([nn.Tanh()]), repr(m)))(
        nn.ModuleList([nn.ReLU()])
    )[1],
    "list setitem": lambda lib, nn: (lambda m: (m.__setitem__(-1, nn.Tanh()), repr(m)))(
        nn.ModuleList([nn.ReLU(), nn.ReLU()])
    )[1],
    "list pop": lambda lib, nn: (lambda m: (type(m.pop(0)).__name__, list(m._modules)))(
        nn.ModuleList([nn.ReLU(), nn.Tanh()])
    ),
    "dict ops": lambda lib, nn: (
        lambda d: (
            list(d.keys()),
            [type(v).__name__ for v in d.values()],
            d.update(nn.ModuleDict({"z": nn.ReLU()})),
            list(d),
            d.clear(),
            len(d),
        )
    )(nn.ModuleDict([("b", nn.ReLU()), ("a", nn.Tanh())])),
    "dict bad key": lambda lib, nn: nn.ModuleDict({"a.b": nn.ReLU()}),
    "pdict ops": lambda lib, nn: (
        lambda d: (list(d), d.get("zz"), "w" in d, type(d.pop("w")).__name__, list(d.state_dict()))
    )(nn.ParameterDict({"w": nn.Parameter(lib.ones(1)), "v": nn.Parameter(lib.ones(2))})),
    "plist extend": lambda lib, nn: (
        lambda p: (p.extend([nn.Parameter(lib.ones(1))]), list(p.state_dict()), repr(p))
    )(nn.ParameterList([nn.Parameter(lib.ones(1))])),
    "plist setitem": lambda lib, nn: (
        lambda p: (p.__setitem__(0, lib.zeros(3)), type(p[0]).__name__, p[0].requires_grad)
    )(nn.ParameterList([nn.Parameter(lib.ones(1))])),
    "pdict repr": lambda lib, nn: repr(nn.ParameterDict({"a": nn.Parameter(lib.ones(2, 3))})),
}


@pytest.mark.parametrize("case", sorted(CONTAINER_CASES))
def test_container_behaviour_matches_torch(case):
    m, t = _on_both(CONTAINER_CASES[case])
    assert m == t


MODULE_CASES = {
    "buffer None": lambda lib, nn: (
        lambda m: (m.register_buffer("b", None), list(m.state_dict()), list(m.named_buffers()))
    )(nn.Linear(1, 1)),
    "shared module state_dict": lambda lib, nn: (
        lambda lin: (
            list(nn.Sequential(lin, lin).state_dict()),
            len(list(nn.Sequential(lin, lin).parameters())),
            [n for n, _ in nn.Sequential(lin, lin).named_modules(remove_duplicate=False)],
        )
    )(nn.Linear(1, 1)),
    "num_batches_tracked": lambda lib, nn: (
        lambda b: ([b(lib.randn(4, 3)) for _ in range(3)], b.num_batches_tracked.item())
    )(nn.BatchNorm1d(3))[1],
    "to(tensor)": lambda lib, nn: (
        lambda m: (m.to(lib.zeros(1, dtype=lib.float64)), m.weight.dtype)
    )(nn.Linear(1, 1))[1],
    "get_submodule": lambda lib, nn: (
        type(nn.Sequential(nn.Sequential(nn.ReLU())).get_submodule("0.0")).__name__
    ),
    "get_submodule missing": lambda lib, nn: nn.Sequential(nn.ReLU()).get_submodule("1"),
    "get_parameter": lambda lib, nn: tuple(
        nn.Sequential(nn.Linear(2, 3)).get_parameter("0.weight").shape
    ),
    "keyword call": lambda lib, nn: tuple(nn.Linear(2, 3)(input=lib.ones(2)).shape),
    "train(non-bool)": lambda lib, nn: nn.Linear(1, 1).train("yes"),
    "empty batch": lambda lib, nn: (
        tuple(nn.LayerNorm(3)(lib.ones(0, 3)).shape),
        tuple(nn.Linear(3, 2)(lib.ones(0, 3)).shape),
    ),
    "load nested non-strict": lambda lib, nn: nn.Sequential(
        nn.Linear(1, 1), nn.BatchNorm1d(1)
    ).load_state_dict(
        {"0.weight": lib.ones(1, 1), "0.foo": lib.ones(1), "3.x": lib.ones(1)}, strict=False
    ),
    "load 0-d buffer": lambda lib, nn: nn.BatchNorm1d(1).load_state_dict(
        {
            "weight": lib.ones(1),
            "bias": lib.ones(1),
            "running_mean": lib.ones(1),
            "running_var": lib.ones(1),
            "num_batches_tracked": lib.tensor(3),
        }
    ),
    "load converts dtype": lambda lib, nn: (
        lambda m: (
            m.load_state_dict({"weight": lib.ones(1, 1).double(), "bias": lib.ones(1).double()}),
            m.weight.dtype,
        )
    )(nn.Linear(1, 1))[1],
    "load assign": lambda lib, nn: (
        lambda m: (
            m.load_state_dict({"weight": lib.ones(2, 2), "bias": lib.zeros(2)}, assign=True),
            type(m.weight).__name__,
            m.weight.requires_grad,
        )
    )(nn.Linear(2, 2)),
    "register non-Parameter": lambda lib, nn: nn.Linear(1, 1).register_parameter("x", lib.ones(1)),
    "zero_grad(False)": lambda lib, nn: (
        lambda m: (m(lib.ones(1)).sum().backward(), m.zero_grad(False), m.weight.grad.tolist())
    )(nn.Linear(1, 1))[2],
    "Parameter()": lambda lib, nn: (lambda p: (tuple(p.shape), p.requires_grad))(nn.Parameter()),
    "Parameter types": lambda lib, nn: [
        type(f(nn.Parameter(lib.ones(1)))).__name__
        for f in (lambda p: p.detach(), lambda p: p * 2, lambda p: p.clone(), nn.Parameter)
    ],
    "Buffer attribute": lambda lib, nn: (
        lambda m: (setattr(m, "b", nn.Buffer(lib.ones(1))), list(m.state_dict()))
    )(nn.Linear(1, 1)),
    "pre-hook order": lambda lib, nn: (
        lambda m, calls: (
            m.register_forward_pre_hook(lambda mod, a: calls.append(1)),
            m.register_forward_pre_hook(lambda mod, a: calls.append(2), prepend=True),
            m(lib.ones(1)),
            calls,
        )
    )(nn.Linear(1, 1), [])[-1],
    "pre-hook single value": lambda lib, nn: (
        lambda m: (m.register_forward_pre_hook(lambda mod, a: a[0] * 0), m(lib.ones(1)).tolist())
    )(nn.Identity())[1],
}


@pytest.mark.parametrize("case", sorted(MODULE_CASES))
def test_module_behaviour_matches_torch(case):
    m, t = _on_both(MODULE_CASES[case])
    assert m == t


def test_extra_state_state_dict_hooks_and_set_submodule_match_torch():
    def run(lib, nn):
        class WithExtra(nn.Module):
            def __init__(self):
                super().__init__()
                self.lin = nn.Linear(2, 2)
                self.step = 0

            def get_extra_state(self):
                return {"step": self.step}

            def set_extra_state(self, state):
                self.step = state["step"]

        m, m2, calls = nn.Sequential(WithExtra()), nn.Sequential(WithExtra()), []
        m[0].step = 7
        sd = m.state_dict()
        out = [list(sd), sd["0._extra_state"], str(m2.load_state_dict(sd)), m2[0].step]
        try:
            m2.load_state_dict({k: v for k, v in sd.items() if "extra" not in k})
        except RuntimeError as ex:
            out.append(str(ex))
        m.register_state_dict_pre_hook(lambda mod, prefix, keep: calls.append(("pre", prefix)))
        m.register_state_dict_post_hook(lambda mod, d, prefix, meta: calls.append(len(d)))
        m.register_load_state_dict_pre_hook(lambda mod, d, *rest: calls.append(sorted(d)))
        m.state_dict()
        m.load_state_dict(sd)
        s = nn.Sequential(nn.Sequential(nn.ReLU()))
        s.set_submodule("0.0", nn.Tanh())
        s.set_submodule("0.x", nn.Tanh())
        try:
            s.set_submodule("0.y", nn.Tanh(), strict=True)
        except AttributeError as ex:
            out.append(str(ex))
        return out + [calls, repr(s)]

    m, t = _on_both(run)
    assert m == t


def _rounded(t) -> list:
    return (np.round(t.numpy(), 5) + 0.0).tolist()  # + 0.0 turns -0.0 into 0.0


def test_full_backward_hooks_and_pre_hooks_match_torch():
    def run(lib, nn):
        m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
        m.load_state_dict(
            {
                k: lib.tensor(rand(*v.shape, seed=i))
                for i, (k, v) in enumerate(m.state_dict().items())
            }
        )
        log = []

        def hook(mod, grad_input, grad_output):
            log.append(
                (
                    "full",
                    type(mod).__name__,
                    [None if g is None else _rounded(g) for g in grad_input],
                    [_rounded(g) for g in grad_output],
                )
            )

        def pre_hook(mod, grad_output):
            log.append(("pre", type(mod).__name__))
            return (grad_output[0] * 2,)

        for layer in m:
            layer.register_full_backward_hook(hook)
        handle = m[1].register_full_backward_pre_hook(pre_hook)
        m(lib.ones(1, 3)).sum().backward()  # input needs no grad: grad_input is (None,)
        handle.remove()
        x = lib.ones(1, 3, requires_grad=True)
        m[0].register_full_backward_hook(lambda mod, gi, go: (gi[0] * 0,))  # replaces grad_input
        m(x).sum().backward()
        return log + [bool((x.grad == 0).all())]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns when no input requires grad
        m, t = _on_both(run)
    assert m == t
    bil = mnn.Bilinear(2, 2, 1)
    bil.register_full_backward_hook(lambda *a: None)
    with pytest.raises(NotImplementedError, match="one input tensor"):
        bil(mt.ones(1, 2, requires_grad=True), mt.ones(1, 2, requires_grad=True))


def test_forward_hook_always_called_on_error():
    for lib, nn in ((mt, mnn), (torch, tnn)):
        m, calls = nn.Linear(1, 1), []
        m.register_forward_hook(lambda mod, args, out: calls.append(out), always_call=True)
        with pytest.raises(RuntimeError):
            m(lib.ones(2))
        assert calls == [None]


# ---- layers vs torch ---------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(5, 6), (2, 3, 6), (6,)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear(shape, bias):
    check_module(mnn.Linear(6, 4, bias=bias), tnn.Linear(6, 4, bias=bias), rand(*shape))


def test_linear_weight_grad_is_contiguous_and_errors():
    lin = mnn.Linear(6, 4)
    lin(mt.randn(3, 6)).sum().backward()
    assert lin.weight.grad.is_contiguous() and lin.weight.grad.shape == (4, 6)
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(3x5"):
        lin(mt.randn(3, 5))


def test_bilinear():
    check_module(mnn.Bilinear(3, 4, 5), tnn.Bilinear(3, 4, 5), rand(6, 3), rand(6, 4, seed=1))


def test_identity_flatten_unflatten():
    x = rand(2, 3, 4, 5)
    check_module(mnn.Identity(54, unused=1), tnn.Identity(54, unused=1), x)
    check_module(mnn.Flatten(), tnn.Flatten(), x)
    check_module(mnn.Flatten(0, 2), tnn.Flatten(0, 2), x)
    check_module(mnn.Unflatten(1, (3, 1)), tnn.Unflatten(1, (3, 1)), x)


ACTIVATIONS = [
    ("ReLU", (), {}),
    ("ReLU6", (), {}),
    ("LeakyReLU", (0.2,), {}),
    ("ELU", (0.7,), {}),
    ("CELU", (1.3,), {}),
    ("SELU", (), {}),
    ("GELU", (), {}),
    ("GELU", ("tanh",), {}),
    ("SiLU", (), {}),
    ("Mish", (), {}),
    ("Softplus", (), {}),
    ("Softplus", (2.0, 1.5), {}),
    ("Sigmoid", (), {}),
    ("Tanh", (), {}),
    ("Hardtanh", (), {}),
    ("Hardtanh", (-2.0, 0.5), {}),
    ("Hardsigmoid", (), {}),
    ("Hardswish", (), {}),
    ("Softsign", (), {}),
    ("Tanhshrink", (), {}),
    ("Hardshrink", (), {}),
    ("Softshrink", (0.3,), {}),
    ("Threshold", (0.1, -2.0), {}),
    ("LogSigmoid", (), {}),
    ("GLU", (), {}),
    ("Softmax", (), {"dim": 1}),
    ("LogSoftmax", (), {"dim": -1}),
    ("Softmin", (), {"dim": 0}),
    ("PReLU", (), {}),
    ("PReLU", (6,), {}),
    ("Softmax2d", (), {}),
]


@pytest.mark.parametrize("name,args,kwargs", ACTIVATIONS)
def test_activation_modules(name, args, kwargs):
    x = rand(4, 6, 4, scale=3.0)
    m, t = getattr(mnn, name)(*args, **kwargs), getattr(tnn, name)(*args, **kwargs)
    assert repr(m) == repr(t)
    check_module(m, t, x)


@pytest.mark.parametrize("name", ["ReLU", "LeakyReLU", "ELU", "Hardtanh", "ReLU6", "SiLU"])
def test_inplace_activations(name):
    x = rand(3, 4, scale=2.0)
    m, t = getattr(mnn, name)(inplace=True), getattr(tnn, name)(inplace=True)
    mx, tx = mt.tensor(x), torch.tensor(x)
    assert m(mx) is mx
    t(tx)
    close(mx, tx)
    # in-place after a non-leaf op keeps the gradient right
    a, b = mt.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    m(a * 2).sum().backward()
    t(b * 2).sum().backward()
    close(a.grad, b.grad)


def test_activation_numerics_at_extremes():
    x = np.array([-1e4, -50.0, -20.0, 0.0, 20.0, 50.0, 1e4], np.float32)
    for fn in ("softplus", "logsigmoid", "elu", "silu", "mish", "gelu", "sigmoid"):
        a, b = mt.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ma, tb = getattr(MF, fn)(a), getattr(TF, fn)(b)
        close(ma, tb, what=fn)
        ma.sum().backward()
        tb.sum().backward()
        assert np.isfinite(a.grad.numpy()).all(), fn
        close(a.grad, b.grad, what=fn)


def test_softmax_without_dim_warns_like_torch():
    x = rand(2, 3)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        out = MF.softmax(mt.tensor(x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        close(out, TF.softmax(torch.tensor(x)))


def test_dropout_eval_and_p0_are_identity():
    x = mt.randn(10, 10)
    d = mnn.Dropout(0.5).eval()
    assert d(x) is x
    assert MF.dropout(x, 0.5, training=False) is x
    assert MF.dropout(x, 0.0) is x
    assert not MF.dropout(x, 1.0).any()
    with pytest.raises(ValueError, match="dropout probability"):
        mnn.Dropout(1.5)


def test_dropout_statistics_scaling_gradient_and_seed():
    x = mt.ones(200, 500, requires_grad=True)
    mt.manual_seed(7)
    y = MF.dropout(x, 0.3)
    kept = y.detach().numpy() != 0
    assert abs(1 - kept.mean() - 0.3) < 0.01
    np.testing.assert_allclose(y.detach().numpy()[kept], 1 / 0.7, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.detach().numpy(), rtol=1e-6)
    mt.manual_seed(7)
    assert MF.dropout(x, 0.3).detach().numpy().tolist() == y.detach().numpy().tolist()
    assert MF.dropout(x, 0.3).detach().numpy().tolist() != y.detach().numpy().tolist()


@pytest.mark.parametrize(
    "cls,shape",
    [("Dropout2d", (8, 16, 5, 5)), ("Dropout1d", (8, 16, 7)), ("Dropout2d", (16, 5, 5))],
)
def test_channel_dropout_zeroes_whole_channels(cls, shape):
    mt.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = getattr(mnn, cls)(0.5)(mt.ones(*shape)).numpy()
    flat = y.reshape(shape[:2] + (-1,))  # a 3-D input to Dropout2d is (N, C, L), as PyTorch
    per_channel = flat.min(-1) == flat.max(-1)
    assert per_channel.all()
    assert 0.3 < (flat[..., 0] == 0).mean() < 0.7
    assert set(np.unique(flat)) <= {0.0, 2.0}


@pytest.mark.parametrize("padding_idx", [None, 0, -1])
def test_embedding(padding_idx):
    m = mnn.Embedding(10, 4, padding_idx=padding_idx)
    t = tnn.Embedding(10, 4, padding_idx=padding_idx)
    assert repr(m) == repr(t)
    if padding_idx is not None:
        assert not m.weight[padding_idx].any()
    idx = np.array([[0, 3, 9], [9, 9, 2]])
    check_module(m, t, idx)
    with pytest.raises(RuntimeError, match="indices"):
        m(mt.tensor([0.5]))
    assert m(mt.tensor([1, 2])).shape == (2, 4)


def test_embedding_from_pretrained_and_init_statistics():
    w = mt.randn(5, 3)
    emb = mnn.Embedding.from_pretrained(w)
    assert not emb.weight.requires_grad
    close(emb(mt.tensor([4])), w[4:5])
    big = mnn.Embedding(1000, 100)
    assert abs(big.weight.mean().item()) < 0.02 and abs(big.weight.std().item() - 1) < 0.02


def _bn_pair(cls, n, **kw):
    return getattr(mnn, cls)(n, **kw), getattr(tnn, cls)(n, **kw)


@pytest.mark.parametrize(
    "cls,shape",
    [("BatchNorm1d", (8, 5)), ("BatchNorm1d", (4, 5, 3)), ("BatchNorm2d", (4, 5, 3, 2))],
)
@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"momentum": None},
        {"affine": False},
        {"track_running_stats": False},
        {"momentum": 0.5, "eps": 1e-3},
    ],
)
def test_batchnorm_train_eval_running_stats(cls, shape, kw):
    m, t = _bn_pair(cls, 5, **kw)
    assert repr(m) == repr(t)
    sync(m, t)
    for step in range(3):  # running statistics after several batches
        check_module(m, t, rand(*shape, seed=step, scale=2.0) + step, seed=step)
    for (k, a), (_, b) in zip(m.state_dict().items(), t.state_dict().items()):
        close(a, b, what=k)
    m.eval()
    t.eval()
    x = rand(*shape, seed=9)
    mo, to = m(mt.tensor(x)), t(torch.tensor(x))
    close(mo, to)


def test_batch_norm_fused_kernel_non_contiguous_float64_and_double_backward():
    m, t = mnn.BatchNorm2d(8), tnn.BatchNorm2d(8)
    with torch.no_grad():
        t.weight.uniform_(0.5, 1.5)
        t.bias.uniform_(-1, 1)
    check_module(m, t, rand(16, 8, 12, 12, scale=3.0) + 5.0)  # above the parallel threshold
    close(m.running_var, t.running_var)
    x = rand(6, 5, 4)
    functional_parity(
        lambda lib, F, a: F.batch_norm(a.transpose(0, 2), None, None, training=True), x
    )
    functional_parity(
        lambda lib, F, a: F.batch_norm(a, None, None, training=True), x, dtype=np.float64
    )
    w, b = rand(5, seed=1), rand(5, seed=2)
    grads = []
    for lib, F in ((mt, MF), (torch, TF)):  # float64: bias's 2nd-order grad is ~0 (cancels)
        a, wt, bt = (lib.tensor(v.astype(np.float64), requires_grad=True) for v in (x, w, b))
        out = F.batch_norm(a, None, None, wt, bt, training=True)
        (ga,) = lib.autograd.grad(out.pow(3).sum(), a, create_graph=True)
        (ga * ga).sum().backward()
        grads.append((ga, a.grad, wt.grad, bt.grad))
    for i, (p, q) in enumerate(zip(*grads)):
        close(p, q, atol=1e-4, rtol=1e-3, what=f"double backward {i}")


def test_batchnorm_errors():
    with pytest.raises(ValueError, match="expected 2D or 3D input"):
        mnn.BatchNorm1d(3)(mt.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        mnn.BatchNorm1d(3)(mt.randn(1, 3))
    bn = mnn.BatchNorm1d(3).eval()
    assert bn(mt.randn(1, 3)).shape == (1, 3)


def _running_stat_requiring_grad(lib, stat, call, grad_enabled):
    """Run batch/instance norm with one running statistic requiring grad: "ok" or the error."""
    x = lib.randn(4, 3, 5)
    stats = {"running_mean": lib.zeros(3), "running_var": lib.ones(3)}
    stats[stat].requires_grad_()
    F = lib.nn.functional  # noqa: N806
    run = {
        "batch_norm-train": lambda: F.batch_norm(x, *stats.values(), training=True),
        "batch_norm-eval": lambda: F.batch_norm(x, *stats.values(), training=False),
        "instance_norm": lambda: F.instance_norm(x, *stats.values()),
    }[call]
    try:
        with lib.set_grad_enabled(grad_enabled):
            run()
    except RuntimeError as e:
        return RuntimeError, str(e)
    return "ok", ""


@pytest.mark.parametrize("grad_enabled", [True, False])
@pytest.mark.parametrize("call", ["batch_norm-train", "batch_norm-eval", "instance_norm"])
@pytest.mark.parametrize("stat", ["running_mean", "running_var"])
def test_running_stats_requiring_grad_are_refused_like_torch(stat, call, grad_enabled):
    """PyTorch: "The function 'native_batch_norm' is not differentiable with respect to argument
    'running_mean'" (grad mode on); minitorch computed a gradient for a buffer it updates."""
    ours = _running_stat_requiring_grad(mt, stat, call, grad_enabled)
    theirs = _running_stat_requiring_grad(torch, stat, call, grad_enabled)
    assert ours[0] == theirs[0]
    if grad_enabled:
        wording = f"not differentiable with respect to argument '{stat}'"
        assert wording in ours[1] and wording in theirs[1]
        assert "requires_grad_(False)" in ours[1]


def test_batchnorm_module_with_a_running_buffer_requiring_grad_is_refused_like_torch():
    for lib in (mt, torch):
        bn = lib.nn.BatchNorm2d(3)
        bn.running_mean.requires_grad_()
        for training in (True, False):
            with pytest.raises(RuntimeError, match="argument 'running_mean'"):
                bn.train(training)(lib.randn(2, 3, 4, 4))


@pytest.mark.parametrize("shape,norm", [((4, 6), 6), ((2, 3, 6), (6,)), ((2, 3, 4), (3, 4))])
@pytest.mark.parametrize("kw", [{}, {"elementwise_affine": False}, {"bias": False}, {"eps": 1e-2}])
def test_layernorm(shape, norm, kw):
    m, t = mnn.LayerNorm(norm, **kw), tnn.LayerNorm(norm, **kw)
    assert repr(m) == repr(t)
    with torch.no_grad():  # non-trivial affine parameters
        for p in t.parameters():
            p.add_(torch.randn(p.shape) * 0.5)
    check_module(m, t, rand(*shape, scale=3.0) + 1.0)
    with pytest.raises(RuntimeError, match="normalized_shape"):
        m(mt.randn(2, 5))


def test_layer_norm_fused_kernel_large_non_contiguous_and_double_backward():
    m, t = mnn.LayerNorm(256), tnn.LayerNorm(256)
    with torch.no_grad():
        t.weight.uniform_(0.5, 1.5)
        t.bias.uniform_(-1, 1)
    check_module(m, t, rand(300, 256, scale=3.0) + 5.0)  # above the parallel threshold
    x = rand(6, 5, 4)
    functional_parity(lambda lib, F, a: F.layer_norm(a.transpose(0, 2), (6,)), x)
    functional_parity(lambda lib, F, a: F.layer_norm(a, (5, 4)), x, dtype=np.float64)
    w, b = rand(4, seed=1), rand(4, seed=2)
    grads = []
    for lib, F in ((mt, MF), (torch, TF)):
        a, wt, bt = (lib.tensor(v, requires_grad=True) for v in (x, w, b))
        (ga,) = lib.autograd.grad(F.layer_norm(a, (4,), wt, bt).pow(2).sum(), a, create_graph=True)
        (ga * ga).sum().backward()
        grads.append((ga, a.grad, wt.grad, bt.grad))
    for i, (p, q) in enumerate(zip(*grads)):
        close(p, q, atol=1e-4, rtol=1e-3, what=f"double backward {i}")
    with pytest.raises(RuntimeError, match="normalized_shape"):
        MF.layer_norm(mt.randn(2, 3), (3,), mt.ones(4))


def test_layer_norm_backward_kernel_sums_rows_in_fixed_chunks():
    # weight/bias gradients come from per-chunk partial sums: same bits on 1 or 2 threads, and
    # rows not a multiple of the chunk size (the last chunk is short)
    import numba  # noqa: PLC0415

    from minitorch.kernels.cpu import norm as K  # noqa: PLC0415

    rng = np.random.default_rng(0)
    rows = 3 * K.CHUNK_ROWS * 10 + 7  # above the parallel threshold at 128 columns
    x, g = (rng.standard_normal((rows, 128)).astype(np.float32) for _ in range(2))
    w = rng.uniform(0.5, 1.5, 128).astype(np.float32)
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = K.layer_norm_backward(x, w, g, 1e-5)
    finally:
        numba.set_num_threads(threads)
    many = K.layer_norm_backward(x, w, g, 1e-5)
    for a, b in zip(one, many):
        assert np.array_equal(a, b)
    x64, g64 = x.astype(np.float64), g.astype(np.float64)
    x_hat = (x64 - x64.mean(1, keepdims=True)) / np.sqrt(x64.var(1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(many[1], (g64 * x_hat).sum(0), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(many[2], g64.sum(0), rtol=1e-5, atol=1e-4)
    assert K.layer_norm_backward(x, w, g, 1e-5, affine=False)[1] is None


@pytest.mark.parametrize("groups,shape", [(2, (3, 4, 5)), (4, (2, 4, 3, 3)), (1, (2, 4))])
def test_groupnorm(groups, shape):
    m, t = mnn.GroupNorm(groups, 4), tnn.GroupNorm(groups, 4)
    with torch.no_grad():
        t.weight.uniform_(0.5, 1.5)
        t.bias.uniform_(-1, 1)
    assert repr(m) == repr(t)
    check_module(m, t, rand(*shape, scale=2.0))
    with pytest.raises(ValueError):
        mnn.GroupNorm(3, 4)


def test_other_norms():
    check_module(mnn.RMSNorm(6), tnn.RMSNorm(6), rand(3, 6))
    check_module(mnn.RMSNorm((2, 6), eps=1e-3), tnn.RMSNorm((2, 6), eps=1e-3), rand(3, 2, 6))
    check_module(
        mnn.InstanceNorm1d(3, affine=True), tnn.InstanceNorm1d(3, affine=True), rand(2, 3, 7)
    )
    check_module(mnn.InstanceNorm2d(3), tnn.InstanceNorm2d(3), rand(2, 3, 4, 4))
    check_module(mnn.LocalResponseNorm(3), tnn.LocalResponseNorm(3), rand(2, 5, 3, 3))


def test_functional_misc_vs_torch():
    x = rand(4, 6, scale=2.0)
    close(MF.normalize(mt.tensor(x)), TF.normalize(torch.tensor(x)))
    close(MF.normalize(mt.tensor(x), p=1, dim=0), TF.normalize(torch.tensor(x), p=1, dim=0))
    idx = np.array([0, 3, 1])
    close(MF.one_hot(mt.tensor(idx)), TF.one_hot(torch.tensor(idx)))
    assert MF.one_hot(mt.tensor(idx), 6).dtype is mt.int64
    assert MF.one_hot(mt.tensor(idx), 6).shape == (3, 6)
    with pytest.raises(RuntimeError):
        MF.one_hot(mt.tensor([5]), 3)
    close(
        MF.cosine_similarity(mt.tensor(x), mt.tensor(x[::-1].copy())),
        TF.cosine_similarity(torch.tensor(x), torch.tensor(x[::-1].copy())),
    )
    close(MF.gelu(mt.tensor(x), approximate="tanh"), TF.gelu(torch.tensor(x), approximate="tanh"))
    close(
        MF.softplus(mt.tensor(x), beta=3, threshold=2),
        TF.softplus(torch.tensor(x), beta=3, threshold=2),
    )


def functional_parity(fn, *arrays, dtype=np.float32, atol=ATOL, rtol=RTOL):
    """fn(lib, F, *tensors) on both libraries: values, dtype and the float inputs' gradients."""
    results = []
    for lib, F in ((mt, MF), (torch, TF)):
        ins = [
            lib.tensor(
                a.astype(dtype) if a.dtype.kind == "f" else a, requires_grad=a.dtype.kind == "f"
            )
            for a in arrays
        ]
        out = fn(lib, F, *ins)
        if out.requires_grad:
            g = np.cos(np.arange(out.numel())).reshape(tuple(out.shape)).astype(dtype)
            out.backward(lib.tensor(g))
        results.append((out, [t.grad for t in ins]))
    (mo, mg), (to, tg) = results
    close(mo, to, atol, rtol, "output")
    assert str(mo.dtype).split(".")[-1] == str(to.dtype).split(".")[-1]
    for i, (a, b) in enumerate(zip(mg, tg)):
        assert (a is None) == (b is None), f"grad of input {i}"
        if a is not None:
            close(a, b, atol, rtol, f"grad of input {i}")


# inputs include the ends of every piecewise range (0, +-1, +-3, 6): PyTorch's gradient
# there is part of the contract (relu6/hardtanh pass none at the ends, clamp does)
EDGES = np.array([-7.0, -3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, 6.0, 7.0, 25.0, -25.0])
F_ACTIVATIONS = [
    ("relu", {}),
    ("relu6", {}),
    ("elu", {}),
    ("elu", {"alpha": 0.5}),
    ("selu", {}),
    ("celu", {"alpha": 2.0}),
    ("gelu", {}),
    ("gelu", {"approximate": "tanh"}),
    ("silu", {}),
    ("mish", {}),
    ("softplus", {}),
    ("softplus", {"beta": 0.5, "threshold": 3.0}),
    ("sigmoid", {}),
    ("tanh", {}),
    ("hardtanh", {}),
    ("hardtanh", {"min_val": -3.0, "max_val": 6.0}),
    ("hardsigmoid", {}),
    ("hardswish", {}),
    ("softsign", {}),
    ("tanhshrink", {}),
    ("logsigmoid", {}),
    ("leaky_relu", {}),
    ("leaky_relu", {"negative_slope": 0.3}),
    ("hardshrink", {"lambd": 1.0}),
    ("softshrink", {"lambd": 1.0}),
    ("threshold", {"threshold": 1.0, "value": -2.0}),
    ("softmax", {"dim": -1}),
    ("log_softmax", {"dim": 0}),
    ("softmin", {"dim": 1}),
    ("glu", {"dim": 1}),
    ("normalize", {"p": 3.0, "dim": 1}),
    ("dropout", {"training": False}),
    ("alpha_dropout", {"p": 0.3}),
]


@pytest.mark.parametrize("name,kw", F_ACTIVATIONS, ids=[f"{n}{k}" for n, k in F_ACTIVATIONS])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_functional_activations_match_torch(name, kw, dtype):
    x = np.concatenate([EDGES, rand(20, scale=3.0)]).reshape(4, 8)
    functional_parity(lambda lib, F, a: getattr(F, name)(a, **kw), x, dtype=dtype)


INPLACE = [
    "relu",
    "relu6",
    "elu",
    "selu",
    "celu",
    "silu",
    "mish",
    "hardtanh",
    "hardsigmoid",
    "hardswish",
    "leaky_relu",
    "threshold",
]


@pytest.mark.parametrize("name", INPLACE)
def test_functional_inplace_activations_match_torch(name):
    x = np.concatenate([EDGES, rand(4, scale=3.0)])
    args = (1.0, -2.0) if name == "threshold" else ()
    functional_parity(lambda lib, F, a: getattr(F, name)(a * 1, *args, inplace=True), x)
    # without autograd the input itself is overwritten and returned
    m, t = mt.tensor(x.astype(np.float32)), torch.tensor(x.astype(np.float32))
    assert getattr(MF, name)(m, *args, inplace=True) is m
    getattr(TF, name)(t, *args, inplace=True)
    close(m, t)
    for fn in ("relu_", "elu_", "leaky_relu_", "hardtanh_"):
        functional_parity(lambda lib, F, a, fn=fn: getattr(F, fn)(a * 1), x)


def test_functional_layers_match_torch():
    x, w2 = rand(3, 4, 5, scale=2.0), rand(2, 5, seed=1)
    functional_parity(lambda lib, F, a, w, b: F.linear(a, w, b), x, w2, rand(2, seed=2))
    functional_parity(lambda lib, F, a, w: F.linear(a, w), x, w2)
    functional_parity(
        lambda lib, F, a, b, w, c: F.bilinear(a, b, w, c),
        x,
        rand(3, 4, 3, seed=3),
        rand(2, 5, 3, seed=4),
        rand(2, seed=5),
    )
    functional_parity(lambda lib, F, a, w: F.prelu(a, w), x, np.array([0.1, 0.2, 0.3, 0.4]))
    functional_parity(
        lambda lib, F, a, w, b: F.layer_norm(a, (4, 5), w, b, eps=1e-3),
        x,
        rand(4, 5, seed=6),
        rand(4, 5, seed=7),
    )
    functional_parity(lambda lib, F, a: F.layer_norm(a, [5]), x)
    functional_parity(
        lambda lib, F, a, w, b: F.group_norm(a, 2, w, b), x, rand(4, seed=8), rand(4, seed=9)
    )
    functional_parity(lambda lib, F, a: F.instance_norm(a), x)
    functional_parity(lambda lib, F, a, b: F.cosine_similarity(a, b, dim=2), x, x[::-1].copy())
    functional_parity(lambda lib, F, a, b: F.pairwise_distance(a, b), x, x[::-1].copy())
    functional_parity(
        lambda lib, F, w: F.embedding(lib.tensor([[1, 2], [3, 1]]), w, padding_idx=3), rand(4, 3)
    )


@pytest.mark.parametrize("training", [True, False])
def test_functional_batch_norm_updates_running_stats_like_torch(training):
    def bn(lib, F, a, w, b):
        rm, rv = lib.arange(4).to(a.dtype), lib.ones(4, dtype=a.dtype) * 2
        out = F.batch_norm(a, rm, rv, w, b, training=training, momentum=0.3, eps=1e-3)
        return lib.cat([out.reshape(-1), rm, rv])  # running stats compared with the output

    for dtype in (np.float32, np.float64):
        functional_parity(
            bn, rand(3, 4, 5, scale=2.0) + 1, rand(4, seed=1), rand(4, seed=2), dtype=dtype
        )
    functional_parity(lambda lib, F, a: F.batch_norm(a, None, None, training=True), rand(6, 4))


@pytest.mark.parametrize(
    "kw",
    [
        {"max_norm": 1.0},
        {"max_norm": 2.0, "norm_type": 1.0},
        {"scale_grad_by_freq": True},
        {"scale_grad_by_freq": True, "padding_idx": 1},
    ],
)
def test_embedding_max_norm_and_scale_grad_by_freq(kw):
    w = rand(10, 4, scale=3.0)
    idx = np.array([[1, 2, 1], [0, 9, 2]])
    m, t = mt.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
    mo, to = MF.embedding(mt.tensor(idx), m, **kw), TF.embedding(torch.tensor(idx), t, **kw)
    close(mo, to)
    g = rand(2, 3, 4, seed=1)
    mo.backward(mt.tensor(g))
    to.backward(torch.tensor(g))
    close(m.grad, t.grad)
    close(m, t)  # max_norm renormalises the looked-up rows of weight in place
    layer_m, layer_t = mnn.Embedding(10, 4, **kw), tnn.Embedding(10, 4, **kw)
    assert repr(layer_m) == repr(layer_t)
    check_module(layer_m, layer_t, idx)


# ---- init ------------------------------------------------------------------------------------


def test_calculate_gain_and_fans_match_torch():
    for nl, param in [
        ("linear", None),
        ("conv2d", None),
        ("sigmoid", None),
        ("tanh", None),
        ("relu", None),
        ("leaky_relu", None),
        ("leaky_relu", 0.2),
        ("selu", None),
    ]:
        assert minit.calculate_gain(nl, param) == pytest.approx(tnn.init.calculate_gain(nl, param))
    with pytest.raises(ValueError):
        minit.calculate_gain("nope")
    for shape in [(3, 4), (8, 3, 5, 5), (6, 2, 7)]:
        assert minit._calculate_fan_in_and_fan_out(
            mt.empty(*shape)
        ) == tnn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))
    with pytest.raises(ValueError):
        minit._calculate_fan_in_and_fan_out(mt.empty(3))


def test_kaiming_and_xavier_bounds_and_std():
    w = mt.empty(400, 300)
    fan_in, fan_out = 300, 400
    bound = math.sqrt(3.0) * math.sqrt(2.0) / math.sqrt(fan_in)
    minit.kaiming_uniform_(w, nonlinearity="relu")
    a = w.numpy()
    assert a.max() <= bound and a.min() >= -bound and a.max() > 0.99 * bound
    assert abs(a.std() - math.sqrt(2.0 / fan_in)) < 0.01 * math.sqrt(2.0 / fan_in) * 3
    minit.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert abs(w.numpy().std() - math.sqrt(2.0 / fan_out)) < 0.02 * math.sqrt(2.0 / fan_out)
    minit.kaiming_uniform_(w, a=math.sqrt(5))  # Linear's default: U(-1/sqrt(fan_in), ...)
    assert abs(w.numpy()).max() <= 1 / math.sqrt(fan_in)
    minit.xavier_uniform_(w, gain=2.0)
    xb = 2.0 * math.sqrt(6.0 / (fan_in + fan_out))
    assert abs(w.numpy()).max() <= xb and abs(w.numpy()).max() > 0.99 * xb
    minit.xavier_normal_(w)
    xs = math.sqrt(2.0 / (fan_in + fan_out))
    assert abs(w.numpy().std() - xs) < 0.02 * xs
    minit.trunc_normal_(w, std=0.5, a=-0.4, b=0.6)
    assert w.numpy().min() >= -0.4 and w.numpy().max() <= 0.6
    with pytest.raises(ValueError):
        minit.kaiming_uniform_(w, mode="bad")


def test_init_in_place_on_parameters_and_seeded():
    lin = mnn.Linear(50, 40)
    w = lin.weight
    assert minit.normal_(w, 1.0, 0.1) is w and w.requires_grad and w.grad_fn is None
    assert abs(_np(w).mean() - 1.0) < 0.01
    minit.constant_(lin.bias, 0.5)
    assert set(lin.bias.tolist()) == {0.5}
    minit.zeros_(lin.bias)
    assert not lin.bias.any()
    minit.ones_(lin.bias)
    assert set(lin.bias.tolist()) == {1.0}
    e = mt.empty(3, 5)
    minit.eye_(e)
    assert e.tolist() == np.eye(3, 5).tolist()
    mt.manual_seed(3)
    minit.uniform_(w, -2, 2)
    first = _np(w).copy()
    mt.manual_seed(3)
    minit.uniform_(w, -2, 2)
    np.testing.assert_array_equal(first, _np(w))
    assert first.min() >= -2 and first.max() < 2
    # Linear's default init matches PyTorch's bounds
    bound = 1 / math.sqrt(50)
    fresh = mnn.Linear(50, 40)
    assert abs(_np(fresh.bias)).max() <= bound and abs(_np(fresh.weight)).max() > 0.9 * bound


def test_init_fills_run_the_serial_kernel_with_the_values_of_a_parallel_fill(monkeypatch):
    """nn.init draws once per parameter: it takes the serial fill kernel at any size (the
    prange variant compiled for it cost ~1 s of a cold start), and draws what a parallel fill
    of the same seed and offset draws."""
    from minitorch.kernels.cpu import random as fills  # noqa: PLC0415

    picked = []  # the `parallel` argument of each fill kernel taken
    kernel = fills._kernel
    monkeypatch.setattr(fills, "_kernel", lambda kind, par: picked.append(par) or kernel(kind, par))
    w = mt.empty(300, 400)  # above the serial kernel's limit
    for init in (minit.kaiming_uniform_, minit.trunc_normal_, minit.orthogonal_):
        init(w)
        assert picked and not any(picked), init.__name__
        picked.clear()
    for init, fill in ((minit.uniform_, w.uniform_), (minit.normal_, w.normal_)):
        mt.manual_seed(5)
        init(w)
        by_init = _np(w).copy()
        mt.manual_seed(5)
        with mt.no_grad():
            fill()
        assert picked == [False, True], init.__name__
        np.testing.assert_array_equal(by_init, _np(w))
        picked.clear()


def test_orthogonal_and_dirac_and_sparse():
    for shape in [(6, 4), (4, 6), (3, 2, 2, 2)]:
        w = mt.empty(*shape)
        minit.orthogonal_(w, gain=2.0)
        flat = w.numpy().reshape(shape[0], -1)
        small = flat @ flat.T if shape[0] <= flat.shape[1] else flat.T @ flat
        np.testing.assert_allclose(small, 4.0 * np.eye(small.shape[0]), atol=1e-5)
    d = mt.empty(4, 2, 3, 3)
    minit.dirac_(d, groups=2)
    td = torch.empty(4, 2, 3, 3)
    tnn.init.dirac_(td, groups=2)
    close(d, td)
    s = mt.empty(10, 6)
    minit.sparse_(s, 0.3)
    assert ((s.numpy() == 0).sum(0) == 3).all()


# ---- utils -----------------------------------------------------------------------------------


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf, 3.0])
@pytest.mark.parametrize("max_norm", [0.1, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    m, t = _mlp(mnn), _mlp(tnn)
    sync(m, t)
    for p, q in zip(m.parameters(), t.parameters()):
        g = rand(*p.shape, seed=p.numel())
        p.grad, q.grad = mt.tensor(g), torch.tensor(g)
    total_m = mnn.utils.clip_grad_norm_(m.parameters(), max_norm, norm_type)
    total_t = tnn.utils.clip_grad_norm_(t.parameters(), max_norm, norm_type)
    close(total_m, total_t)
    assert total_m.ndim == 0
    for p, q in zip(m.parameters(), t.parameters()):
        close(p.grad, q.grad)


def test_clip_grad_errors_value_and_vectors():
    p = mnn.Parameter(mt.ones(3))
    p.grad = mt.tensor([1.0, float("inf"), 2.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        mnn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    p.grad = mt.tensor([-3.0, 0.5, 2.0])
    mnn.utils.clip_grad_value_([p], 1.0)
    assert p.grad.tolist() == [-1.0, 0.5, 1.0]
    assert mnn.utils.clip_grad_norm_([mnn.Parameter(mt.ones(2))], 1.0).item() == 0.0
    m, t = _mlp(mnn), _mlp(tnn)
    sync(m, t)
    vm = mnn.utils.parameters_to_vector(m.parameters())
    vt = tnn.utils.parameters_to_vector(t.parameters())
    close(vm, vt)
    mnn.utils.vector_to_parameters(vm * 2, m.parameters())
    tnn.utils.vector_to_parameters(vt * 2, t.parameters())
    for p, q in zip(m.parameters(), t.parameters()):
        close(p, q)
    with pytest.raises(TypeError):
        mnn.utils.vector_to_parameters([1.0], m.parameters())


def test_clip_grads_with_norm_and_pad_sequence_match_torch():
    m, t = _mlp(mnn), _mlp(tnn)
    for p, q in zip(m.parameters(), t.parameters()):
        g = rand(*p.shape, seed=p.numel())
        p.grad, q.grad = mt.tensor(g), torch.tensor(g)
    total_m = mnn.utils.get_total_norm([p.grad for p in m.parameters()])
    total_t = tnn.utils.get_total_norm([q.grad for q in t.parameters()])
    close(total_m, total_t)
    mnn.utils.clip_grads_with_norm_(m.parameters(), 0.5, total_m)
    tnn.utils.clip_grads_with_norm_(t.parameters(), 0.5, total_t)
    for p, q in zip(m.parameters(), t.parameters()):
        close(p.grad, q.grad)
    seqs = [rand(n, 2, seed=n) for n in (3, 1, 2)]
    for batch_first in (False, True):
        for side in ("right", "left"):
            pad = lambda lib, F, *xs: lib.nn.utils.rnn.pad_sequence(xs, batch_first, -1.0, side)
            functional_parity(pad, *seqs)


def test_layer_options_new_in_recent_torch():
    for kw in ({"affine": True, "bias": False}, {"affine": True}):
        m, t = mnn.InstanceNorm1d(3, **kw), tnn.InstanceNorm1d(3, **kw)
        assert repr(m) == repr(t) and list(m.state_dict()) == list(t.state_dict())
        check_module(m, t, rand(2, 3, 5))
    with pytest.warns(FutureWarning):
        m = mnn.Hardtanh(min_value=-2.0)
    assert m.min_val == -2.0
    with pytest.raises(AssertionError):
        mnn.Hardtanh(1.0, 0.0)


# ---- end to end --------------------------------------------------------------------------------


def test_training_steps_match_torch():
    """Same weights, same data, plain SGD: the loss curves agree step by step."""

    def build(nn):
        return nn.Sequential(
            nn.Linear(10, 32),
            nn.BatchNorm1d(32),
            nn.GELU(),
            nn.Linear(32, 32),
            nn.LayerNorm(32),
            nn.SiLU(),
            nn.Linear(32, 3),
        )

    m, t = build(mnn), build(tnn)
    sync(m, t)
    rng = np.random.default_rng(0)
    losses_m, losses_t = [], []
    for _ in range(8):
        x = rng.standard_normal((16, 10)).astype(np.float32)
        y = rng.integers(0, 3, 16)
        for lib, model, F, losses in ((mt, m, MF, losses_m), (torch, t, TF, losses_t)):
            model.zero_grad()
            loss = F.cross_entropy(model(lib.tensor(x)), lib.tensor(y), label_smoothing=0.05)
            loss.backward()
            with lib.no_grad():
                for p in model.parameters():
                    p.sub_(p.grad * 0.1)
            losses.append(loss.item())
    np.testing.assert_allclose(losses_m, losses_t, rtol=1e-4, atol=1e-5)
    for (k, a), (_, b) in zip(m.state_dict().items(), t.state_dict().items()):
        close(a, b, atol=1e-4, rtol=1e-3, what=k)


def test_nn_namespace_exports_every_layer_file():
    """nn re-exports each modules/ file's __all__ and F re-exports functional_conv's."""
    import importlib
    import pkgutil

    import minitorch.nn.modules as modules

    for info in pkgutil.iter_modules(modules.__path__):
        if info.name.startswith("_") or info.name == "module":
            continue
        layer_file = importlib.import_module(f"minitorch.nn.modules.{info.name}")
        for name in layer_file.__all__:
            assert getattr(mnn, name) is getattr(layer_file, name), (info.name, name)
    import minitorch.nn.functional_conv as fconv

    assert all(getattr(MF, name) is getattr(fconv, name) for name in fconv.__all__)
    for name in [
        "Linear",
        "Conv2d",
        "MaxPool2d",
        "GRU",
        "BatchNorm2d",
        "Embedding",
        "Dropout2d",
        "CrossEntropyLoss",
        "Sequential",
        "ParameterList",
        "Flatten",
        "Upsample",
    ]:
        assert issubclass(getattr(mnn, name), mnn.Module), name
    for name in ["pad", "interpolate", "conv2d", "max_pool2d", "cross_entropy", "one_hot"]:
        assert callable(getattr(MF, name)), name


def test_module_forward_missing_raises():
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        mnn.Module()(mt.ones(1))
    with pytest.raises(TypeError):
        mnn.Module(3)


# ---- pixel/channel shuffles, adaptive max pooling, multi-margin loss, gumbel, checkpoint -----
@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda nn: nn.PixelShuffle(2), (2, 8, 3, 5)),
        (lambda nn: nn.PixelShuffle(3), (9, 2, 4)),  # unbatched
        (lambda nn: nn.PixelUnshuffle(2), (2, 3, 4, 6)),
        (lambda nn: nn.ChannelShuffle(3), (2, 6, 4, 5)),
        (lambda nn: nn.ChannelShuffle(2), (2, 4, 5)),
        (lambda nn: nn.AdaptiveMaxPool2d((2, 3)), (2, 3, 7, 5)),
        (lambda nn: nn.AdaptiveMaxPool2d((3, None)), (3, 7, 5)),
        (lambda nn: nn.AdaptiveMaxPool2d(1), (2, 3, 7, 5)),
        (lambda nn: nn.AdaptiveMaxPool2d((4, 4)), (2, 3, 7, 5)),  # overlapping windows
        (lambda nn: nn.AdaptiveMaxPool1d(3), (2, 3, 7)),
    ],
)
def test_shuffles_and_adaptive_max_pool_match_torch(make, shape):
    from layer_parity import check_layer  # noqa: PLC0415

    check_layer(make(mnn), make(torch.nn), shape)
    assert repr(make(mnn)) == repr(make(torch.nn))


@pytest.mark.parametrize(
    "kind, size, shape",
    [
        ("AdaptiveMaxPool2d", (2, 3), (2, 3, 7, 5)),
        ("AdaptiveMaxPool2d", 4, (3, 4, 4)),
        ("AdaptiveMaxPool1d", 6, (2, 3, 7)),
    ],
)
def test_adaptive_max_pool_indices_match_torch(kind, size, shape):
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    x[..., 0, :2] = 3.0  # a tie inside a window: the first maximum in row-major order wins
    ours = getattr(mnn, kind)(size, return_indices=True)(mt.tensor(x))
    theirs = getattr(torch.nn, kind)(size, return_indices=True)(torch.tensor(x))
    np.testing.assert_array_equal(ours[0].numpy(), theirs[0].numpy())
    np.testing.assert_array_equal(ours[1].numpy(), theirs[1].numpy())
    assert ours[1].dtype == mt.int64


def test_shuffle_errors_match_torch():
    for lib in (mt, torch):
        F = lib.nn.functional  # noqa: N806
        with pytest.raises(RuntimeError, match="divisible by the square of upscale_factor"):
            F.pixel_shuffle(lib.ones(1, 5, 2, 2), 2)
        with pytest.raises(RuntimeError, match=r"expects height .* input.size\(-2\)=3"):
            F.pixel_unshuffle(lib.ones(1, 1, 3, 4), 2)
        with pytest.raises(RuntimeError, match="Got 5 channels and 2 groups"):
            F.channel_shuffle(lib.ones(1, 5, 2, 2), 2)


@pytest.mark.parametrize(
    "kwargs", [dict(), dict(p=2, margin=0.5), dict(reduction="none"), dict(reduction="sum")]
)
@pytest.mark.parametrize("weighted", [False, True])
def test_multi_margin_loss_matches_torch(kwargs, weighted):
    from layer_parity import check_layer  # noqa: PLC0415

    rng = np.random.default_rng(2)
    weight = rng.random(5).astype(np.float32) if weighted else None
    ours = mnn.MultiMarginLoss(weight=None if weight is None else mt.tensor(weight), **kwargs)
    theirs = torch.nn.MultiMarginLoss(
        weight=None if weight is None else torch.tensor(weight), **kwargs
    )
    check_layer(ours, theirs, (4, 5), rng.integers(0, 5, 4))
    check_layer(ours, theirs, (5,), np.array(3))  # unbatched


def test_multi_margin_loss_errors_match_torch():
    for lib in (mt, torch):
        with pytest.raises(ValueError, match="only p == 1 and p == 2 supported"):
            lib.nn.MultiMarginLoss(p=3)
        with pytest.raises(RuntimeError, match=r"Expected target size \[3\], but got \[2\]"):
            lib.nn.functional.multi_margin_loss(lib.ones(3, 4), lib.zeros(2, dtype=lib.int64))


def test_gumbel_softmax_samples_the_categorical_distribution():
    mt.manual_seed(0)
    probs = np.array([0.1, 0.25, 0.65])
    logits = mt.tensor(np.log(probs).astype(np.float32)).expand(20000, 3)
    soft = MF.gumbel_softmax(logits, tau=0.5)
    np.testing.assert_allclose(soft.sum(-1).numpy(), 1.0, rtol=1e-5)
    x = logits.clone().requires_grad_(True)
    hard = MF.gumbel_softmax(x, hard=True)
    values = hard.detach().numpy()
    assert hard.shape == (20000, 3) and set(np.unique(values)) == {0.0, 1.0}
    np.testing.assert_array_equal(values.sum(-1), 1.0)  # one-hot rows
    np.testing.assert_allclose(values.mean(0), probs, atol=0.015)  # argmax ~ Categorical
    (hard * mt.tensor([1.0, 2.0, 3.0])).sum().backward()  # straight-through: soft gradient
    assert x.grad is not None and np.abs(x.grad.numpy()).sum() > 0
    assert MF.gumbel_softmax(mt.zeros(2, 4, 3), dim=1).shape == (2, 4, 3)


def test_gumbel_noise_is_minus_log_of_exponential_draws_like_pytorch():
    """g = -log(E) with E from exponential_, which never gives 0: g is never +inf (the old
    -log(-log(1 - U)) was, at U = 0, and softmax then gave NaN)."""
    logits = mt.randn(64, 5)
    mt.manual_seed(1)
    got = MF.gumbel_softmax(logits, tau=0.7)
    mt.manual_seed(1)
    want = ((logits - mt.empty(64, 5).exponential_().log()) / 0.7).softmax(-1)
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_checkpoint_runs_the_function_with_exact_gradients():
    from minitorch.utils.checkpoint import checkpoint, checkpoint_sequential  # noqa: PLC0415

    mt.manual_seed(0)
    model = mnn.Sequential(mnn.Linear(4, 8), mnn.Tanh(), mnn.Linear(8, 2), mnn.ReLU())
    x = mt.randn(3, 4, requires_grad=True)
    grads = []
    for run in (
        lambda: model(x),
        lambda: checkpoint(model, x, use_reentrant=False),
        lambda: checkpoint_sequential(model, 2, x, use_reentrant=False),
    ):
        model.zero_grad()
        x.grad = None
        run().sum().backward()
        grads.append([x.grad.numpy().copy()] + [p.grad.numpy().copy() for p in model.parameters()])
    for other in grads[1:]:
        for a, b in zip(grads[0], other):
            np.testing.assert_array_equal(a, b)
    assert mt.utils.checkpoint.checkpoint(lambda a, b: a * b, x, b=2.0, use_reentrant=False).shape
    with pytest.warns(UserWarning, match="use_reentrant parameter should be passed explicitly"):
        checkpoint(model, x)
    with pytest.raises(ValueError, match="Unexpected keyword arguments: b"):
        checkpoint(lambda a, b: a, x, b=1, use_reentrant=True)

#!/usr/bin/env python3
"""Convert a MiniFASNet anti-spoofing checkpoint (.pth) to ONNX at setup time, without torch.

Run by install_models.py on the files vendored in models/vendor/minifasnet/ (Apache-2.0,
github.com/minivision-ai/Silent-Face-Anti-Spoofing). The graph is MiniFASNetV2 or
MiniFASNetV1SE of that repository's src/model_lib/MiniFASNet.py for an 80x80 input:

    input  [N, 3, 80, 80] float32, BGR, raw 0..255 (no mean, no scaling)
    logits [N, 3]          softmax is the caller's; class 1 = real face

Batch normalisation (eps 1e-5, inference statistics) is folded into the preceding
convolution or linear layer in float64; dropout is a no-op at inference. PReLUs are written
in operators ONNX Runtime runs faster (convert_prelu.py: the same results). The output is
byte-identical on every run: fixed opset, IR version and producer, names derived from the
checkpoint's keys, nodes and weights in graph order.

usage: convert_minifasnet.py [--arch MiniFASNetV2|MiniFASNetV1SE] SRC.pth DST.onnx
(the architecture defaults to the one named in SRC's file name, as upstream does).
"""

import argparse
import collections
import pickle
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import convert_prelu

INPUT_SIZE = 80
OPSET = 17
IR_VERSION = 8
BN_EPS = 1e-5
ARCHS = ("MiniFASNetV2", "MiniFASNetV1SE")
# Blocks per residual stage (conv_3, conv_4, conv_5); in V1SE the last block of each has SE.
STAGES = (("conv_23", "conv_3", 4), ("conv_34", "conv_4", 6), ("conv_45", "conv_5", 2))

# --- Reading a legacy (pre-1.6, zip-less) torch.save file --------------------------------
# Layout: pickle(magic number), pickle(protocol version), pickle(sys info), the main pickle
# (here the state dict), pickle(list of storage keys), then for each key in that order an
# int64 little-endian element count followed by the storage's raw little-endian bytes.
# The main pickle refers to storages by persistent id:
#   ("storage", storage_type, key, location, numel, view_metadata)

STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class Storage:
    """A storage named in the pickle; its data is read after the pickle."""

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)
        self.data = None


class LazyTensor:
    """What torch._utils._rebuild_tensor_v2 would build, once the storage is read."""

    def __init__(self, storage, offset, size, stride, *_ignored):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def array(self) -> np.ndarray:
        item = self.storage.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            self.storage.data[self.offset:], shape=tuple(self.size),
            strides=tuple(s * item for s in self.stride))
        return np.array(view)  # a contiguous copy


class LegacyUnpickler(pickle.Unpickler):
    def __init__(self, file):
        super().__init__(file)
        self.storages = {}

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return LazyTensor
        if module == "torch" and name in STORAGE_DTYPES:
            return STORAGE_DTYPES[name]
        raise pickle.UnpicklingError(f"unexpected class {module}.{name} in checkpoint")

    def persistent_load(self, pid):
        kind, dtype, key, _location, _numel, view = pid
        if kind != "storage" or view is not None:
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        return self.storages.setdefault(key, Storage(dtype))


def load_state_dict(path: Path) -> dict:
    with path.open("rb") as f:
        if pickle.load(f) != LEGACY_MAGIC:
            raise SystemExit(f"{path}: not a legacy torch.save file")
        pickle.load(f)  # protocol version
        pickle.load(f)  # sys info (endianness, type sizes)
        unpickler = LegacyUnpickler(f)
        state = unpickler.load()
        for key in pickle.load(f):
            storage = unpickler.storages[key]
            count = int.from_bytes(f.read(8), "little")
            storage.data = np.frombuffer(f.read(count * storage.dtype.itemsize), storage.dtype)
    # DataParallel checkpoints prefix every key with "module."
    return {k.removeprefix("module."): v.array() for k, v in state.items()}


# --- Building the graph ---------------------------------------------------------------------

class Graph:
    """Nodes and weights in graph order; names are the checkpoint's module names."""

    def __init__(self, weights: dict):
        self.weights = weights
        self.used = set()  # checkpoint keys consumed so far
        self.nodes, self.initializers = [], []
        self.channels = 3  # channels of the tensor being built on

    def take(self, name: str) -> np.ndarray:
        if name not in self.weights:
            raise SystemExit(f"checkpoint has no {name}: not the architecture asked for")
        self.used.add(name)
        return self.weights[name].astype(np.float64)

    def const(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(value.astype(np.float32), name))
        return name

    def node(self, op: str, name: str, inputs: list, output=None, **attrs) -> str:
        output = output or name
        self.nodes.append(helper.make_node(op, inputs, [output], name=name, **attrs))
        return output

    def bn_scale_shift(self, bn: str):
        """Inference batch norm as y = x * scale + shift, per channel."""
        self.used.add(f"{bn}.num_batches_tracked")  # a training counter
        scale = self.take(f"{bn}.weight") / np.sqrt(self.take(f"{bn}.running_var") + BN_EPS)
        return scale, self.take(f"{bn}.bias") - self.take(f"{bn}.running_mean") * scale

    def conv_bn(self, x: str, conv: str, bn: str, stride=1, pad=0) -> str:
        """A bias-free Conv2d followed by BatchNorm2d, folded into one Conv."""
        w = self.take(f"{conv}.weight")
        scale, shift = self.bn_scale_shift(bn)
        in_channels = self.channels
        groups = in_channels // w.shape[1]
        self.channels = w.shape[0]
        return self.node("Conv", conv, [x, self.const(f"{conv}.weight", w * scale[:, None, None, None]),
                                        self.const(f"{conv}.bias", shift)],
                         kernel_shape=list(w.shape[2:]), strides=[stride, stride],
                         pads=[pad] * 4, group=groups)

    def block(self, x: str, name: str, stride=1, pad=0, prelu=True) -> str:
        """Conv_block (conv, bn, prelu) or, with prelu=False, Linear_block (conv, bn)."""
        x = self.conv_bn(x, f"{name}.conv", f"{name}.bn", stride, pad)
        if not prelu:
            return x
        slope = self.take(f"{name}.prelu.weight")[:, None, None]  # broadcasts over NCHW
        return self.node("PRelu", f"{name}.prelu", [x, self.const(f"{name}.prelu.weight", slope)])

    def depth_wise(self, x: str, name: str, stride: int, residual: bool, se: bool) -> str:
        """Depth_Wise / Depth_Wise_SE: 1x1 expand, 3x3 depth-wise, 1x1 project [, SE] [+ x]."""
        y = self.block(x, f"{name}.conv")
        y = self.block(y, f"{name}.conv_dw", stride=stride, pad=1)
        y = self.block(y, f"{name}.project", prelu=False)
        if se:
            y = self.se_module(y, f"{name}.se_module")
        return self.node("Add", f"{name}.add", [x, y]) if residual else y

    def se_module(self, x: str, name: str) -> str:
        """SEModule: x * sigmoid(bn2(fc2(relu(bn1(fc1(avgpool(x)))))))."""
        channels = self.channels
        y = self.node("GlobalAveragePool", f"{name}.avg_pool", [x])
        y = self.conv_bn(y, f"{name}.fc1", f"{name}.bn1")
        y = self.node("Relu", f"{name}.relu", [y])
        y = self.conv_bn(y, f"{name}.fc2", f"{name}.bn2")
        assert self.channels == channels
        y = self.node("Sigmoid", f"{name}.sigmoid", [y])
        return self.node("Mul", f"{name}.mul", [x, y])

    def linear(self, x: str, name: str, w: np.ndarray, b: np.ndarray, output=None) -> str:
        return self.node("Gemm", name, [x, self.const(f"{name}.weight", w),
                                        self.const(f"{name}.bias", b)], output, transB=1)


def build(weights: dict, arch: str) -> onnx.ModelProto:
    g = Graph(weights)
    x = g.block("input", "conv1", stride=2, pad=1)
    x = g.block(x, "conv2_dw", pad=1)
    for down, stage, blocks in STAGES:
        x = g.depth_wise(x, down, stride=2, residual=False, se=False)
        for i in range(blocks):
            se = arch == "MiniFASNetV1SE" and i == blocks - 1
            x = g.depth_wise(x, f"{stage}.model.{i}", stride=1, residual=True, se=se)
    x = g.block(x, "conv_6_sep")
    # Upstream's get_kernel: the last depth-wise conv spans the whole 5x5 feature map.
    kernel = (INPUT_SIZE + 15) // 16
    if weights["conv_6_dw.conv.weight"].shape[2:] != (kernel, kernel):
        raise SystemExit(f"conv_6_dw is not {kernel}x{kernel}: not an {INPUT_SIZE}x{INPUT_SIZE} model")
    x = g.block(x, "conv_6_dw", prelu=False)
    x = g.node("Flatten", "conv_6_flatten", [x], axis=1)
    # linear (512 -> 128, no bias) with the BatchNorm1d that follows it folded in;
    # then dropout (a no-op at inference) and prob (128 -> 3, no bias).
    scale, shift = g.bn_scale_shift("bn")
    x = g.linear(x, "linear", g.take("linear.weight") * scale[:, None], shift)
    prob = g.take("prob.weight")
    g.linear(x, "prob", prob, np.zeros(prob.shape[0]), output="logits")

    unused = sorted(set(weights) - g.used)
    if unused:  # like load_state_dict(strict=True): every weight must have its place
        raise SystemExit(f"checkpoint has weights that {arch} does not use: {unused}")

    graph = helper.make_graph(
        g.nodes, arch,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, INPUT_SIZE, INPUT_SIZE])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", prob.shape[0]])],
        g.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="facegate convert_minifasnet.py", producer_version="1")
    model.ir_version = IR_VERSION
    model.doc_string = (f"{arch} ({INPUT_SIZE}x{INPUT_SIZE}, BGR 0..255) from "
                        "github.com/minivision-ai/Silent-Face-Anti-Spoofing; "
                        "softmax(logits)[1] is the real-face probability")
    convert_prelu.rewrite(model)
    onnx.checker.check_model(model, full_check=True)
    return model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", choices=ARCHS, help="default: from SRC's file name")
    parser.add_argument("src", type=Path)
    parser.add_argument("dst", type=Path)
    args = parser.parse_args()
    arch = args.arch or next((a for a in ARCHS if args.src.name.endswith(f"_{a}.pth")), None)
    if arch is None:
        parser.error(f"cannot tell the architecture from {args.src.name}; pass --arch")
    model = build(load_state_dict(args.src), arch)
    args.dst.write_bytes(model.SerializeToString())
    return 0


if __name__ == "__main__":
    sys.exit(main())

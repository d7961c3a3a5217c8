#!/usr/bin/env python3
"""Convert dlib's ResNet face descriptor (dlib_face_recognition_resnet_model_v1.dat, CC0) to
ONNX at setup time, without dlib.

The file is dlib's own serialisation (dlib/serialize.h, dlib/dnn/core.h, layers.h, input.h,
loss.h) of the network of dlib's examples/dnn_face_recognition_ex.cpp:

    loss_metric<fc_no_bias<128, avg_pool_everything<
      alevel0<alevel1<alevel2<alevel3<alevel4<
      max_pool<3,3,2,2, relu<affine<con<32,7,7,2,2, input_rgb_image_sized<150>>>>>>>>>>>>
    alevel0 = ares_down<256>;  alevel1 = ares<256, ares<256, ares_down<256>>>
    alevel2 = ares<128, ares<128, ares_down<128>>>
    alevel3 = ares<64, ares<64, ares<64, ares_down<64>>>>;  alevel4 = ares<32, ares<32, ares<32>>>
    ares<N>      = relu<add_prev1<block<N, 1, tag1<SUBNET>>>>
    ares_down<N> = relu<add_prev2<avg_pool<2,2,2,2, skip1<tag2<block<N, 2, tag1<SUBNET>>>>>>>
    block<N, s>  = affine<con<N,3,3,1,1, relu<affine<con<N,3,3,s,s, SUBNET>>>>>

The graph:

    input      [N, 3, 150, 150] float32, RGB, raw 0..255; the graph itself subtracts dlib's
               channel means (122.782, 117.001, 104.298, read from the file) and divides
               by 256, as dlib's input layer does
    descriptor [N, 128]         not normalised; dlib compares Euclidean distances (0.6)

dlib's padding rules are kept: a strided convolution or pooling has no padding, a stride-1
convolution pads by half its size. Where the two branches of a residual sum differ in size
(channels, or 3x3 against 4x4 in alevel1), dlib adds them as if the smaller were padded
with zeros at the end; the graph pads it explicitly. The output is byte-identical on every
run: fixed opset, IR version and producer, names from the layer order.

usage: convert_dlib_resnet.py SRC.dat DST.onnx
"""

import argparse
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8
CHIP = 150
CONV_MODE = 0  # dlib's layer_mode: per-channel (as opposed to per-element) affine

# The layers from the output inwards, as dlib nests them. "L" = add_layer (has details);
# "tag" and "skip" wrap without details of their own.


def block(n, stride):
    return [("L", "affine"), ("L", "con", n, 1), ("L", "relu"), ("L", "affine"),
            ("L", "con", n, stride)]


def ares(n):
    return [("L", "relu"), ("L", "add_prev", 1)] + block(n, 1) + [("tag", 1)]


def ares_down(n):
    return ([("L", "relu"), ("L", "add_prev", 2), ("L", "avg_pool"), ("skip", 1), ("tag", 2)]
            + block(n, 2) + [("tag", 1)])


def layers():
    out = [("L", "fc"), ("L", "avg_pool_everything")]
    out += ares_down(256)
    out += ares(256) + ares(256) + ares_down(256)
    out += ares(128) + ares(128) + ares_down(128)
    out += ares(64) + ares(64) + ares(64) + ares_down(64)
    out += ares(32) + ares(32) + ares(32)
    out += [("L", "max_pool"), ("L", "relu"), ("L", "affine"), ("L", "con", 32, 2)]
    return out


class Reader:
    """dlib's serialisation primitives (dlib/serialize.h)."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise SystemExit("dlib file ends early")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def int(self) -> int:
        control = self.take(1)[0]
        size = control & 0x0F
        if size == 0 or size > 8:
            raise SystemExit(f"bad dlib integer at byte {self.pos - 1}")
        value = int.from_bytes(self.take(size), "little")
        return -value if control & 0x80 else value

    def float(self) -> float:
        mantissa, exponent = self.int(), self.int()
        return float(mantissa) * 2.0 ** exponent

    def bool(self) -> bool:
        byte = self.take(1)
        if byte not in (b"0", b"1"):
            raise SystemExit(f"bad dlib bool at byte {self.pos - 1}")
        return byte == b"1"

    def string(self) -> str:
        return self.take(self.int()).decode("ascii")

    def expect(self, text: str):
        found = self.string()
        if found != text:
            raise SystemExit(f"expected {text!r} in the dlib file, found {found!r}")

    def version(self, allowed):
        found = self.int()
        if found not in allowed:
            raise SystemExit(f"unexpected version {found} at byte {self.pos}")
        return found

    def tensor(self) -> np.ndarray:
        self.version((2,))
        shape = tuple(self.int() for _ in range(4))
        count = int(np.prod(shape))
        return np.frombuffer(self.take(4 * count), dtype="<f4").reshape(shape).astype(np.float32)

    def alias(self):
        self.version((1,))
        return tuple(self.int() for _ in range(4))


def split(params: np.ndarray, *shapes):
    """Views of dlib's flat parameter tensor, in the order the alias tensors lie in it."""
    flat, out, at = params.reshape(-1), [], 0
    for shape in shapes:
        size = int(np.prod(shape))
        out.append(flat[at:at + size].reshape(shape))
        at += size
    if at != flat.size:
        raise SystemExit("parameter tensor does not match its aliases")
    return out


def read_details(r: Reader, kind):
    """One layer's details; returns what the graph needs of it."""
    name = r.string()
    if kind[1] == "con":
        if name not in ("con_4", "con_5", "con_6"):
            raise SystemExit(f"unexpected convolution version {name}")
        params = r.tensor()
        filters, nr, nc, sy, sx, py, px = (r.int() for _ in range(7))
        wshape, bshape = r.alias(), r.alias()
        for _ in range(4):
            r.float()  # learning-rate and weight-decay multipliers
        use_bias = r.bool() if name in ("con_5", "con_6") else True
        if name == "con_6" and r.bool():
            raise SystemExit("fused convolution + relu is not expected in this model")
        w, b = split(params, wshape, bshape)
        if (filters, sy, sx) != (kind[2], kind[3], kind[3]) or nr != nc:
            raise SystemExit(f"convolution {filters}x{nr}x{nc}/{sy} is not the expected one")
        return {"w": w, "b": b.reshape(-1) if use_bias else None, "stride": sy,
                "pad": (py, px)}
    if kind[1] == "affine":
        if name in ("affine_", "affine_2"):
            params = r.tensor()
            g, b = r.alias(), r.alias()
            mode = r.int()
            if name == "affine_2" and r.bool():
                raise SystemExit("disabled affine layers are not expected in this model")
            gamma, beta = split(params, g, b)
        elif name == "bn_con2":
            params = r.tensor()
            g, b = r.alias(), r.alias()
            r.tensor(), r.tensor()  # batch statistics of the last training step
            means, variances = r.tensor(), r.tensor()
            r.int(), r.int()  # num_updates, running_stats_window_size
            for _ in range(4):
                r.float()
            eps = r.float()
            sg, sb = split(params, g, b)
            gamma = sg / np.sqrt(variances.reshape(sg.shape) + eps)
            beta = sb - gamma * means.reshape(sb.shape)
            mode = CONV_MODE
        else:
            raise SystemExit(f"unexpected affine version {name}")
        if mode != CONV_MODE:
            raise SystemExit("affine layers are expected in convolution mode")
        return {"gamma": gamma.reshape(-1), "beta": beta.reshape(-1)}
    if kind[1] == "relu":
        if name == "relu_2" and r.bool():
            raise SystemExit("disabled relu layers are not expected in this model")
        if name not in ("relu_", "relu_2"):
            raise SystemExit(f"unexpected relu version {name}")
        return {}
    if kind[1] in ("max_pool", "avg_pool", "avg_pool_everything"):
        prefix = "max_pool_2" if kind[1] == "max_pool" else "avg_pool_2"
        if name != prefix:
            raise SystemExit(f"expected {prefix}, found {name}")
        nr, nc, sy, sx, py, px = (r.int() for _ in range(6))
        return {"size": (nr, nc), "stride": (sy, sx), "pad": (py, px)}
    if kind[1] == "add_prev":
        if name != "add_prev_":
            raise SystemExit(f"unexpected add_prev version {name}")
        return {}
    if kind[1] == "fc":
        if name not in ("fc_2", "fc_3"):
            raise SystemExit(f"unexpected fc version {name}")
        outputs, inputs = r.int(), r.int()
        params = r.tensor()
        wshape, bshape = r.alias(), r.alias()
        if r.int() != 1:
            raise SystemExit("expected fc_no_bias")
        for _ in range(4):
            r.float()
        if name == "fc_3":
            r.bool()
        parts = split(params, wshape, bshape) if np.prod(bshape) else split(params, wshape)
        return {"w": parts[0].reshape(inputs, outputs)}
    raise SystemExit(f"no reader for {kind}")


def read_model(data: bytes):
    """Returns (channel means, [(kind, details)] from the input outwards)."""
    r = Reader(data)
    r.version((1,))  # add_loss_layer
    loss = r.string()
    if loss == "loss_metric_2":
        r.float(), r.float()
    elif loss != "loss_metric_":
        raise SystemExit(f"not a metric-learning network: {loss}")
    stack = layers()
    versions = []
    for kind in stack:
        if kind[0] == "L":
            versions.append(r.version((2, 3)))
        else:
            r.version((1, 2))
    # The innermost layer holds the input layer.
    r.expect("input_rgb_image_sized")
    means = (r.float(), r.float(), r.float())
    if (r.int(), r.int()) != (CHIP, CHIP):
        raise SystemExit("expected a 150x150 input")
    out = []
    v = iter(reversed(versions))
    for kind in reversed(stack):
        if kind[0] != "L":
            out.append((kind, None))
            continue
        version = next(v)
        details = read_details(r, kind)
        for _ in range(3):
            r.bool()
        r.tensor(), r.tensor()  # x_grad, cached output
        r.tensor()  # params_grad (or grad_final next to the input)
        if version == 3:
            r.int()  # sample expansion factor
        out.append((kind, details))
    if r.pos != len(data):
        raise SystemExit(f"{len(data) - r.pos} bytes left after the model")
    return means, out


class Graph:
    def __init__(self):
        self.nodes, self.inits, self.count = [], [], 0

    def name(self, stem):
        self.count += 1
        return f"{stem}_{self.count}"

    def const(self, stem, array):
        name = self.name(stem)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(self, op, inputs, **attrs):
        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out


def build(means, model):
    g = Graph()
    mean = np.array(means, np.float32).reshape(1, 3, 1, 1)
    x = g.op("Mul", [g.op("Sub", ["input", g.const("mean", mean)]),
                     g.const("scale", np.array(1.0 / 256.0, np.float32))])
    # Per-tensor static facts the residual sums need: channels and spatial side.
    shape = {x: (3, CHIP)}
    tags = {}
    for kind, d in model:
        if kind[0] == "tag":
            tags[kind[1]] = x
            continue
        if kind[0] == "skip":
            x = tags[kind[1]]
            continue
        op = kind[1]
        ch, side = shape[x]
        if op == "con":
            k = d["w"].shape[2]
            p = d["pad"][0]
            inputs = [x, g.const("w", d["w"])]
            if d["b"] is not None:
                inputs.append(g.const("b", d["b"]))
            x = g.op("Conv", inputs, kernel_shape=[k, k], strides=[d["stride"]] * 2,
                     pads=[p, p, p, p])
            shape[x] = (d["w"].shape[0], (side + 2 * p - k) // d["stride"] + 1)
        elif op == "affine":
            c = d["gamma"].size
            x = g.op("Add", [g.op("Mul", [x, g.const("gamma", d["gamma"].reshape(1, c, 1, 1))]),
                             g.const("beta", d["beta"].reshape(1, c, 1, 1))])
            shape[x] = (ch, side)
        elif op == "relu":
            x = g.op("Relu", [x])
            shape[x] = (ch, side)
        elif op in ("max_pool", "avg_pool"):
            k, s, p = d["size"][0], d["stride"][0], d["pad"][0]
            x = g.op("MaxPool" if op == "max_pool" else "AveragePool", [x], kernel_shape=[k, k],
                     strides=[s, s], pads=[p, p, p, p])
            shape[x] = (ch, (side + 2 * p - k) // s + 1)
        elif op == "avg_pool_everything":
            x = g.op("GlobalAveragePool", [x])
            shape[x] = (ch, 1)
        elif op == "add_prev":
            x = add_padded(g, shape, x, tags[kind[2]])
        elif op == "fc":
            x = g.op("MatMul", [g.op("Flatten", [x], axis=1), g.const("fc", d["w"])])
    g.nodes[-1].output[0] = "descriptor"
    graph = helper.make_graph(
        g.nodes, "dlib_face_recognition_resnet_model_v1",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, CHIP, CHIP])],
        [helper.make_tensor_value_info("descriptor", TensorProto.FLOAT, ["N", 128])],
        g.inits)
    onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                   producer_name="facegate convert_dlib_resnet",
                                   producer_version="1")
    onnx_model.ir_version = IR_VERSION
    onnx.checker.check_model(onnx_model)
    return onnx_model


def add_padded(g, shape, a, b):
    """dlib's tt::add: the sum has the larger size of each dimension, and each operand counts
    as zero where it does not reach."""
    (ca, sa), (cb, sb) = shape[a], shape[b]
    c, s = max(ca, cb), max(sa, sb)
    operands = []
    for t, ct, st in ((a, ca, sa), (b, cb, sb)):
        if (ct, st) != (c, s):
            pads = np.array([0, 0, 0, 0, 0, c - ct, s - st, s - st], np.int64)
            t = g.op("Pad", [t, g.const("pads", pads)])
        operands.append(t)
    out = g.op("Add", operands)
    shape[out] = (c, s)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("src")
    parser.add_argument("dst")
    args = parser.parse_args()
    with open(args.src, "rb") as f:
        means, model = read_model(f.read())
    onnx.save(build(means, model), args.dst)
    print(f"  converted {args.src} -> {args.dst}", file=sys.stderr)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Convert a TFLite face-embedding model to ONNX at setup time (run by install_models.py).

tflite2onnx keeps the TFLite graph's fixed batch of 2; this makes the batch dimension
dynamic (input, output and the final Reshape's shape constant), so that facegate can embed
every face of a photo in one run, and writes its PReLUs in faster operators
(convert_prelu.py: the same results). Run with PYTHONHASHSEED=0: tflite2onnx walks sets of
names and of objects, so the hash seed is fixed and the weights are sorted by name: the
output is then byte-identical on every machine, which the SHA-256 in models/manifest.toml
checks.
"""

import sys
from pathlib import Path

import numpy as np
import onnx
import tflite2onnx
from onnx import numpy_helper

import convert_prelu


def make_batch_dynamic(model: onnx.ModelProto) -> None:
    for value in [*model.graph.input, *model.graph.output]:
        value.type.tensor_type.shape.dim[0].dim_param = "N"

    outputs = {o.name for o in model.graph.output}
    initializers = {i.name: i for i in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Reshape" and node.output[0] in outputs:
            shape = initializers[node.input[1]]
            dims = numpy_helper.to_array(shape).copy()
            dims[0] = -1
            shape.CopyFrom(numpy_helper.from_array(dims.astype(np.int64), shape.name))
    # Shapes inferred for the fixed batch would contradict the dynamic one.
    del model.graph.value_info[:]


def sort_initializers(model: onnx.ModelProto) -> None:
    """The converter emits weights in object-hash order, which changes from run to run."""
    ordered = sorted(model.graph.initializer, key=lambda t: t.name)
    copies = [onnx.TensorProto() for _ in ordered]
    for copy, tensor in zip(copies, ordered):
        copy.CopyFrom(tensor)
    del model.graph.initializer[:]
    model.graph.initializer.extend(copies)


def main(src: str, dst: str) -> int:
    # A fixed intermediate name: the converter records it in the graph.
    raw = Path(dst).with_suffix(".raw.onnx")
    try:
        tflite2onnx.convert(src, str(raw))
        model = onnx.load(str(raw))
    finally:
        raw.unlink(missing_ok=True)
    make_batch_dynamic(model)
    convert_prelu.rewrite(model)
    sort_initializers(model)
    onnx.checker.check_model(model)
    onnx.save(model, dst)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: convert_tflite.py MODEL.tflite OUT.onnx")
    sys.exit(main(sys.argv[1], sys.argv[2]))

"""TorchScript export of a multi-GB module into Optimum's layout: model.onnx plus one model.onnx_data.

The weights are streamed tensor by tensor into the data file (offsets aligned to 64 KiB, so
onnxruntime can map them), so the process holds the torch module and one tensor at a time, never
a second full copy of the weights as a loaded ONNX proto.
"""
from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import onnx
import onnx.numpy_helper
import torch
from torch import nn

from tools.fixtures.export import FLOAT_TYPES, name_output_dims, strip_source_info

DATA_FILE = "model.onnx_data"
ALIGNMENT = 65536


def tensor_bytes(tensor: onnx.TensorProto, folder: Path) -> bytes:
    if tensor.data_location == onnx.TensorProto.EXTERNAL:
        info = {e.key: e.value for e in tensor.external_data}
        with open(folder / info["location"], "rb") as f:
            f.seek(int(info.get("offset", 0)))
            return f.read(int(info["length"])) if "length" in info else f.read()
    if tensor.HasField("raw_data"):
        return tensor.raw_data
    return onnx.numpy_helper.to_array(tensor).tobytes()


def export_with_external_data(module: nn.Module, inputs: dict[str, torch.Tensor], output_names: tuple[str, ...],
                              dynamic_axes: dict[str, dict[int, str]], path: Path, opset: int,
                              alignment: int = ALIGNMENT) -> onnx.ModelProto:
    """Exports to `path` and returns the written proto (weights external, not loaded).

    `alignment` 1 packs the weights without padding: onnxruntime then reads them instead of
    mapping them, which only small models that are committed should choose.
    """
    args = tuple(inputs.values())
    with torch.no_grad():
        traced = module(*args)
    shapes = [t.shape for t in (traced if isinstance(traced, tuple) else (traced,))]
    del traced
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (path, path.parent / DATA_FILE):
        stale.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = Path(tmp) / "raw.onnx"
        torch.onnx.export(module, args, str(raw), dynamo=False, opset_version=opset, input_names=list(inputs),
                          output_names=list(output_names), dynamic_axes=dynamic_axes, do_constant_folding=True)
        model = onnx.load(str(raw), load_external_data=False)
        # onnxruntime reads Resize's roi/scales during shape inference and refuses external ones.
        read_at_load = {n for node in model.graph.node if node.op_type in ("Resize", "Upsample") for n in node.input[1:]}
        offset = 0
        with open(path.parent / DATA_FILE, "wb") as data:
            for tensor in model.graph.initializer:
                if tensor.data_type not in FLOAT_TYPES or tensor.name in read_at_load:
                    if tensor.data_location == onnx.TensorProto.EXTERNAL:  # small shape constants stay inline
                        tensor.raw_data = tensor_bytes(tensor, Path(tmp))
                        del tensor.external_data[:]
                        tensor.data_location = onnx.TensorProto.DEFAULT
                    continue
                blob = tensor_bytes(tensor, Path(tmp))
                if len(blob) < 1024 and tensor.data_location != onnx.TensorProto.EXTERNAL:
                    continue
                offset += -offset % alignment
                data.seek(offset)
                data.write(blob)
                for field in ("raw_data", "float_data", "int32_data", "double_data"):
                    tensor.ClearField(field)
                del tensor.external_data[:]
                tensor.data_location = onnx.TensorProto.EXTERNAL
                for key, value in (("location", DATA_FILE), ("offset", str(offset)), ("length", str(len(blob)))):
                    entry = tensor.external_data.add()
                    entry.key, entry.value = key, value
                offset += len(blob)
    strip_source_info(model)
    name_output_dims(model, dynamic_axes, shapes)
    model.producer_version = torch.__version__.split("+")[0]
    onnx.save_model(model, str(path))
    onnx.checker.check_model(str(path))
    return model

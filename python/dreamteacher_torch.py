"""Load backbones exported by DreamTeacher for Java into PyTorch.

``dreamteacher export --model backbone.dtt --out backbone.safetensors`` writes a backbone's state dict in the
safetensors format, with the model's configuration in the file's metadata. This module reads such a file and
builds the matching torchvision model, then loads the weights strictly: every tensor must be used and every
parameter and buffer filled, so a file that does not fit fails loudly instead of running with random weights.

It needs PyTorch and torchvision only (no ``safetensors`` package)::

    import dreamteacher_torch as dt
    model = dt.load_backbone("backbone.safetensors").eval()
    c2, c3, c4, c5 = dt.features(model, images)      # the four feature levels, as the Java model computes them
    pooled = dt.pooled_features(model, images)       # globally averaged C5, as ``dreamteacher embed`` writes it

ResNets become ``torchvision.models.ResNet`` (the small 3x3 stride-1 stem replaces ``conv1`` and the max-pool,
and any width is built); ConvNeXts become ``torchvision.models.ConvNeXt``, whose parameter names differ from
the official ones the file uses and are mapped here.
"""

import json
import struct
from functools import partial

import torch
from torch import nn
from torchvision.models import convnext as tv_convnext
from torchvision.models import resnet as tv_resnet

__all__ = ["read_safetensors", "load_backbone", "features", "pooled_features"]

_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
    "BOOL": torch.bool,
}
_MAX_HEADER = 100 << 20


def read_safetensors(path):
    """Returns ``(tensors, metadata)`` of a safetensors file: a dict of name to CPU tensor, and a dict of strings."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: too short to be a safetensors file")
    (n,) = struct.unpack("<Q", data[:8])
    if n > _MAX_HEADER or 8 + n > len(data):
        raise ValueError(f"{path}: header length {n} does not fit the file ({len(data)} bytes)")
    header = json.loads(data[8:8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", {}) or {}
    body = memoryview(data)[8 + n:]
    tensors = {}
    for name, entry in header.items():
        dtype = _DTYPES.get(entry["dtype"])
        if dtype is None:
            raise ValueError(f"{path}: tensor '{name}' has an unknown dtype {entry['dtype']}")
        begin, end = entry["data_offsets"]
        shape = entry["shape"]
        count = 1
        for s in shape:
            count *= s
        itemsize = torch.empty((), dtype=dtype).element_size()
        if not 0 <= begin <= end <= len(body) or end - begin != count * itemsize:
            raise ValueError(f"{path}: tensor '{name}' has offsets {begin}..{end} that do not fit its shape {shape}")
        raw = bytearray(body[begin:end])  # a copy: the tensor owns writable memory
        t = torch.frombuffer(raw, dtype=dtype) if count > 0 else torch.empty(0, dtype=dtype)
        tensors[name] = t.reshape(shape)
    return tensors, metadata


def _resnet(config):
    depth = config["depth"]
    if depth not in (18, 34, 50):
        raise ValueError(f"resnet depth must be 18, 34 or 50, got {depth}")
    block = tv_resnet.Bottleneck if depth >= 50 else tv_resnet.BasicBlock
    layers = [2, 2, 2, 2] if depth == 18 else [3, 4, 6, 3]
    width = config["width"]
    model = tv_resnet.ResNet(block, layers)
    # torchvision fixes the widths at 64, 128, 256, 512; rebuild the stem and the stages at this width.
    model.inplanes = width
    if config["smallStem"]:
        model.conv1 = nn.Conv2d(config["inChannels"], width, 3, 1, 1, bias=False)
        model.maxpool = nn.Identity()
    else:
        model.conv1 = nn.Conv2d(config["inChannels"], width, 7, 2, 3, bias=False)
    model.bn1 = nn.BatchNorm2d(width)
    model.layer1 = model._make_layer(block, width, layers[0])
    model.layer2 = model._make_layer(block, 2 * width, layers[1], stride=2)
    model.layer3 = model._make_layer(block, 4 * width, layers[2], stride=2)
    model.layer4 = model._make_layer(block, 8 * width, layers[3], stride=2)
    out = 8 * width * block.expansion
    model.fc = nn.Linear(out, config["numClasses"]) if config["numClasses"] > 0 else nn.Identity()
    return model, lambda state: state


def _convnext(config):
    depths, dims = config["depths"], config["dims"]
    settings = [tv_convnext.CNBlockConfig(dims[i], dims[i + 1] if i < 3 else None, depths[i]) for i in range(4)]
    # Stochastic depth acts only in training; the rate does not change the weights or eval-mode features.
    model = tv_convnext.ConvNeXt(settings, stochastic_depth_prob=config.get("dropPath", 0.0),
                                 num_classes=max(config["numClasses"], 1))
    stem = config["stemStride"]
    inc = config["inChannels"]
    model.features[0][0] = (nn.Conv2d(inc, dims[0], 3, 1, 1) if stem == 1
                            else nn.Conv2d(inc, dims[0], stem, stem))
    if config["numClasses"] == 0:
        model.classifier = nn.Flatten(1)
    layer_scale = config.get("layerScaleInit", 1e-6) > 0

    def rename(state):
        mapped = {}
        for name, t in state.items():
            parts = name.split(".")
            if parts[0] == "downsample_layers":  # downsample_layers.i.k -> features.(2i).k
                key = ".".join(["features", str(2 * int(parts[1]))] + parts[2:])
            elif parts[0] == "stages":  # stages.i.j.<layer> -> features.(2i+1).j.block.<index> or layer_scale
                i, j, layer = int(parts[1]), parts[2], parts[3]
                prefix = f"features.{2 * i + 1}.{j}"
                if layer == "gamma":
                    key, t = f"{prefix}.layer_scale", t.reshape(-1, 1, 1)
                else:
                    index = {"dwconv": 0, "norm": 2, "pwconv1": 3, "pwconv2": 5}[layer]
                    key = ".".join([f"{prefix}.block.{index}"] + parts[4:])
            elif parts[0] == "norm":
                key = "classifier.0." + ".".join(parts[1:])
            elif parts[0] == "head":
                key = "classifier.2." + ".".join(parts[1:])
            else:
                key = name  # not a ConvNeXt tensor: the strict load names it
            mapped[key] = t
        if not layer_scale:  # without layer scale the block's output is not scaled: a scale of one
            for i in range(4):
                for j in range(depths[i]):
                    mapped[f"features.{2 * i + 1}.{j}.layer_scale"] = torch.ones(dims[i], 1, 1)
        return mapped

    return model, rename


_BUILDERS = {"resnet": _resnet, "convnext": _convnext}


def load_backbone(path):
    """Builds the torchvision model that an exported backbone file describes and loads its weights strictly."""
    tensors, metadata = read_safetensors(path)
    kind = metadata.get("dreamteacher.kind")
    if kind is None or "dreamteacher.config" not in metadata:
        raise ValueError(f"{path}: no dreamteacher.kind/dreamteacher.config metadata; export it with `dreamteacher export`")
    if kind not in _BUILDERS:
        raise ValueError(f"{path}: holds a '{kind}' model, not a backbone ({', '.join(sorted(_BUILDERS))})")
    config = json.loads(metadata["dreamteacher.config"])
    model, rename = _BUILDERS[kind](config)
    model.load_state_dict(rename(tensors), strict=True)
    model.dreamteacher_kind = kind
    return model


def features(model, x):
    """The four feature levels C2..C5 of a loaded backbone, as the Java model's ``features`` returns them."""
    if model.dreamteacher_kind == "resnet":
        h = model.maxpool(model.relu(model.bn1(model.conv1(x))))
        out = []
        for layer in (model.layer1, model.layer2, model.layer3, model.layer4):
            h = layer(h)
            out.append(h)
        return out
    out = []
    h = x
    for i in range(4):
        h = model.features[2 * i + 1](model.features[2 * i](h))
        out.append(h)
    return out


def pooled_features(model, x, level="c5"):
    """Globally averaged features of one level (c2..c5) or of all four concatenated ("all")."""
    maps = features(model, x)
    levels = {"c2": 0, "c3": 1, "c4": 2, "c5": 3}
    if level == "all":
        return torch.cat([m.mean(dim=(2, 3)) for m in maps], dim=1)
    return maps[levels[level]].mean(dim=(2, 3))

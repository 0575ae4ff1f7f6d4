"""Writes the state-dict layout (name, dtype, shape) of torchvision's ResNet-50 with 1000 classes.

The test InitWeightsTest compares it with the ResNet-50 this library builds with the standard stem, so that
weights saved from torchvision load by name. Made with PyTorch 1.13 / torchvision 0.14 (Debian):

    python3 pipeline/src/test/python/torchvision_state.py > \
        pipeline/src/test/resources/org/dreamteacher/nn/torchvision-resnet50-state.txt
"""
import torch
import torchvision

DTYPES = {torch.float32: "F32", torch.int64: "I64"}

state = torchvision.models.resnet50(weights=None, num_classes=1000).state_dict()
for name, t in state.items():
    print(name, DTYPES[t.dtype], "x".join(str(s) for s in t.shape) or "scalar")

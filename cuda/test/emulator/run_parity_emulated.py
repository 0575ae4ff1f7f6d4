"""Runs cuda/test/gpu_parity.py against the emulated library on the CPU: torch CPU tensors stand in
for device tensors (the emulator's "device pointers" are host pointers). Needs PyTorch (any
version >= 1.13, CPU is enough). Usage: python3 run_parity_emulated.py --lib LIB [--quick] ..."""
import os
import sys
import types

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import torch  # noqa: E402

torch.cuda.is_available = lambda: True
torch.cuda.synchronize = lambda *a, **k: None
torch.cuda.current_stream = lambda *a, **k: types.SimpleNamespace(cuda_stream=0)
torch.cuda.get_device_name = lambda *a, **k: "CPU emulator"
import gpu_parity  # noqa: E402

_init = gpu_parity.Checker.__init__


def _cpu_init(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    self.dev = torch.device("cpu")


gpu_parity.Checker.__init__ = _cpu_init
sys.exit(gpu_parity.main(sys.argv[1:]))

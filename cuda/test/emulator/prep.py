"""Turns a .cu file into C++ for the emulator: kernel<<<cfg>>>(args) becomes
emu::launch(kernel, emu::Cfg{cfg}, args) and `extern __shared__ T name[];` a pointer to the
emulated dynamic shared memory. Usage: prep.py IN.cu OUT.cpp"""
import re, sys, pathlib
src = pathlib.Path(sys.argv[1]).read_text()
# kernel<<<cfg>>>(  ->  emu::launch(kernel, emu::Cfg{cfg}, 
src, n1 = re.subn(r'(\b[A-Za-z_]\w*(?:<\w+>)?)<<<(.*?)>>>\(', r'emu::launch(\1, emu::Cfg{\2}, ', src, flags=re.S)
src, n2 = re.subn(r'extern __shared__ (\w+) (\w+)\[\];', r'\1* \2 = emu::dyn_smem<\1>();', src)
pathlib.Path(sys.argv[2]).write_text(src)

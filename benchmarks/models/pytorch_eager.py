#!/usr/bin/env python3
"""PyTorch eager baseline of ModelTrainingBenchmark: the same U-Net (ADM layout, DDPM loss) and ResNet-18
(small stem), batch 64 of 3x32x32, AdamW, one training step per measurement after warm-up steps.

usage: pytorch_eager.py --threads 2 [--warmup 2] [--iterations 5] [--out result.json]
Prints and writes {"unet": {...}, "resnet18": {...}} with per-step milliseconds."""
import argparse, json, math, statistics, time

import torch
import torch.nn as nn
import torch.nn.functional as F


def groups(channels, wanted=32):
    g = min(wanted, channels)
    while channels % g:
        g -= 1
    return g


def timestep_embedding(t, dim):
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=1)
    return F.pad(emb, (0, 1)) if dim % 2 else emb


class ResBlock(nn.Module):
    def __init__(self, cin, cout, tdim):
        super().__init__()
        self.in_norm, self.in_conv = nn.GroupNorm(groups(cin), cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(tdim, 2 * cout)
        self.out_norm, self.out_conv = nn.GroupNorm(groups(cout), cout), nn.Conv2d(cout, cout, 3, padding=1)
        nn.init.zeros_(self.out_conv.weight); nn.init.zeros_(self.out_conv.bias)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, emb):
        h = self.in_conv(F.silu(self.in_norm(x)))
        scale, shift = self.emb(emb)[:, :, None, None].chunk(2, dim=1)
        h = self.out_conv(F.silu(self.out_norm(h) * (1 + scale) + shift))
        return (x if self.skip is None else self.skip(x)) + h


class Attention(nn.Module):
    def __init__(self, c, heads):
        super().__init__()
        self.heads, self.norm = heads, nn.GroupNorm(groups(c), c)
        self.qkv, self.proj = nn.Conv2d(c, 3 * c, 1), nn.Conv2d(c, c, 1)
        nn.init.zeros_(self.proj.weight); nn.init.zeros_(self.proj.bias)

    def forward(self, x):
        b, c, h, w = x.shape
        n, ch = h * w, c // self.heads
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3 * c, n).chunk(3, dim=1)
        s = 1 / math.sqrt(math.sqrt(ch))
        q, k, v = (q * s).reshape(b * self.heads, ch, n), (k * s).reshape(b * self.heads, ch, n), v.reshape(b * self.heads, ch, n)
        a = torch.bmm(v, torch.softmax(torch.bmm(q.transpose(1, 2), k), dim=2).transpose(1, 2))
        return x + self.proj(a.reshape(b, c, h, w))


class Block(nn.Module):
    def __init__(self, cin, cout, tdim, attn=False, down=False, up=False, heads=4):
        super().__init__()
        self.down = nn.Conv2d(cin, cout, 3, stride=2, padding=1) if down else None
        self.res = None if down else ResBlock(cin, cout, tdim)
        self.attn = Attention(cout, heads) if attn and not down else None
        self.up = nn.Conv2d(cout, cout, 3, padding=1) if up else None

    def forward(self, h, emb):
        if self.down is not None:
            return self.down(h)
        h = self.res(h, emb)
        if self.attn is not None:
            h = self.attn(h)
        if self.up is not None:
            h = self.up(F.interpolate(h, scale_factor=2, mode="nearest"))
        return h


class UNet(nn.Module):
    """The layout of org.dreamteacher.diffusion.UNetConfig.layout()."""

    def __init__(self, cin=3, size=32, base=32, mult=(1, 2, 2), blocks=1, attn_res=(8,), heads=4):
        super().__init__()
        tdim, self.base = 4 * base, base
        self.t1, self.t2 = nn.Linear(base, tdim), nn.Linear(tdim, tdim)
        ch = base * mult[0]
        self.stem = nn.Conv2d(cin, ch, 3, padding=1)
        skips, enc, ds = [ch], [], 1
        for level, m in enumerate(mult):
            for _ in range(blocks):
                enc.append(Block(ch, base * m, tdim, attn=(size // ds) in attn_res, heads=heads))
                ch = base * m
                skips.append(ch)
            if level != len(mult) - 1:
                ds *= 2
                enc.append(Block(ch, ch, tdim, down=True))
                skips.append(ch)
        self.enc = nn.ModuleList(enc)
        self.mid1, self.mid_attn, self.mid2 = ResBlock(ch, ch, tdim), Attention(ch, heads), ResBlock(ch, ch, tdim)
        dec = []
        for level in reversed(range(len(mult))):
            for i in range(blocks + 1):
                skip = skips.pop()
                attn = (size // ds) in attn_res
                up = level > 0 and i == blocks
                if up:
                    ds //= 2
                dec.append(Block(ch + skip, base * mult[level], tdim, attn=attn, up=up, heads=heads))
                ch = base * mult[level]
        self.dec = nn.ModuleList(dec)
        self.out_norm, self.out_conv = nn.GroupNorm(groups(ch), ch), nn.Conv2d(ch, cin, 3, padding=1)
        nn.init.zeros_(self.out_conv.weight); nn.init.zeros_(self.out_conv.bias)

    def forward(self, x, t):
        emb = F.silu(self.t2(F.silu(self.t1(timestep_embedding(t, self.base)))))
        h = self.stem(x)
        hs = [h]
        for b in self.enc:
            h = b(h, emb)
            hs.append(h)
        h = self.mid2(self.mid_attn(self.mid1(h, emb)), emb)
        for b in self.dec:
            h = b(torch.cat([h, hs.pop()], dim=1), emb)
        return self.out_conv(F.silu(self.out_norm(h)))


class BasicBlock(nn.Module):
    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False), nn.BatchNorm2d(planes)
        self.conv2, self.bn2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False), nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or cin != planes:
            self.downsample = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        return F.relu(h + (x if self.downsample is None else self.downsample(x)))


class ResNet18(nn.Module):
    """torchvision's resnet18 with the small stem (3x3 stride-1 conv, no max-pool) of ResNetConfig.small."""

    def __init__(self, cin=3, classes=10, width=64):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(cin, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width)
        layers, c = [], width
        for i, planes in enumerate([width, 2 * width, 4 * width, 8 * width]):
            stride = 1 if i == 0 else 2
            layers.append(nn.Sequential(BasicBlock(c, planes, stride), BasicBlock(planes, planes, 1)))
            c = planes
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        h = self.layers(F.relu(self.bn1(self.conv1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))


def linear_alphas_cumprod(T=1000):
    scale = 1000 / T
    betas = torch.linspace(scale * 1e-4, scale * 0.02, T, dtype=torch.float64)
    return torch.cumprod(1 - betas, 0)


def time_steps(step, warmup, iterations):
    for _ in range(warmup):
        step()
    times, cpu = [], []
    for _ in range(iterations):
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        times.append((time.perf_counter() - t0) * 1e3)
        cpu.append((time.process_time() - c0) * 1e3)
    return times, cpu


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--iterations", type=int, default=5)
    p.add_argument("--out")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    x = torch.randn(64, 3, 32, 32)
    y = torch.randint(0, 10, (64,))
    abar = linear_alphas_cumprod().float()
    results = {}

    unet = UNet()
    opt = torch.optim.AdamW(unet.parameters(), lr=2e-4)

    def unet_step():
        t = torch.randint(0, 1000, (64,))
        eps = torch.randn_like(x)
        a_t = abar[t][:, None, None, None]
        xt = a_t.sqrt() * x + (1 - a_t).sqrt() * eps
        loss = F.mse_loss(unet(xt, t), eps)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    resnet = ResNet18()
    ropt = torch.optim.AdamW(resnet.parameters(), lr=1e-3)

    def resnet_step():
        loss = F.cross_entropy(resnet(x), y)
        ropt.zero_grad()
        loss.backward()
        ropt.step()
        return loss.item()

    for name, model, step in (("unet", unet, unet_step), ("resnet18", resnet, resnet_step)):
        times, cpu = time_steps(step, a.warmup, a.iterations)
        results[name] = {"median_ms": statistics.median(times), "times_ms": times,
                         "median_cpu_ms": statistics.median(cpu), "cpu_times_ms": cpu,
                         "parameters": sum(p.numel() for p in model.parameters())}
    results["torch"] = torch.__version__
    results["threads"] = torch.get_num_threads()
    print(json.dumps(results))
    if a.out:
        with open(a.out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()

"""Recipe search for the default cnn, in PyTorch (fast here), before confirming on tfjs wasm.

Trains an architecture given as a short spec on the full Fashion-MNIST (the Debian package's IDX
files; 54k train / 6k validation as the accuracy test splits them, test on the 10k t10k images) and
prints per-epoch validation and test accuracy, wall and CPU seconds. Keras conventions, so that
what holds here transfers to tfjs-layers: Glorot-uniform kernels, zero biases, batch-norm momentum
(--bn-momentum, Keras' 0.99 by default: PyTorch's 0.01) and epsilon 1e-3, Adam epsilon 1e-7.

  /usr/bin/python3 bench/torch_recipe.py --arch c32v-p-c64v-p-d128-do3 --epochs 10

Spec tokens, '-' separated: c<N><s|v>[b] 3x3 conv (same/valid padding; 'b': no bias, batch norm)
then ReLU; c<N><s|v>q conv (no bias), 2x2 max-pool, batch norm, ReLU; p 2x2 max-pool; d<N>[b] dense then ReLU; do<k> dropout 0.k; a final dense 10 is added.
"""

import argparse
import ctypes
import gzip
import json
import math
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
_libc = ctypes.CDLL("libc.so.6")
_libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD
_libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

SOURCE = "/usr/share/datasets/fashion-mnist"


def idx(name: str) -> np.ndarray:
    with gzip.open(os.path.join(SOURCE, name), "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def build(spec: str, seed: int, bn_momentum: float = 0.99) -> nn.Module:
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    c, h, flat = 1, 28, None
    for tok in spec.split("-"):
        if tok.startswith("c") and tok.endswith("q"):
            # conv (no bias) -> max-pool -> batch norm -> ReLU: normalisation on the pooled map
            body = tok[1:-1]
            pad = body[-1]
            n = int(body[:-1])
            layers.append(nn.Conv2d(c, n, 3, padding=1 if pad == "s" else 0, bias=False))
            layers.append(nn.MaxPool2d(2))
            layers.append(nn.BatchNorm2d(n, eps=1e-3, momentum=1 - bn_momentum))
            layers.append(nn.ReLU())
            c = n
            h = (h if pad == "s" else h - 2) // 2
        elif tok.startswith("c"):
            bn = tok.endswith("b")
            body = tok[1:-1] if bn else tok[1:]
            pad = body[-1]
            n = int(body[:-1])
            conv = nn.Conv2d(c, n, 3, padding=1 if pad == "s" else 0, bias=not bn)
            layers.append(conv)
            if bn:
                layers.append(nn.BatchNorm2d(n, eps=1e-3, momentum=1 - bn_momentum))
            layers.append(nn.ReLU())
            c = n
            h = h if pad == "s" else h - 2
        elif tok == "p":
            layers.append(nn.MaxPool2d(2))
            h //= 2
        elif tok.startswith("do"):
            layers.append(nn.Dropout(int(tok[2:]) / 10))
        elif tok.startswith("d"):
            bn = tok.endswith("b")
            n = int(tok[1:-1] if bn else tok[1:])
            if flat is None:
                layers.append(nn.Flatten())
                flat = c * h * h
            layers.append(nn.Linear(flat, n, bias=not bn))
            if bn:
                layers.append(nn.BatchNorm1d(n, eps=1e-3, momentum=1 - bn_momentum))
            layers.append(nn.ReLU())
            flat = n
        else:
            raise SystemExit(f"unknown token {tok}")
    if flat is None:
        layers.append(nn.Flatten())
        flat = c * h * h
    layers.append(nn.Linear(flat, 10))
    model = nn.Sequential(*layers)
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return model


def lr_at(step: int, total: int, base: float, schedule: str, warmup: float, final: float) -> float:
    w = int(total * warmup)
    if step < w:
        return base * (step + 1) / w
    if schedule == "const":
        return base
    p = (step - w) / max(1, total - w)
    if schedule == "linear":
        return base * (final + (1 - final) * (1 - p))
    return base * (final + (1 - final) * 0.5 * (1 + math.cos(math.pi * p)))


def augment(x: torch.Tensor, shift: int, flip: bool, gen: torch.Generator) -> torch.Tensor:
    n = x.shape[0]
    if shift > 0:
        padded = nn.functional.pad(x, (shift, shift, shift, shift))
        dy = torch.randint(0, 2 * shift + 1, (n,), generator=gen)
        dx = torch.randint(0, 2 * shift + 1, (n,), generator=gen)
        rows = (dy[:, None] + torch.arange(28)[None, :])[:, None, :, None]
        cols = (dx[:, None] + torch.arange(28)[None, :])[:, None, None, :]
        x = padded[torch.arange(n)[:, None, None, None], torch.zeros(1, dtype=torch.long)[None, :, None, None], rows, cols]
    if flip:
        mask = torch.rand(n, generator=gen) < 0.5
        x = torch.where(mask[:, None, None, None], x.flip(3), x)
    return x


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), 1000):
            correct += int((model(x[i : i + 1000]).argmax(1) == y[i : i + 1000]).sum())
    model.train()
    return correct / len(x)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="c32v-p-c64v-p-d128-do3")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--schedule", default="cosine", choices=["cosine", "linear", "const"])
    ap.add_argument("--warmup", type=float, default=0.0, help="fraction of all steps")
    ap.add_argument("--final", type=float, default=0.0, help="final rate as a fraction of the peak")
    ap.add_argument("--smooth", type=float, default=0.0)
    ap.add_argument("--shift", type=int, default=0)
    ap.add_argument("--flip", action="store_true")
    ap.add_argument("--wd", type=float, default=0.0, help="decoupled weight decay (AdamW)")
    ap.add_argument("--bn-momentum", type=float, default=0.99, help="Keras convention (PyTorch's is 1 - this)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    xtr = torch.from_numpy(idx("train-images-idx3-ubyte.gz").astype(np.float32) / 255).unsqueeze(1)
    ytr = torch.from_numpy(idx("train-labels-idx1-ubyte.gz").astype(np.int64))
    xte = torch.from_numpy(idx("t10k-images-idx3-ubyte.gz").astype(np.float32) / 255).unsqueeze(1)
    yte = torch.from_numpy(idx("t10k-labels-idx1-ubyte.gz").astype(np.int64))
    gen = torch.Generator().manual_seed(args.seed)
    perm = torch.randperm(len(xtr), generator=gen)
    val_idx, tr_idx = perm[:6000], perm[6000:]
    xva, yva = xtr[val_idx], ytr[val_idx]
    xtr, ytr = xtr[tr_idx], ytr[tr_idx]

    model = build(args.arch, args.seed, args.bn_momentum)
    params = sum(p.numel() for p in model.parameters())
    if args.wd > 0:
        opt = torch.optim.AdamW(model.parameters(), lr=args.lr, eps=1e-7, weight_decay=args.wd)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=args.lr, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=args.smooth)
    steps_per_epoch = math.ceil(len(xtr) / args.batch)
    total = steps_per_epoch * args.epochs
    step = 0
    wall0, cpu0 = time.perf_counter(), time.process_time()
    history = []
    for epoch in range(1, args.epochs + 1):
        order = torch.randperm(len(xtr), generator=gen)
        for s in range(steps_per_epoch):
            b = order[s * args.batch : (s + 1) * args.batch]
            for g in opt.param_groups:
                g["lr"] = lr_at(step, total, args.lr, args.schedule, args.warmup, args.final)
            xb = augment(xtr[b], args.shift, args.flip, gen)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), ytr[b])
            loss.backward()
            opt.step()
            step += 1
        va, te = accuracy(model, xva, yva), accuracy(model, xte, yte)
        rec = {"epoch": epoch, "val": va, "test": te, "wall": time.perf_counter() - wall0, "cpu": time.process_time() - cpu0}
        history.append(rec)
        print(f"epoch {epoch:2d}  val {va:.4f}  test {te:.4f}  {rec['wall']:.0f}s wall  {rec['cpu']:.0f}s cpu", flush=True)
    print(json.dumps({"args": vars(args), "params": params, "history": history}))


if __name__ == "__main__":
    main()

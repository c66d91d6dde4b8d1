"""PyTorch peer for bench/train.bench.ts: trains modelship's default CNN on Fashion-MNIST shapes.

Same network as shared/model/architectures.ts `cnn`: conv 32 3x3 (same, no bias), max-pool 2, batch
norm (momentum 0.9 in Keras' terms) + relu, conv 64 3x3 (same, no bias), max-pool 2, batch norm +
relu, dense 128 + relu, dropout 0.3, dense 10; Adam (lr 1e-3), cross-entropy with label smoothing
0.1 (the default recipe), the batch the tfjs side uses (128 by default), random inputs of shape
28x28x1. Measured at its best, as MACHINE-FACTS records: OpenBLAS held to 1 thread before torch loads (torch's own threads give the
parallelism) and glibc told to keep freed memory (mallopt) so per-step buffers are not re-faulted.

Run with Debian's interpreter (the only one with python3-torch):
  /usr/bin/python3 bench/torch_cnn.py --threads 1 --steps 100
Prints one JSON line.
"""

import argparse
import ctypes
import json
import os
import resource
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
_libc = ctypes.CDLL("libc.so.6")
_libc.mallopt(M_TRIM_THRESHOLD, 1 << 30)
_libc.mallopt(M_MMAP_THRESHOLD, 32 << 20)

import torch  # noqa: E402  (after the environment and allocator settings on purpose)
from torch import nn  # noqa: E402


def build() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1, bias=False),
        nn.MaxPool2d(2),
        nn.BatchNorm2d(32, eps=1e-3, momentum=0.1),
        nn.ReLU(),
        nn.Conv2d(32, 64, 3, padding=1, bias=False),
        nn.MaxPool2d(2),
        nn.BatchNorm2d(64, eps=1e-3, momentum=0.1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(64 * 7 * 7, 128),
        nn.ReLU(),
        nn.Dropout(0.3),
        nn.Linear(128, 10),
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--predict-batch", type=int, default=256)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    model = build()
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    n = args.warmup + args.steps
    xs = torch.rand(n, args.batch, 1, 28, 28)
    ys = torch.randint(0, 10, (n, args.batch))

    def step(i: int) -> float:
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xs[i]), ys[i])
        loss.backward()
        opt.step()
        return float(loss)

    model.train()
    for i in range(args.warmup):
        step(i)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for i in range(args.warmup, n):
        step(i)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0

    model.eval()
    px = torch.rand(args.predict_batch, 1, 28, 28)
    with torch.no_grad():
        for _ in range(3):
            model(px)
        # Best of 3 rounds, as the tfjs side does.
        reps = 10
        pwall = pcpu = float("inf")
        for _ in range(3):
            p0, pc0 = time.perf_counter(), time.process_time()
            for _ in range(reps):
                model(px)
            pwall = min(pwall, time.perf_counter() - p0)
            pcpu = min(pcpu, time.process_time() - pc0)

    samples = args.steps * args.batch
    print(
        json.dumps(
            {
                "peer": "torch",
                "torch": torch.__version__,
                "threads": args.threads,
                "params": params,
                "steps": args.steps,
                "batch": args.batch,
                "trainSamplesPerSec": samples / wall,
                "trainSamplesPerCpuSec": samples / cpu,
                "predictSamplesPerSec": reps * args.predict_batch / pwall,
                "predictSamplesPerCpuSec": reps * args.predict_batch / pcpu,
                "peakRssMB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


if __name__ == "__main__":
    main()

"""Throughput of the vectorised SGD against per-run loops, measured in the same process.

    PYTHONPATH=. python bench/sgd.py [--steps S] [--baseline-steps S]   (from the repository root)

Prints trajectory-steps per second (one SGD step of one run = one trajectory-step) for
R = 1, 100, 1000 runs advanced together, and the ratio against

- a per-run numpy loop: the same sparse minibatch gradient called with R = 1, run after run;
- a per-run PyTorch loop (when torch is installed): nn-style forward ReLU(WᵀW x + b) on the dense
  minibatch, autograd backward, manual SGD update, one run after another.

Both baselines use the paper's protocol (N = 1000, batch 20, lr 0.005); their rate does not
depend on R (runs are independent), so they are timed on a few runs and short trajectories.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from critpoints.dynamics.sgd import SGDProtocol, gaussian_init, run_sgd, sample_datasets

N_FEATURES, HIDDEN = 6, 2


def vectorised_rate(runs: int, steps: int) -> float:
    protocol = SGDProtocol(steps=steps)
    f, mu = sample_datasets(N_FEATURES, protocol.samples, 0, range(runs))
    W0, b0 = gaussian_init(N_FEATURES, HIDDEN, 0.5, 0, range(runs))
    start = time.perf_counter()
    run_sgd(W0, b0, f, mu, protocol, 0, range(runs), checkpoints=np.array([0, steps]))
    return runs * steps / (time.perf_counter() - start)


def numpy_loop_rate(runs: int, steps: int) -> float:
    """The same code, one run per call: what a per-run loop over the library would cost."""
    protocol = SGDProtocol(steps=steps)
    start = time.perf_counter()
    for r in range(runs):
        f, mu = sample_datasets(N_FEATURES, protocol.samples, 0, [r])
        W0, b0 = gaussian_init(N_FEATURES, HIDDEN, 0.5, 0, [r])
        run_sgd(W0, b0, f, mu, protocol, 0, [r], checkpoints=np.array([0, steps]))
    return runs * steps / (time.perf_counter() - start)


def torch_loop_rate(runs: int, steps: int) -> float | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    protocol = SGDProtocol(steps=steps)
    start = time.perf_counter()
    for r in range(runs):
        g = torch.Generator().manual_seed(r)
        x = torch.zeros(protocol.samples, N_FEATURES, dtype=torch.float64)
        idx = torch.randint(0, N_FEATURES, (protocol.samples,), generator=g)
        x[torch.arange(protocol.samples), idx] = torch.rand(protocol.samples, generator=g,
                                                            dtype=torch.float64)
        W = (0.5 * torch.randn(HIDDEN, N_FEATURES, generator=g, dtype=torch.float64))
        W.requires_grad_(True)
        b = torch.zeros(N_FEATURES, dtype=torch.float64, requires_grad=True)
        done = 0
        while done < steps:
            order = torch.randperm(protocol.samples, generator=g)
            for i in range(protocol.steps_per_epoch):
                if done == steps:
                    break
                xb = x[order[i * protocol.batch : (i + 1) * protocol.batch]]
                out = torch.relu(xb @ W.T @ W + b)
                loss = ((out - xb) ** 2).sum(dim=1).mean()
                loss.backward()
                with torch.no_grad():
                    W -= protocol.lr * W.grad
                    b -= protocol.lr * b.grad
                    W.grad.zero_()
                    b.grad.zero_()
                done += 1
    return runs * steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000, help="steps per run (vectorised)")
    parser.add_argument("--baseline-steps", type=int, default=2000, help="steps per baseline run")
    args = parser.parse_args()
    numpy_rate = numpy_loop_rate(3, args.baseline_steps)
    torch_rate = torch_loop_rate(2, args.baseline_steps)
    print(f"per-run numpy loop:   {numpy_rate:12,.0f} trajectory-steps/s")
    if torch_rate is None:
        print("per-run PyTorch loop: (torch not installed)")
    else:
        print(f"per-run PyTorch loop: {torch_rate:12,.0f} trajectory-steps/s")
    print(f"{'R':>6} {'steps/s':>14} {'vs numpy loop':>14} {'vs torch loop':>14}")
    for runs in (1, 100, 1000):
        rate = vectorised_rate(runs, args.steps)
        versus_torch = "-" if torch_rate is None else f"{rate / torch_rate:13.1f}x"
        print(f"{runs:>6} {rate:14,.0f} {rate / numpy_rate:13.1f}x {versus_torch:>14}")
    per_core = vectorised_rate(500, args.steps)
    full = 500 * 225_000 / per_core
    print(f"paper protocol, 500 runs x 225000 steps at the R = 500 rate: {full:,.0f} s on one core")


if __name__ == "__main__":
    main()

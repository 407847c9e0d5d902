"""Training speed: vae_lib.fit against the official PyTorch VAE example, side by side.

All loops train the same model (784-400-20, Adam 1e-3, batch 128, BCE summed + KL) on the
same data, taking turns epoch by epoch: each loop runs in its own process and waits while
another trains, so that all see the same machine load even when it drifts minute to minute
(a process each, not a thread each: torch ops run up to 2x slower outside a main thread):

(a) ``reference``: the training loop of the PyTorch example (examples/vae/main.py) with its
    data fed as the example feeds it: ``datasets.MNIST(transform=transforms.ToTensor())``
    through a ``DataLoader(batch_size=128, shuffle=True)``. torchvision itself is not
    installed here (it does not work beside this torch build), so ``TorchvisionMNIST``
    repeats its per-item code line for line: index the uint8 tensor, make a PIL image,
    convert it back to a [0, 1] float tensor as ``transforms.ToTensor`` does;
(b) ``reference-lean``: the same loop, with a leaner per-item Dataset that converts the uint8
    array straight to a [0, 1] tensor (no PIL round trip): a stricter baseline;
(c) ``vae_lib.fit`` on a ``VAE(latent_dim=20, hidden=(400,))``.

Prints images/s, the fraction of the compute bound each reaches (FLOPs per training image x
images/s / the measured float32 matmul rate), the test loss after the last epoch (median over
repeats), the ratio to the lean loop, and last ``ratio: X.XX`` = fit's images/s / the
reference's.

    VAE_LIB_DATA=../shared/data/mnist python benchmarks/train_speed.py --repeats 8  # 10 epochs, 22 min
    python benchmarks/train_speed.py --quick                                       # smoke run
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import threading
import time
import traceback
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset

import vae_lib

# ---------------------------------------------------------------- (a) the reference example


class ReferenceVAE(nn.Module):
    """The model of the official PyTorch VAE example (examples/vae/main.py)."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def reference_loss(recon_x, x, mu, logvar):
    bce = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


class TorchvisionMNIST(Dataset):
    """``torchvision.datasets.MNIST(transform=transforms.ToTensor())``, per item, line for line."""

    def __init__(self, images: np.ndarray, labels: np.ndarray):
        self.data, self.targets = torch.from_numpy(images), torch.from_numpy(labels)

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        img, target = self.data[index], int(self.targets[index])
        img = Image.fromarray(img.numpy(), mode="L")  # torchvision returns PIL images
        return pil_to_tensor(img), target


def pil_to_tensor(pic: Image.Image) -> torch.Tensor:
    """``torchvision.transforms.functional.to_tensor`` for a PIL image of mode "L"."""
    img = torch.from_numpy(np.array(pic, np.uint8, copy=True))
    img = img.view(pic.size[1], pic.size[0], len(pic.getbands()))
    img = img.permute((2, 0, 1)).contiguous()  # HWC -> CHW
    return img.to(dtype=torch.get_default_dtype()).div(255)


class MNISTItems(Dataset):
    """A leaner per-item Dataset: uint8 array -> [0, 1] float tensor, no PIL round trip."""

    def __init__(self, images: np.ndarray, labels: np.ndarray):
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return torch.from_numpy(self.images[i]).float().div(255).unsqueeze(0), int(self.labels[i])


def run_reference(train, test, epochs: int, seed: int, turn: Turn | None = None, dataset=TorchvisionMNIST):
    turn = turn or Turn()
    turn.wait()
    torch.manual_seed(seed)
    model = ReferenceVAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(dataset(*train), batch_size=128, shuffle=True)
    test_loader = DataLoader(dataset(*test), batch_size=128, shuffle=False)
    seconds = 0.0
    for epoch in range(epochs):
        if epoch:
            turn.pass_on()
        model.train()
        start = time.perf_counter()
        train_loss = 0.0
        for data, _ in loader:
            optimizer.zero_grad()
            recon, mu, logvar = model(data)
            loss = reference_loss(recon, data, mu, logvar)
            loss.backward()
            train_loss += loss.item()
            optimizer.step()
        seconds += time.perf_counter() - start
    model.eval()
    test_loss = 0.0
    with torch.no_grad():
        for data, _ in test_loader:
            recon, mu, logvar = model(data)
            test_loss += reference_loss(recon, data, mu, logvar).item()
    turn.finish()
    return len(train[0]) * epochs / seconds, test_loss / len(test[0])


def run_reference_lean(train, test, epochs: int, seed: int, turn: Turn | None = None):
    return run_reference(train, test, epochs, seed, turn, dataset=MNISTItems)


# ---------------------------------------------------------------- (c) vae_lib.fit


def run_vae_lib(train, test, epochs: int, seed: int, turn: Turn | None = None):
    turn = turn or Turn()
    turn.wait()
    torch.manual_seed(seed)
    model = vae_lib.VAE(latent_dim=20, hidden=(400,))

    def between_epochs(history):  # fit calls this outside its timed part
        if history.epochs < epochs:
            turn.pass_on()

    history = vae_lib.fit(
        model,
        train[0],
        epochs=epochs,
        test=test[0],
        seed=seed,
        device="cpu",
        progress=False,
        callback=between_epochs,
    )
    turn.finish()
    return history.images_per_second, history.test["total"][-1]


# ---------------------------------------------------------------- taking turns


class Turn:
    """One loop's place in a round robin of training loops in separate processes.

    ``wait()`` blocks until it is this loop's turn, ``pass_on()`` hands the machine to the
    next loop and waits for the turn to come back, ``finish()`` hands it on for good. Every
    loop takes the same number of turns (one per epoch). Alone (``Turn()``), every call
    returns at once.
    """

    def __init__(self, mine=None, next_=None):
        self.mine, self.next = mine, next_  # semaphores: this loop's and the next loop's

    def wait(self) -> None:
        if self.mine is not None:
            self.mine.acquire()

    def pass_on(self) -> None:
        self.finish()
        self.wait()

    def finish(self) -> None:
        if self.next is not None:
            self.next.release()


def _take_part(
    name: str, run: Callable, subset: str | None, epochs: int, seed: int, ready, turn: Turn, results
) -> None:
    """A loop's process: load the data, wait until every loop is ready, then train in turns."""
    try:
        train = vae_lib.load_mnist("train", subset=subset)
        test = vae_lib.load_mnist("test", subset=subset)
        matmul_rate(seconds=0.3)  # warm up the thread pool and the matmul kernels
        ready.wait()
        results.put((name, run(train, test, epochs, seed, turn), None))
    except BaseException:
        results.put((name, None, traceback.format_exc()))
        ready.abort()  # nobody waits for a loop that will not come


def run_in_turns(
    loops: dict[str, Callable], subset: str | None, epochs: int, seed: int, timeout: float = 3600
) -> dict[str, tuple[float, float]]:
    """Run each loop in its own process, one epoch each in turn, in the order given.

    Each ``run(train, test, epochs, seed, turn)`` must call ``turn.wait()`` before its first
    epoch, ``turn.pass_on()`` between epochs and ``turn.finish()`` after its last one (with
    its test evaluation), and return something picklable. An error in any loop stops them all
    and is raised here with the loop's traceback.
    """
    ctx = mp.get_context("spawn")  # a fresh interpreter each: no forked thread pools
    turns = [ctx.Semaphore(0) for _ in loops]
    ready = ctx.Barrier(len(loops) + 1)
    results = ctx.Queue()
    processes = [
        ctx.Process(
            target=_take_part,
            args=(
                name,
                run,
                subset,
                epochs,
                seed,
                ready,
                Turn(turns[i], turns[(i + 1) % len(loops)]),
                results,
            ),
        )
        for i, (name, run) in enumerate(loops.items())
    ]
    for process in processes:
        process.start()
    try:
        try:
            ready.wait(timeout=600)  # every loop has imported torch and loaded its data
        except threading.BrokenBarrierError:
            pass  # a loop failed before training: its error is in the results
        turns[0].release()
        out = {}
        for _ in loops:
            name, value, error = results.get(timeout=timeout)
            if error is not None:
                raise RuntimeError(f"the loop {name!r} failed:\n{error}")
            out[name] = value
        return out
    except BaseException:
        for process in processes:  # the others wait for a turn that will not come
            process.terminate()
        raise
    finally:
        for process in processes:
            process.join()


# ---------------------------------------------------------------- measurement


# Multiply-adds of the model's weights: 784x400 + 400x40 (mu and logvar) + 20x400 + 400x784.
WEIGHTS = 784 * 400 + 400 * 40 + 20 * 400 + 400 * 784
# Forward 2 FLOPs per weight; backward 2 for the weight gradient and 2 for the input gradient,
# except the first layer's input gradient (the images need none): 3.28 MFLOP per image.
FLOPS_PER_IMAGE = 2 * WEIGHTS + 2 * WEIGHTS + 2 * (WEIGHTS - 784 * 400)


def matmul_rate(seconds: float = 1.0) -> float:
    """Measured float32 matmul FLOP/s at the shapes of the model's biggest layer."""
    a, b = torch.randn(128, 784), torch.randn(784, 400)
    for _ in range(20):
        a @ b
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(50):
            a @ b
        n += 50
    return 2 * 128 * 784 * 400 * n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument(
        "--repeats", type=int, default=1, help="runs of all the loops, each with the next seed"
    )
    parser.add_argument("--quick", action="store_true", help="1 epoch on the shipped subset (a smoke run)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    subset = "small" if args.quick else None
    epochs = 1 if args.quick else args.epochs
    train = vae_lib.load_mnist("train", subset=subset)  # fails early if missing; each loop loads its own
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {len(train[0])} training images,"
        f" {epochs} epochs, {args.repeats} repeats; the loops take turns epoch by epoch"
    )

    loops = {"reference": run_reference, "reference-lean": run_reference_lean, "vae_lib.fit": run_vae_lib}
    rates: dict[str, list[float]] = {name: [] for name in loops}
    losses: dict[str, list[float]] = {name: [] for name in loops}
    flops = []
    names = list(loops)
    for r in range(args.repeats):
        flops.append(matmul_rate())
        order = names[r % len(names) :] + names[: r % len(names)]  # no loop always goes first
        for name, (ips, loss) in run_in_turns(
            {name: loops[name] for name in order}, subset, epochs, args.seed + r
        ).items():
            rates[name].append(ips)
            losses[name].append(loss)
        print(
            f"  repeat {r + 1} (seed {args.seed + r}):",
            "; ".join(
                f"{name} {rates[name][-1]:,.0f} images/s, test loss {losses[name][-1]:.2f}" for name in names
            ),
            flush=True,
        )
    peak = statistics.median(flops)
    bound = peak / FLOPS_PER_IMAGE
    print(
        f"\nmeasured matmul rate {peak / 1e9:.1f} GFLOP/s; {FLOPS_PER_IMAGE / 1e6:.2f} MFLOP per training image;"
        f" compute bound {bound:,.0f} images/s"
    )
    print(f"{'loop':15s} {'images/s':>10s} {'of bound':>9s} {'test loss':>10s}")
    for name in loops:
        ips = statistics.median(rates[name])
        print(f"{name:15s} {ips:10,.0f} {ips / bound:9.1%} {statistics.median(losses[name]):10.2f}")

    def ratio(baseline: str) -> float:  # median over repeats of the ratio within each repeat
        return statistics.median(f / b for f, b in zip(rates["vae_lib.fit"], rates[baseline]))

    if args.repeats > 1:  # the same seed gives the same loss in both references: compare with one
        diffs = [f - b for f, b in zip(losses["vae_lib.fit"], losses["reference"])]
        print(
            f"test loss of fit minus the reference's, mean over {args.repeats} seeds: {statistics.mean(diffs):+.3f}"
            f" nats (standard error {statistics.stdev(diffs) / len(diffs) ** 0.5:.3f})"
        )
    print(f"ratio to reference-lean: {ratio('reference-lean'):.2f}")
    print(f"ratio: {ratio('reference'):.2f}")


if __name__ == "__main__":
    main()

"""Lesson 14-8's checks: an attribute direction, and the capstone VAE built from plain PyTorch.

:func:`check_regression_direction` checks ``fn(codes, values)`` -> the unit vector along the
least-squares weights of the values on the codes (with an intercept).

:func:`check_capstone` takes the four pieces a student writes,

- ``MyVAE``: an ``nn.Module`` class, built as ``MyVAE()``, with ``encode(x) -> (mu, logvar)``,
  ``decode(z) -> logits`` and ``forward(x) -> (logits, mu, logvar, z)``;
- ``negative_elbo(logits, x, mu, logvar)``: the loss, a batch mean in nats;
- ``train_epoch(model, optimizer, images, batch_size)``: one pass over ``images`` in batches;
- ``test_elbo(model, images)``: the mean ELBO per image in nats (one z per image is enough),

checks each against the reference of ``vae_lib`` on small cases (with hints matched to the
typical mistakes: a batch sum instead of a mean, a missing KL term, sigma = exp(logvar)
instead of exp(logvar / 2), probabilities where logits belong, an optimizer that never
steps), then trains a fresh ``MyVAE()`` for one epoch on the 10,000 training images of the
shipped subset and measures its ELBO on the 2,000 test images with ``vae_lib``'s own
estimate. It passes when that ELBO is above :data:`ELBO_TARGET`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from ...losses import kl_divergence
from ._runner import Case, CheckResult, finish

# A correct MyVAE (784-400-20, Adam lr 1e-3, batch 100) reaches about -185 nats after one
# epoch on the subset (lesson 14-8 measures it); forgetting optimizer.zero_grad() gives about -300.
ELBO_TARGET = -205.0
BATCH_SIZE = 100


def _report(name: str, cases: list[Case], verbose: bool) -> CheckResult:
    result = CheckResult(name, cases)
    if verbose:
        print(result.report(), flush=True)
        result._echoed = True
    return finish(result)  # under a grader, a failed check raises CheckFailed


def _reference_loss(logits, x, mu, logvar) -> torch.Tensor:
    rec = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
    return (rec + kl_divergence(mu, logvar)).mean()


def _loss_hint(value: float, logits, x, mu, logvar) -> str:
    """The hint for the first typical wrong loss that ``value`` matches."""
    rec = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
    kl = kl_divergence(mu, logvar)
    p = torch.sigmoid(logits).clamp(1e-7, 1 - 1e-7)
    variants = [
        ("your loss is the batch SUM: average the per-image values over the batch", (rec + kl).sum()),
        ("the KL term is missing: the negative ELBO is reconstruction + KL", rec.mean()),
        ("only the KL term: add the reconstruction term -log p(x|z)", kl.mean()),
        (
            "the reconstruction is averaged over the pixels (reduction='mean'): sum over the 784 pixels,"
            " then average over the batch",
            (rec / x.shape[-1] + kl).mean(),
        ),
        (
            "your loss applies a sigmoid to the logits and then binary_cross_entropy_with_logits, which"
            " applies"
            " it again",
            (F.binary_cross_entropy_with_logits(p, x, reduction="none").sum(-1) + kl).mean(),
        ),
        (
            "your KL uses sigma = exp(logvar); logvar is log sigma^2, so sigma = exp(logvar / 2)",
            (rec + 0.5 * (mu.pow(2) + (2 * logvar).exp() - 2 * logvar - 1).sum(-1)).mean(),
        ),
        ("your loss is the ELBO itself: the loss to minimise is its negative", -(rec + kl).mean()),
        (
            "a squared error: the decoder is Bernoulli, use the binary cross-entropy",
            (((p - x) ** 2).sum(-1) + kl).mean(),
        ),
    ]
    for hint, v in variants:
        if math.isclose(value, float(v), rel_tol=1e-3, abs_tol=1e-3):
            return hint
    return (
        "compare with lesson 14-3: -log p(x|z) summed over pixels (binary cross-entropy with logits) plus"
        " KL = 1/2 sum (mu^2 + exp(logvar) - logvar - 1), averaged over the batch"
    )


def _data():
    from ...data import load_mnist, to_tensor

    train, _ = load_mnist("train", subset="small")
    test, _ = load_mnist("test", subset="small")
    return to_tensor(train), to_tensor(test)


@torch.no_grad()
def reference_elbo(model, images: torch.Tensor, seed: int = 0) -> float:
    """The mean ELBO (nats, one z per image) of a model with ``encode``/``decode``, as vae_lib computes it."""
    gen = torch.Generator().manual_seed(seed)
    model.eval()
    mu, logvar = model.encode(images)
    z = mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=gen)
    rec = F.binary_cross_entropy_with_logits(model.decode(z), images, reduction="none").sum(-1)
    return -(rec + kl_divergence(mu, logvar)).mean().item()


def check_capstone(
    MyVAE: type, negative_elbo: Callable, train_epoch: Callable, test_elbo: Callable, verbose: bool = True
) -> CheckResult:
    """Check the capstone VAE of lesson 14-8 piece by piece, then train it for one epoch.

    Passes when every piece behaves and ``MyVAE()`` reaches an ELBO above ``ELBO_TARGET`` nats on
    the shipped test subset after one epoch of ``train_epoch`` with Adam (lr 1e-3, batch 100).
    """
    name = "check_capstone"
    cases: list[Case] = []

    def fail(case: str, message: str) -> CheckResult:
        cases.append(Case(case, False, message))
        return _report(name, cases, verbose)

    for label, fn in (
        ("MyVAE", MyVAE),
        ("negative_elbo", negative_elbo),
        ("train_epoch", train_epoch),
        ("test_elbo", test_elbo),
    ):
        if not callable(fn):
            return fail(
                f"{label} is defined",
                f"{label} is {type(fn).__name__}, expected a class or a function."
                "\n    Hint: run the cell that defines it first.",
            )
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(0)
        # 1. the model's shapes and outputs
        try:
            model = MyVAE()
            x = torch.rand(6, 784, generator=torch.Generator().manual_seed(1))
            out = model(x)
        except NotImplementedError:
            return fail("MyVAE() runs", "MyVAE is not written yet (it raised NotImplementedError).")
        except Exception as e:
            return fail(
                "MyVAE() runs",
                f"MyVAE()(x) raised {type(e).__name__}: {e}\n    Hint: build it with no"
                " arguments (give defaults), and let forward take x of shape [N, 784].",
            )
        if not isinstance(out, (tuple, list)) or len(out) != 4:
            return fail(
                "forward returns (logits, mu, logvar, z)",
                "forward(x) must return four tensors (logits, mu, logvar, z).",
            )
        logits, mu, logvar, z = out
        if (
            logits.shape != (6, 784)
            or mu.dim() != 2
            or mu.shape[0] != 6
            or logvar.shape != mu.shape
            or z.shape != mu.shape
        ):
            return fail(
                "forward returns (logits, mu, logvar, z)",
                f"shapes: logits {list(logits.shape)}, mu {list(mu.shape)}, logvar {list(logvar.shape)},"
                f" z {list(z.shape)}; expected [6, 784] and three times [6, d]",
            )
        if bool(((logits >= 0) & (logits <= 1)).all()):
            return fail(
                "decode returns logits",
                "all decoder outputs lie in [0, 1]: they look like"
                " probabilities.\n    Hint: no sigmoid at the end of the decoder; return logits and use"
                " binary_cross_entropy_with_logits (torch.sigmoid(logits) is the image).",
            )
        cases.append(Case("MyVAE(): forward returns logits [N, 784], mu, logvar, z [N, d]", True))

        # 3. the loss
        g = torch.Generator().manual_seed(3)
        lg, xb = 2 * torch.randn(8, 784, generator=g), (torch.rand(8, 784, generator=g) < 0.3).float()
        m, lv = torch.randn(8, 5, generator=g), torch.rand(8, 5, generator=g) * 3 - 2
        try:
            value = negative_elbo(lg, xb, m, lv)
        except NotImplementedError:
            return fail("negative_elbo", "negative_elbo is not written yet (it raised NotImplementedError).")
        except Exception as e:
            return fail("negative_elbo", f"negative_elbo raised {type(e).__name__}: {e}")
        if not isinstance(value, torch.Tensor) or value.numel() != 1:
            return fail(
                "negative_elbo returns one number",
                f"negative_elbo returned {type(value).__name__}"
                f"{' of shape ' + str(list(value.shape)) if isinstance(value, torch.Tensor) else ''};"
                " expected a scalar tensor (the batch mean).",
            )
        ref = _reference_loss(lg, xb, m, lv).item()
        if not math.isclose(value.item(), ref, rel_tol=1e-4, abs_tol=1e-3):
            return fail(
                "negative_elbo",
                f"your loss is {value.item():.3f}, expected {ref:.3f}.\n    Hint: "
                + _loss_hint(value.item(), lg, xb, m, lv),
            )
        cases.append(Case("negative_elbo = mean over the batch of (BCE summed over pixels + KL)", True))

        # 4. the training loop steps the optimizer
        train_x, test_x = _data()
        torch.manual_seed(0)
        model = MyVAE()
        before = [p.detach().clone() for p in model.parameters()]
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        model.train()
        try:
            train_epoch(model, optimizer, train_x, BATCH_SIZE)
        except NotImplementedError:
            return fail("train_epoch", "train_epoch is not written yet (it raised NotImplementedError).")
        except Exception as e:
            return fail("train_epoch", f"train_epoch raised {type(e).__name__}: {e}")
        if all(torch.equal(a, b.detach()) for a, b in zip(before, model.parameters())):
            return fail(
                "train_epoch changes the weights",
                "after one epoch no weight has changed.\n    Hint:"
                " in each batch call optimizer.zero_grad(), loss.backward() and optimizer.step().",
            )
        cases.append(Case("train_epoch updates the weights", True))

        # 5. the reparameterization, after training (when logvar varies): (z - mu) / sigma ~ N(0, 1)
        with torch.no_grad():
            xs = test_x
            model.train()  # forward samples z in either mode
            logits, mu, logvar, z = model(xs)
            right = ((z - mu) / (0.5 * logvar).exp()).std().item()
            wrong = ((z - mu) / logvar.exp()).std().item()
            spread = logvar.std().item()
        if abs(right - 1) > 0.1:
            if spread > 0.05 and abs(wrong - 1) < 0.1:
                hint = "z uses sigma = exp(logvar); logvar is log sigma^2, so sigma = exp(logvar / 2)."
            elif right < 0.1:
                hint = "z equals mu (no noise): sample z = mu + sigma * eps with eps = torch.randn_like(mu)."
            else:
                hint = "sample z = mu + exp(logvar / 2) * eps with eps = torch.randn_like(mu)."
            return fail(
                "z = mu + sigma * eps",
                f"(z - mu) / sigma has standard deviation {right:.3f}, expected 1.\n    Hint: {hint}",
            )
        cases.append(Case("forward samples z = mu + exp(logvar / 2) * eps", True))

        # 6. the student's test ELBO agrees with vae_lib's estimate, which must reach the target
        ours = reference_elbo(model, test_x)
        try:
            theirs = float(test_elbo(model, test_x))
        except NotImplementedError:
            return fail("test_elbo", "test_elbo is not written yet (it raised NotImplementedError).")
        except Exception as e:
            return fail("test_elbo", f"test_elbo raised {type(e).__name__}: {e}")
        if abs(theirs - ours) > 2.0:
            if math.isclose(theirs, -ours, rel_tol=0.02):
                hint = "you return the loss; the ELBO is its negative (higher is better)."
            elif math.isclose(theirs, ours * len(test_x), rel_tol=0.02):
                hint = "you return the sum over the test images; return the mean per image."
            else:
                hint = "average -negative_elbo over the test images, with the model in eval mode and no_grad."
            return fail(
                "test_elbo",
                f"your test ELBO is {theirs:.2f} nats, vae_lib measures {ours:.2f}.\n    Hint: {hint}",
            )
        cases.append(Case(f"test_elbo agrees with vae_lib's estimate ({ours:.1f} nats)", True))
        if ours < ELBO_TARGET:
            return fail(
                f"one epoch reaches an ELBO above {ELBO_TARGET:.0f} nats",
                f"after one epoch the test ELBO is {ours:.1f} nats.\n    Hint: does train_epoch visit"
                " every image once (shuffled batches of batch_size), call optimizer.zero_grad() in each"
                " batch (gradients accumulate otherwise), and minimise negative_elbo of forward's"
                " outputs? Is the encoder wide enough (e.g. one hidden layer of 400 units, ReLU)?",
            )
        cases.append(Case(f"one epoch reaches {ours:.1f} nats > {ELBO_TARGET:.0f} nats", True))
    finally:
        torch.random.set_rng_state(state)
    return _report(name, cases, verbose)


def check_regression_direction(fn: Callable, verbose: bool = True) -> CheckResult:
    """Check ``fn(codes [N, d], values [N])`` -> unit vector [d] along the least-squares weights w of
    values ~ w . codes + b (with an intercept b), lesson 14-8."""
    name = "check_regression_direction"
    if not callable(fn):
        return _report(
            name,
            [
                Case(
                    "my_regression_direction is defined",
                    False,
                    f"got {type(fn).__name__}, expected a function.",
                )
            ],
            verbose,
        )
    cases: list[Case] = []
    for n, d, seed in ((1000, 5, 0), (400, 20, 1), (60, 3, 2)):
        g = torch.Generator().manual_seed(seed)
        # codes with very different variances per dimension, and an offset
        codes = torch.randn(n, d, generator=g) * torch.logspace(-1.5, 0, d) + 2.0
        values = codes @ torch.randn(d, generator=g) + 0.3 * torch.randn(n, generator=g) + 1.0
        case = f"{n} codes in {d}-D"
        a = torch.cat([codes, torch.ones(n, 1)], 1).double()
        w = torch.linalg.lstsq(a, values.double()[:, None]).solution[:-1, 0]
        ref = w / w.norm()
        try:
            out = fn(codes.clone(), values.clone())
        except NotImplementedError:
            cases.append(
                Case(case, False, "my_regression_direction is not written yet (NotImplementedError).")
            )
            break
        except Exception as e:
            cases.append(Case(case, False, f"your function raised {type(e).__name__}: {e}"))
            continue
        if not isinstance(out, torch.Tensor) or out.shape != (d,):
            got = list(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            cases.append(
                Case(
                    case,
                    False,
                    f"expected a tensor of shape [{d}], got {got}.\n    Hint: one weight"
                    " per latent dimension; drop the intercept from the solution.",
                )
            )
            continue
        out = out.detach().double()
        cos = float(out @ ref / out.norm().clamp_min(1e-12))
        centred = codes.double() - codes.double().mean(0)
        cov = centred.T @ (values.double() - values.double().mean()) / n
        no_b = torch.linalg.lstsq(codes.double(), values.double()[:, None]).solution[:, 0]
        if cos < -0.999:
            cases.append(
                Case(
                    case,
                    False,
                    "your vector points the wrong way.\n    Hint: the weights w themselves,"
                    " so that moving along them increases the attribute.",
                )
            )
        elif cos < 0.999:
            if abs(float(out @ cov) / (out.norm() * cov.norm())) > 0.999:
                hint = (
                    "this is the covariance of the codes with the values (a difference of means): regression"
                    " solves the normal equations, w = (A^T A)^{-1} A^T values; use torch.linalg.lstsq"
                )
            elif abs(float(out @ no_b) / (out.norm() * no_b.norm())) > 0.999:
                hint = (
                    "add a column of ones to the codes for the intercept b (or centre codes and values first)"
                )
            else:
                hint = "least squares: torch.linalg.lstsq(A, values[:, None]) with A = [codes, 1]"
            cases.append(
                Case(
                    case,
                    False,
                    f"your direction is at cosine {cos:.3f} to the expected one.\n    Hint: {hint}.",
                )
            )
        elif abs(out.norm().item() - 1) > 1e-4:
            cases.append(
                Case(
                    case,
                    False,
                    f"your vector has length {out.norm().item():.3f}.\n    Hint: divide by"
                    " its norm: a direction is a unit vector.",
                )
            )
        else:
            cases.append(Case(case, True))
    return _report(name, cases, verbose)

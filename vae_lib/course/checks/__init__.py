"""Instant feedback for the exercises of lessons 14-1 to 14-6, with no grading server.

    from vae_lib import checks
    checks.check_kl(my_kl)            # prints a verdict per case, with a hint on failure

Each ``check_*`` function runs your function on several cases (random inputs, edge cases,
batch shapes, float64, gradients, and statistical tests with generous tolerances for the
random ones), compares the result with the reference implementation of ``vae_lib`` or
``torch.distributions``, and prints one line per case::

    ✓ batch of 8 x 2
    ✗ mu = 0, logvar = -2: your KL is negative (-1.297 for one example) ...
        Hint: did you drop the -log σ² term? ...

A failing case is compared with the typical wrong variants (a forgotten 1/2, a batch sum
instead of a mean, sigma = exp(logvar) instead of exp(logvar / 2), ...) to give a specific
hint. The checks never print the solution.

Every check returns a :class:`CheckResult`, truthy when every case passed, so that
``assert checks.check_kl(my_kl, verbose=False)`` works; ``verbose=False`` silences the
printout. An exception raised by your function is reported as a failed case, not a
traceback. The random numbers the checks draw come from their own seeded generators:
a check never changes the global random state and gives the same verdict every time.

| check | your function | lesson |
| --- | --- | --- |
| :func:`check_reconstruction_loss` | ``fn(logits, x)`` -> BCE per example, [N] | 14-1 |
| :func:`check_gaussian_log_density` | ``fn(x, mu, var)`` -> log N(x; mu, var) elementwise | 14-2 |
| :func:`check_elbo_1d` | ``fn(x, m, v, w, b, s2)`` -> ELBO of the 1-D linear-Gaussian model | 14-2 |
| :func:`check_vae_loss` | ``fn(logits, x, mu, logvar, beta)`` -> (total, reconstruction, kl) | 14-3 |
| :func:`check_worked_example` | a number: the KL of the worked example | 14-3, 14-4 |
| :func:`check_kl` | ``fn(mu, logvar)`` -> KL(N(mu, diag e^logvar) ‖ N(0, I)) per example | 14-4 |
| :func:`check_kl_monte_carlo` | ``fn(mu, logvar, n, generator)`` -> Monte Carlo KL per example | 14-4 |
| :func:`check_reparameterize` | ``fn(mu, logvar, generator=None)`` -> z | 14-5 |
| :func:`check_score_function_gradient` | ``fn(mu, sigma, k, n, generator)`` -> estimate | 14-5 |
| :func:`check_slerp` | ``fn(z0, z1, t)`` -> point on the great circle | 14-6 |

The checks live in one module per lesson: :mod:`.reconstruction` (14-1), :mod:`.elbo` (14-2),
:mod:`.vae_loss` (14-3), :mod:`.kl` (14-4), :mod:`.reparameterize` (14-5) and :mod:`.slerp`
(14-6), each with the typical wrong variants of its exercises; :mod:`._runner` holds what they
share (:class:`Case`, :class:`CheckResult`, the runner and the comparison helpers).
"""

from ._runner import (
    FAIL,
    PASS,
    Case,
    CheckFailed,
    CheckResult,
    CheckSpec,
    ValueCase,
    finish,
    grading,
    run_check,
)
from .capstone import check_capstone, check_regression_direction
from .elbo import LOG_2PI, check_elbo_1d, check_gaussian_log_density
from .kl import check_kl, check_kl_monte_carlo
from .lessons2 import check_exp_gradient, check_first_collapse, check_kl_general, check_training_step
from .practice import check_activity, check_free_bits
from .reconstruction import check_reconstruction_loss
from .reparameterize import check_reparameterize, check_score_function_gradient
from .slerp import check_slerp
from .vae_loss import check_vae_loss, check_worked_example

__all__ = [
    "FAIL",
    "PASS",
    "LOG_2PI",
    "check_free_bits",
    "check_activity",
    "check_training_step",
    "check_kl_general",
    "check_first_collapse",
    "check_exp_gradient",
    "check_regression_direction",
    "check_capstone",
    "Case",
    "CheckResult",
    "CheckFailed",
    "CheckSpec",
    "ValueCase",
    "run_check",
    "grading",
    "finish",
    "check_reconstruction_loss",
    "check_gaussian_log_density",
    "check_elbo_1d",
    "check_vae_loss",
    "check_worked_example",
    "check_kl",
    "check_kl_monte_carlo",
    "check_reparameterize",
    "check_score_function_gradient",
    "check_slerp",
]

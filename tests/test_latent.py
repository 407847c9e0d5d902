"""Encoding a data set, interpolation (linear and spherical) and latent grids."""

import math

import pytest
import torch

from vae_lib import VAE, Autoencoder, encode_dataset, interpolate, latent_grid


def test_linear_interpolation_has_the_endpoints_and_equal_steps():
    path = interpolate(torch.tensor([0.0, 0.0]), torch.tensor([1.0, 2.0]), steps=5)
    torch.testing.assert_close(path[0], torch.tensor([0.0, 0.0]))
    torch.testing.assert_close(path[-1], torch.tensor([1.0, 2.0]))
    torch.testing.assert_close(path[2], torch.tensor([0.5, 1.0]))


def test_slerp_keeps_the_norm_between_vectors_of_equal_norm():
    g = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(20, generator=g), torch.randn(20, generator=g)
    z1 = z1 / z1.norm() * z0.norm()
    path = interpolate(z0, z1, steps=11, method="slerp")
    torch.testing.assert_close(path.norm(dim=1), z0.norm().expand(11), rtol=1e-5, atol=1e-5)
    mid_linear = interpolate(z0, z1, steps=11)[5].norm()
    assert mid_linear < path[5].norm()  # linear cuts through the low-norm middle


def test_slerp_interpolates_the_norm_linearly_even_for_nearly_opposite_endpoints():
    z0 = torch.tensor([1.0, 0.0])
    for angle in (2.0, 3.0, 3.14):  # radians, up to 0.1 degree short of opposite
        z1 = 3.0 * torch.tensor([math.cos(angle), math.sin(angle)])
        path = interpolate(z0, z1, steps=5, method="slerp")
        torch.testing.assert_close(path.norm(dim=1), torch.tensor([1.0, 1.5, 2.0, 2.5, 3.0]))
        angles = torch.atan2(path[:, 1], path[:, 0])
        torch.testing.assert_close(angles, torch.linspace(0, angle, 5), atol=1e-5, rtol=0)


def test_slerp_turns_at_constant_angular_speed():
    z0, z1 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    path = interpolate(z0, z1, steps=3, method="slerp")
    torch.testing.assert_close(path[1], torch.tensor([math.sqrt(0.5), math.sqrt(0.5)]))


@pytest.mark.parametrize(
    "z1",
    [
        torch.tensor([2.0, 0.0, 0.0]),
        torch.tensor([1.0, 1e-7, 0.0]),
        torch.tensor([-1.0, 0.0, 0.0]),
        torch.tensor([-1.0, 1e-7, 0.0]),
    ],
)
def test_slerp_is_safe_for_parallel_and_opposite_endpoints(z1):
    z0 = torch.tensor([1.0, 0.0, 0.0])
    path = interpolate(z0, z1, steps=9, method="slerp")
    assert torch.isfinite(path).all()
    torch.testing.assert_close(path[0], z0)
    torch.testing.assert_close(path[-1], z1)
    if z1[0] < 0:  # opposite: the path goes round, never through the origin
        assert path.norm(dim=1).min() > 0.99


def test_interpolate_names_bad_arguments():
    with pytest.raises(ValueError, match="method must be"):
        interpolate(torch.zeros(2), torch.ones(2), method="cubic")
    with pytest.raises(ValueError, match="z0 and z1 must have the same shape"):
        interpolate(torch.zeros(2), torch.ones(3))
    with pytest.raises(ValueError, match="steps must be an integer >= 2"):
        interpolate(torch.zeros(2), torch.ones(2), steps=1)


def test_latent_grid_follows_the_inverse_gaussian_cdf():
    grid = latent_grid(5, low=0.1, high=0.9)
    assert grid.shape == (25, 2)
    q = torch.special.ndtri(torch.tensor([0.1, 0.3, 0.5, 0.7, 0.9], dtype=torch.float64)).float()
    torch.testing.assert_close(grid[:5, 0], q)  # first row: z1 increases left to right
    torch.testing.assert_close(grid[::5, 1], q.flip(0))  # first column: z2 decreases downwards
    cdf = torch.special.ndtr(grid[:5, 0].double())
    torch.testing.assert_close(cdf, torch.tensor([0.1, 0.3, 0.5, 0.7, 0.9], dtype=torch.float64))


def test_latent_grid_embeds_two_dimensions_of_a_larger_latent():
    grid = latent_grid(3, latent_dim=20, dims=(4, 7))
    assert grid.shape == (9, 20)
    assert grid[:, [i for i in range(20) if i not in (4, 7)]].eq(0).all()


def test_encode_dataset_returns_means_for_a_vae_and_points_for_an_autoencoder():
    x = torch.rand(30, 784)
    vae = VAE(latent_dim=3, hidden=(8,))
    mu, logvar = encode_dataset(vae, x, batch_size=7, return_logvar=True)
    torch.testing.assert_close(mu, vae.encode(x)[0].detach())
    assert logvar.shape == (30, 3)
    ae = Autoencoder(latent_dim=2, hidden=(8,))
    torch.testing.assert_close(encode_dataset(ae, x), ae.encode(x).detach())
    with pytest.raises(ValueError, match="return_logvar=True needs a VAE"):
        encode_dataset(ae, x, return_logvar=True)

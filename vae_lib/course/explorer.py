"""The data of the latent explorer (``book/_static/latent-explorer.js``), for the site and the notebooks.

    python -m vae_lib export-explorer      # -> book/_static/explorer/ (run from the repository root)

One JavaScript module draws the explorer on the site and, through the anywidget
:class:`vae_lib.widgets.LatentExplorer`, in Jupyter. Both feed it one binary *pack*
(:func:`pack_model`) of a 2-D VAE (or autoencoder):

- a 4-byte magic ``VAEX``, a little-endian uint32 ``n``, ``n`` bytes of a JSON header, padded
  with spaces to a multiple of 4, then the arrays the header lists by ``offset``/``nbytes``
  (offsets from the end of the header);
- the encoder (784 -> ... -> 2 d, giving mu and log sigma^2) and the decoder (2 -> ... -> 784
  logits) as lists of Linear layers (ReLU between them), each weight either ``float32`` or
  ``int8g``: int8 with one float16 scale per group of ``GROUP`` inputs of a row, rounded
  by GPTQ (Frantar et al. 2023: each column's rounding error is pushed onto the columns not
  yet rounded, weighted by the inverse Hessian of calibration inputs) and with the bias
  corrected for the mean error; this keeps the decoded pixels and the encoder's mu near the
  float model at a quarter of the bytes (``tests/test_browser.py`` measures how near);
- the means of q(z|x) of the map's digits (float32) with their labels (uint8, 255: none);
- ``PICKS`` of those digits (10 per class when labelled) as 4-bit grey images, the inputs
  a reader can click to encode.

A *decoder pack* (:func:`pack_conditional_decoder`) has the same layout with only a
``decoder`` (2 + 10 -> ... -> 784 logits: z then the one-hot digit) of the conditional VAE of
lesson 14-8; the explorer loads it only when the reader chooses a digit.

The export writes ``vae-2d.bin`` (the quantised pack of the shipped ``vae-2d``), ``cvae-2d.bin``
(the quantised decoder of the shipped ``cvae-2d``, and its ``file://`` copy ``cvae-2d.js``), ``vae-2d.js``
(the same bytes as base64 in a script, only for pages opened from disk, ``file://``, where
browsers refuse ``fetch``) and ``decoded-grid.png`` (the static figure where JavaScript does
not run, and in print). The export is deterministic; re-run it whenever
``vae_lib/_weights/vae-2d.pt`` changes (``tests/test_explorer.py`` fails until you do).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import struct
from pathlib import Path
from typing import cast

import numpy as np
import torch

from ..checkpoint import write_atomic
from ..models import LatentModel

__all__ = [
    "FORMAT",
    "DATA_FILE",
    "SCRIPT_FILE",
    "FALLBACK_PNG",
    "DEFAULT_OUT",
    "MAX_BYTES",
    "CONDITIONAL_DATA_FILE",
    "CONDITIONAL_SCRIPT_FILE",
    "CONDITIONAL_MAX_BYTES",
    "pack_conditional_decoder",
    "EXPLORER_COLOURS",
    "export_explorer",
    "weights_sha256",
    "pack_model",
    "read_pack",
    "read_export",
    "decode_array",
    "decoder_from_export",
    "encoder_from_export",
]

FORMAT = "vae_lib-latent-explorer-v2"
MAGIC = b"VAEX"


class _PackWriter:
    """Writes the pack format that ``read_pack`` reads: arrays little-endian, each padded to 4 bytes."""

    def __init__(self) -> None:
        self.arrays: dict[str, dict] = {}
        self.chunks: list[bytes] = []
        self.offset = 0

    def add(self, a: np.ndarray, dtype: str) -> str:
        """Append ``a`` as ``dtype``; returns its name in the header."""
        name = f"a{len(self.arrays)}"
        raw = np.ascontiguousarray(a, dtype=np.dtype(dtype).newbyteorder("<")).tobytes()
        pad = (-len(raw)) % 4
        self.arrays[name] = {
            "dtype": dtype,
            "shape": list(a.shape),
            "offset": self.offset,
            "nbytes": len(raw),
        }
        self.chunks.append(raw + b"\0" * pad)
        self.offset += len(raw) + pad
        return name

    def tobytes(self, header: dict) -> bytes:
        """MAGIC, the header length, the JSON header (with the array table) padded to 4, the arrays."""
        text = json.dumps({**header, "arrays": self.arrays}, sort_keys=True, separators=(",", ":")).encode(
            "ascii"
        )
        text += b" " * ((-len(text)) % 4)
        return MAGIC + struct.pack("<I", len(text)) + text + b"".join(self.chunks)


DATA_FILE = "vae-2d.bin"
SCRIPT_FILE = "vae-2d.js"
# The file:// copy is ``SCRIPT_PREFIX + '"' + base64 + '"' + SCRIPT_SUFFIX``; latent-explorer.js
# reads it from window.vaeExplorerData under the script's own URL.
SCRIPT_PREFIX = "(window.vaeExplorerData = window.vaeExplorerData || {})[document.currentScript.src] =\n"
SCRIPT_SUFFIX = ";\n"
FALLBACK_PNG = "decoded-grid.png"
DEFAULT_OUT = Path("book") / "_static" / "explorer"  # relative to the repository root
MAX_BYTES = 1_200_000  # encoder + decoder + points + picks of the site's pack
CONDITIONAL_DATA_FILE = "cvae-2d.bin"  # the decoder of cvae-2d, loaded when a digit is chosen
CONDITIONAL_SCRIPT_FILE = "cvae-2d.js"
CONDITIONAL_MAX_BYTES = 600_000
GROUP = 64  # inputs per int8 scale
SMALL = 4096  # layers with at most this many weights (2 -> 256, 256 -> 4) stay float32
PICKS = 10  # clickable digits per class
# Paul Tol's muted palette (as plots.DIGIT_COLOURS), with 1, 2, 4 and 5 darkened (same hue)
# to a contrast of at least 3.3:1 on white (WCAG 1.4.11 asks 3:1 for graphics).
EXPLORER_COLOURS = (
    "#332288",
    "#6293AB",
    "#3F9C8D",
    "#117733",
    "#919130",
    "#988D52",
    "#CC6677",
    "#882255",
    "#AA4499",
    "#777777",
)


def weights_sha256(model: LatentModel) -> str:
    """SHA-256 of a model's weights, independent of how the checkpoint file was written.

    Hashes, for every entry of ``model.state_dict()`` in sorted order, its name, its shape
    and its values as little-endian float32 bytes.
    """
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        array = np.ascontiguousarray(tensor.detach().cpu().float().numpy(), dtype="<f4")
        h.update(f"{name}:{list(array.shape)};".encode())
        h.update(array.tobytes())
    return h.hexdigest()


# ------------------------------------------------------------------------- quantisation


def _gptq(
    w: np.ndarray, x: np.ndarray, group: int = GROUP, damp: float = 0.01
) -> tuple[np.ndarray, np.ndarray]:
    """int8 codes [out, in] and float16 scales [out, ceil(in / group)] of ``w`` for inputs ``x``."""
    w = w.astype(np.float64).copy()
    n_out, n_in = w.shape
    h = x.T @ x
    h += damp * max(float(np.mean(np.diag(h))), 1e-8) * np.eye(n_in)
    u = np.linalg.cholesky(np.linalg.inv(h)).T  # upper Cholesky factor of H^-1
    codes = np.zeros((n_out, n_in), dtype=np.int8)
    scales = np.zeros((n_out, -(-n_in // group)), dtype=np.float16)
    for j in range(n_in):
        if j % group == 0:
            s = np.abs(w[:, j : j + group]).max(1) / 127
            s = np.where(s > 0, s, 1.0).astype(np.float16)
            scales[:, j // group] = s
            s64 = s.astype(np.float64)
        q = np.clip(np.round(w[:, j] / s64), -127, 127)
        codes[:, j] = q
        err = (w[:, j] - q * s64) / u[j, j]
        w[:, j + 1 :] -= np.outer(err, u[j, j + 1 :])
    return codes, scales


def _dequantize(codes: np.ndarray, scales: np.ndarray, group: int = GROUP) -> np.ndarray:
    return codes.astype(np.float32) * np.repeat(scales.astype(np.float32), group, axis=1)[:, : codes.shape[1]]


def _linears(seq) -> list[torch.nn.Linear]:
    return [m for m in seq if isinstance(m, torch.nn.Linear)]


def _pack_layers(seq, calib: np.ndarray | None, add) -> list[dict]:
    """Layers of an MLP (Linear, ReLU, ...) into the pack; quantised when ``calib`` (inputs) is given."""
    linears = _linears(seq)
    out: list[dict] = []
    h_q = h_f = None if calib is None else calib.astype(np.float64)
    for i, layer in enumerate(linears):
        w = layer.weight.detach().cpu().double().numpy()
        b = layer.bias.detach().cpu().double().numpy()
        name = f"{len(out)}"
        entry = {"in": layer.in_features, "out": layer.out_features}
        if calib is None or w.size <= SMALL:
            if calib is not None:  # a tiny layer stays float32; the next layer sees its exact outputs
                h_q, h_f = h_q @ w.T + b, h_f @ w.T + b
                if i < len(linears) - 1:
                    h_q, h_f = np.maximum(h_q, 0), np.maximum(h_f, 0)
            entry["weight"] = add(w.astype(np.float32), "float32")
            entry["bias"] = add(b.astype(np.float32), "float32")
        else:
            assert h_q is not None  # calib is not None here
            codes, scales = _gptq(w, h_q)
            wq = _dequantize(codes, scales).astype(np.float64)
            f_out = h_f @ w.T + b
            q_out = h_q @ wq.T
            bq = b + (f_out - b - q_out).mean(0)  # bias correction: the mean error of the rounding
            entry["weight"] = add(codes, "int8")
            entry["scales"] = add(scales, "float16")
            entry["group"] = GROUP
            entry["bias"] = add(bq.astype(np.float32), "float32")
            h_q, h_f = q_out + bq, f_out
            if i < len(linears) - 1:
                h_q, h_f = np.maximum(h_q, 0), np.maximum(h_f, 0)
        del name
        out.append(entry)
    return out


def _view(codes: np.ndarray) -> float:
    """Half-width of the square latent map: covers 99.8 % of the points and +-3 (the prior)."""
    q = np.quantile(np.abs(codes), 0.998, axis=0).max()
    return float(max(3.0, math.ceil(q * 2) / 2))


def _pick_indices(labels: np.ndarray, n_points: int) -> np.ndarray:
    if (labels >= 10).all():
        return np.arange(min(n_points, 10 * PICKS))
    picks = [np.flatnonzero(labels == d)[:PICKS] for d in range(10)]
    return np.sort(np.concatenate(picks))


def pack_model(
    model: LatentModel,
    images=None,
    labels=None,
    *,
    quantize: bool = True,
    calibration=None,
    source: dict | None = None,
) -> bytes:
    """The explorer's pack (see the module docstring) of ``model`` with ``images`` on its map.

    ``model``: a VAE or autoencoder with a 2-D latent space and a Bernoulli decoder.
    ``images``/``labels``: the digits placed on the map (default: the 2,000 test digits of the
    shipped subset). ``quantize``: int8 weights (GPTQ on ``calibration`` images, default the
    shipped training subset; a few seconds) or float32 (what the notebook widget sends).
    """
    from ..data import load_mnist, to_tensor
    from ..latent import encode_dataset
    from ..models import VAE

    if not isinstance(model, LatentModel):
        raise TypeError(f"model must be a vae_lib VAE or Autoencoder, got {type(model).__name__}")
    if model.latent_dim != 2:
        raise ValueError(
            f"model must have a 2-D latent space (latent_dim=2), got latent_dim={model.latent_dim}"
        )
    if model.likelihood != "bernoulli":
        raise ValueError(f"model must have a Bernoulli decoder (logits -> sigmoid), got {model.likelihood!r}")
    if images is None:
        if labels is not None:
            raise ValueError("labels: give images too (labels alone have nothing to label)")
        images, labels = load_mnist("test", subset="small")
    x = images if isinstance(images, torch.Tensor) and images.is_floating_point() else to_tensor(images)
    x = x.reshape(len(x), -1).float().cpu()
    model = model.cpu().eval()
    codes = encode_dataset(model, x).numpy().astype(np.float32)
    if labels is None:
        labels = np.full(len(codes), 255, dtype=np.int64)
    labels = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels).astype(np.int64)
    if len(labels) != len(codes):
        raise ValueError(
            f"labels must have one entry per image: {len(labels)} labels for {len(codes)} images"
        )
    if labels.min() < 0 or labels.max() > 255:
        raise ValueError("labels must be integers in 0..9 (255 for unlabelled)")

    pack = _PackWriter()
    add = pack.add

    enc_calib = dec_calib = None
    if quantize:
        cal = calibration
        if cal is None:
            cal, _ = load_mnist("train", subset="small")
        cal_x = (
            to_tensor(cal).reshape(len(cal), -1).float() if not isinstance(cal, torch.Tensor) else cal.float()
        )
        enc_calib = cal_x.numpy()
        cal_codes = encode_dataset(model, cal_x).numpy()
        half = _view(codes) + 1.0
        grid = np.random.default_rng(0).uniform(-half, half, size=(len(cal_codes), 2))
        dec_calib = np.concatenate([cal_codes, grid])
    is_vae = isinstance(model, VAE)
    encoder = _pack_layers(model.encoder.net, enc_calib, add)
    decoder = _pack_layers(model.decoder.net, dec_calib, add)
    picks = _pick_indices(labels, len(codes))
    grey = np.clip(np.round(x[picks].numpy() * 15), 0, 15).astype(np.uint8)  # 4-bit grey levels
    packed = (grey[:, 0::2] << 4) | grey[:, 1::2]
    half = _view(codes)
    header = {
        "format": FORMAT,
        "model": {
            **(source or {}),
            "kind": model.kind,
            "config": model.config,
            "weights_sha256": weights_sha256(model),
            "quantized": bool(quantize),
            "encoder_output": "mu_logvar" if is_vae else "z",
        },
        "encoder": {"hidden_activation": "relu", "layers": encoder},
        "decoder": {"hidden_activation": "relu", "output": "sigmoid", "layers": decoder},
        "points": {
            "count": len(codes),
            "z": add(codes, "float32"),
            "labels": add(labels.astype(np.uint8), "uint8"),
        },
        "picks": {
            "count": len(picks),
            "index": add(picks.astype(np.uint16), "uint16"),
            "pixels": add(packed, "uint8"),
            "levels": 15,
        },
        "view": {"z1": [-half, half], "z2": [-half, half]},
        "colours": list(EXPLORER_COLOURS),
    }
    return pack.tobytes(header)


def pack_conditional_decoder(
    model, *, quantize: bool = True, calibration=None, source: dict | None = None
) -> bytes:
    """The decoder pack of a 2-D :class:`vae_lib.ConditionalVAE` (see the module docstring).

    Its decoder's input is z (2 values) then the one-hot digit (10 values). ``quantize``: int8
    weights by GPTQ on the codes of ``calibration`` images (default the shipped training subset)
    with their labels, and as many random points of the map with random digits.
    """
    from ..conditional import N_CLASSES, ConditionalVAE
    from ..data import load_mnist, to_tensor

    if not isinstance(model, ConditionalVAE):
        raise TypeError(f"model must be a vae_lib.ConditionalVAE, got {type(model).__name__}")
    if model.latent_dim != 2:
        raise ValueError(
            f"model must have a 2-D latent space (latent_dim=2), got latent_dim={model.latent_dim}"
        )
    model = model.cpu().eval()
    pack = _PackWriter()
    add = pack.add

    calib = None
    if quantize:
        if calibration is None:
            images, labels = load_mnist("train", subset="small")
        else:
            images, labels = calibration
        x = to_tensor(images).reshape(len(images), -1).float()
        y = torch.as_tensor(np.asarray(labels), dtype=torch.long)
        with torch.no_grad():
            mu, _ = model.encode(x, y)
        eye = np.eye(N_CLASSES)
        rng = np.random.default_rng(0)
        half = max(3.0, float(np.abs(mu.numpy()).max())) + 1.0
        grid = rng.uniform(-half, half, size=(len(mu), 2))
        calib = np.concatenate(
            [
                np.concatenate([mu.numpy(), eye[y.numpy()]], 1),
                np.concatenate([grid, eye[rng.integers(0, N_CLASSES, len(mu))]], 1),
            ]
        )
    decoder = _pack_layers(model.decoder, calib, add)
    header = {
        "format": FORMAT,
        "model": {
            **(source or {}),
            "kind": model.kind,
            "config": model.config,
            "weights_sha256": weights_sha256(model),
            "quantized": bool(quantize),
            "part": "decoder",
        },
        "decoder": {
            "hidden_activation": "relu",
            "output": "sigmoid",
            "input": "z, one-hot digit",
            "layers": decoder,
        },
        "classes": N_CLASSES,
    }
    return pack.tobytes(header)


def _script(data: bytes) -> bytes:
    return (SCRIPT_PREFIX + '"' + base64.b64encode(data).decode("ascii") + '"' + SCRIPT_SUFFIX).encode(
        "ascii"
    )


def read_pack(data: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    """(header, arrays) of a pack, the arrays as numpy."""
    if data[:4] != MAGIC:
        raise ValueError(f"data: not a latent-explorer pack (expected format {FORMAT!r})")
    (n,) = struct.unpack("<I", data[4:8])
    header = json.loads(data[8 : 8 + n])
    if header.get("format") != FORMAT:
        raise ValueError(f"data: not a latent-explorer pack (expected format {FORMAT!r})")
    base = 8 + n
    arrays = {}
    for name, a in header["arrays"].items():
        raw = data[base + a["offset"] : base + a["offset"] + a["nbytes"]]
        arrays[name] = np.frombuffer(raw, dtype=np.dtype(a["dtype"]).newbyteorder("<")).reshape(a["shape"])
    return header, arrays


def _fallback_png(model: LatentModel) -> bytes:
    from .plots import decoded_grid

    fig = decoded_grid(model, n=15, title="Decoded digits on a 15 x 15 grid of the 2-D latent space")
    fig.set_size_inches(6.4, 6.4)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    return buf.getvalue()


def export_explorer(
    model: LatentModel | None = None, out_dir=DEFAULT_OUT, *, images=None, labels=None
) -> dict:
    """Write the site explorer's pack (``vae-2d.bin``, its ``file://`` copy ``vae-2d.js``), the
    decoder pack of the shipped ``cvae-2d`` (``cvae-2d.bin``, ``cvae-2d.js``: the "choose the
    digit" mode) and the fallback PNG into ``out_dir``; return a summary.

    ``model``: default the shipped ``vae-2d`` checkpoint. ``images``/``labels``: the digits placed
    on the map (default: the 2,000 test digits of the shipped subset). ``out_dir`` defaults to
    ``book/_static/explorer`` relative to the current folder (the repository root).
    """
    from .. import pretrained

    source: dict = {}
    if model is None:
        model = cast(LatentModel, pretrained.load("vae-2d"))  # checked below
        checkpoint = pretrained.path("vae-2d")
        source = {
            "name": "vae-2d",
            "checkpoint": "vae_lib/_weights/vae-2d.pt",
            "checkpoint_sha256": hashlib.sha256(checkpoint.read_bytes()).hexdigest(),
        }
    if not isinstance(model, LatentModel):
        raise TypeError(
            f"model must be a vae_lib VAE or Autoencoder (or None for vae-2d), got {type(model).__name__}"
        )
    data = pack_model(model, images, labels, quantize=True, source=source)
    if len(data) > MAX_BYTES:
        raise ValueError(f"the export would be {len(data):,} bytes, over the {MAX_BYTES:,}-byte budget")
    script = (SCRIPT_PREFIX + '"' + base64.b64encode(data).decode("ascii") + '"' + SCRIPT_SUFFIX).encode(
        "ascii"
    )
    cvae_checkpoint = pretrained.path("cvae-2d")
    cdata = pack_conditional_decoder(
        pretrained.load("cvae-2d"),
        source={
            "name": "cvae-2d",
            "checkpoint": "vae_lib/_weights/cvae-2d.pt",
            "checkpoint_sha256": hashlib.sha256(cvae_checkpoint.read_bytes()).hexdigest(),
        },
    )
    if len(cdata) > CONDITIONAL_MAX_BYTES:
        raise ValueError(
            f"the conditional decoder would be {len(cdata):,} bytes, over the {CONDITIONAL_MAX_BYTES:,}-byte budget"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    png = _fallback_png(model)
    write_atomic(out / DATA_FILE, lambda f: f.write(data))
    write_atomic(out / SCRIPT_FILE, lambda f: f.write(script))
    write_atomic(out / CONDITIONAL_DATA_FILE, lambda f: f.write(cdata))
    write_atomic(out / CONDITIONAL_SCRIPT_FILE, lambda f: f.write(_script(cdata)))
    write_atomic(out / FALLBACK_PNG, lambda f: f.write(png))
    header, _ = read_pack(data)
    return {
        "data": str(out / DATA_FILE),
        "data_bytes": len(data),
        "script": str(out / SCRIPT_FILE),
        "fallback": str(out / FALLBACK_PNG),
        "conditional_data": str(out / CONDITIONAL_DATA_FILE),
        "conditional_bytes": len(cdata),
        "conditional_script": str(out / CONDITIONAL_SCRIPT_FILE),
        "fallback_bytes": len(png),
        "weights_sha256": header["model"]["weights_sha256"],
        "points": header["points"]["count"],
        "picks": header["picks"]["count"],
        "quantized": True,
        "view": header["view"],
    }


def read_export(path) -> dict:
    """The export's header with its arrays (``header["arrays_np"]``), checked to be one (``FORMAT``)."""
    path = Path(path)
    if path.is_dir():
        path = path / DATA_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"path: no explorer export at {path}; run `python -m vae_lib export-explorer`"
        )
    header, arrays = read_pack(path.read_bytes())
    header["arrays_np"] = arrays
    return header


def decode_array(header: dict, name: str) -> np.ndarray:
    """The array ``name`` of a header returned by :func:`read_export`."""
    return header["arrays_np"][name]


def _module(header: dict, part: str) -> torch.nn.Sequential:
    modules: list[torch.nn.Module] = []
    layers = header[part]["layers"]
    for i, layer in enumerate(layers):
        lin = torch.nn.Linear(layer["in"], layer["out"])
        w = decode_array(header, layer["weight"])
        if "scales" in layer:
            w = _dequantize(w, decode_array(header, layer["scales"]), layer["group"])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.array(w, dtype=np.float32)))
            lin.bias.copy_(torch.from_numpy(np.array(decode_array(header, layer["bias"]), dtype=np.float32)))
        modules.append(lin)
        if i < len(layers) - 1:
            modules.append(torch.nn.ReLU())
    return torch.nn.Sequential(*modules).eval()


def decoder_from_export(header: dict) -> torch.nn.Sequential:
    """The exported decoder as a torch module (Linear/ReLU ..., logits, no sigmoid): for tests."""
    return _module(header, "decoder")


def encoder_from_export(header: dict) -> torch.nn.Sequential:
    """The exported encoder as a torch module (output: mu and logvar side by side): for tests."""
    return _module(header, "encoder")

"""Export of the site's kernel-free latent explorer (``book/_static/latent-explorer.js``).

    python -m vae_lib export-explorer                 # -> book/_static/explorer/ (run from the repo root)

writes two files:

``vae-2d.js``
    Everything the browser needs, as one JSON object (``FORMAT``) wrapped in a line of
    JavaScript that registers it (``SCRIPT_PREFIX`` ... ``SCRIPT_SUFFIX``), so that the page
    loads it with a ``<script>`` element: that works when the built site is opened straight
    from disk (``file://``), where browsers refuse ``fetch``. The object holds the decoder of the
    shipped ``vae-2d`` checkpoint (Linear 2->256, ReLU, Linear 256->512, ReLU,
    Linear 512->784, then a sigmoid on the logits) as base64 little-endian float16 arrays
    (the checkpoint stores float16, so this loses nothing: ``model.lossless``), the means
    of q(z|x) of the 2,000 test digits of the shipped subset (float32) with their labels
    (uint8), the square view of the latent map, the digit colours, and the SHA-256 of the
    weights it was made from (``model.weights_sha256``, see :func:`weights_sha256`), so
    that a test can tell when the export is stale.
``decoded-grid.png``
    The static figure shown where JavaScript does not run (and in print):
    ``plots.decoded_grid`` of the same model.

The export is deterministic: the same checkpoint gives the same bytes (no timestamps,
sorted keys, fixed PNG metadata). Re-run it whenever ``vae_lib/_weights/vae-2d.pt`` changes;
``tests/test_explorer.py`` fails until you do.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import math
from pathlib import Path

import numpy as np
import torch

from ..checkpoint import write_atomic
from ..models import _LatentModel

__all__ = ["FORMAT", "DATA_FILE", "FALLBACK_PNG", "DEFAULT_OUT", "export_explorer", "weights_sha256",
           "read_export", "decode_array", "decoder_from_export"]

FORMAT = "vae_lib-latent-explorer-v1"
DATA_FILE = "vae-2d.js"
# The data file is ``SCRIPT_PREFIX + json + SCRIPT_SUFFIX``; latent-explorer.js reads the object
# from window.vaeExplorerData under the script's own URL.
SCRIPT_PREFIX = ("(window.vaeExplorerData = window.vaeExplorerData || {})"
                 "[document.currentScript.src] =\n")
SCRIPT_SUFFIX = ";\n"
FALLBACK_PNG = "decoded-grid.png"
DEFAULT_OUT = Path("book") / "_static" / "explorer"  # relative to the repository root
MAX_BYTES = 2_000_000


def weights_sha256(model: _LatentModel) -> str:
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


def _array(a: np.ndarray, dtype: str) -> dict:
    a = np.ascontiguousarray(a, dtype=np.dtype(dtype).newbyteorder("<"))
    return {"dtype": dtype, "shape": list(a.shape), "data": base64.b64encode(a.tobytes()).decode("ascii")}


def decode_array(entry: dict) -> np.ndarray:
    """An array of the export (``{"dtype", "shape", "data"}``) back as numpy."""
    raw = base64.b64decode(entry["data"])
    return np.frombuffer(raw, dtype=np.dtype(entry["dtype"]).newbyteorder("<")).reshape(entry["shape"])


def _decoder_layers(model: _LatentModel) -> tuple[list[dict], bool]:
    linears = [m for m in model.decoder.net if isinstance(m, torch.nn.Linear)]
    layers, lossless = [], True
    for layer in linears:
        w = layer.weight.detach().cpu().float().numpy()
        b = layer.bias.detach().cpu().float().numpy()
        for a in (w, b):
            lossless &= bool(np.array_equal(a.astype(np.float16).astype(np.float32), a))
        layers.append({"in": layer.in_features, "out": layer.out_features,
                       "weight": _array(w, "float16"), "bias": _array(b, "float16")})
    return layers, lossless


def _view(codes: np.ndarray) -> float:
    """Half-width of the square latent map: covers 99.8 % of the points and +-3 (the prior)."""
    q = np.quantile(np.abs(codes), 0.998, axis=0).max()
    return float(max(3.0, math.ceil(q * 2) / 2))


def _fallback_png(model: _LatentModel) -> bytes:
    from .plots import decoded_grid

    fig = decoded_grid(model, n=15, title="Decoded digits on a 15 x 15 grid of the 2-D latent space")
    fig.set_size_inches(6.4, 6.4)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    return buf.getvalue()


def export_explorer(model: _LatentModel | None = None, out_dir=DEFAULT_OUT, *, images=None,
                    labels=None) -> dict:
    """Write the site explorer's data file and fallback PNG into ``out_dir``; return a summary.

    ``model``: a VAE or autoencoder with a 2-D latent space and the default MLP decoder
    (default: the shipped ``vae-2d`` checkpoint, ``pretrained.load("vae-2d")``).
    ``images``/``labels``: the digits placed on the map (default: the 2,000 test digits of
    the shipped subset, ``load_mnist("test", subset="small")``). ``out_dir`` defaults to
    ``book/_static/explorer`` relative to the current folder (the repository root).
    """
    from .. import pretrained
    from ..data import load_mnist
    from ..latent import encode_dataset
    from .plots import DIGIT_COLOURS

    source: dict = {}
    if model is None:
        model = pretrained.load("vae-2d")
        checkpoint = pretrained.path("vae-2d")
        source = {"name": "vae-2d", "checkpoint": "vae_lib/_weights/vae-2d.pt",
                  "checkpoint_sha256": hashlib.sha256(checkpoint.read_bytes()).hexdigest()}
    if not isinstance(model, _LatentModel):
        raise TypeError(f"model must be a vae_lib VAE or Autoencoder (or None for vae-2d), got {type(model).__name__}")
    if model.latent_dim != 2:
        raise ValueError(f"model must have a 2-D latent space, got latent_dim={model.latent_dim}")
    if model.likelihood != "bernoulli":
        raise ValueError(f"model must have a Bernoulli decoder (logits -> sigmoid), got {model.likelihood!r}")
    if images is None:
        if labels is not None:
            raise ValueError("labels: give images too (labels alone have nothing to label)")
        images, labels = load_mnist("test", subset="small")
        points_source = "load_mnist('test', subset='small')"
    else:
        points_source = "images given to export_explorer"
    model = model.cpu().eval()
    codes = encode_dataset(model, images).numpy().astype(np.float32)
    if labels is None:
        labels = np.full(len(codes), 255, dtype=np.uint8)  # 255: no label
    labels = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels)
    if len(labels) != len(codes):
        raise ValueError(f"labels must have one entry per image: {len(labels)} labels for {len(codes)} images")
    if labels.min() < 0 or labels.max() > 255:
        raise ValueError("labels must be integers in 0..9 (255 for unlabelled)")
    layers, lossless = _decoder_layers(model)
    half = _view(codes)
    header = {
        "format": FORMAT,
        "model": {**source, "kind": model.kind, "config": model.config,
                  "weights_sha256": weights_sha256(model), "lossless": lossless},
        "decoder": {"hidden_activation": "relu", "output": "sigmoid", "layers": layers},
        "points": {"source": points_source, "count": int(len(codes)), "z": _array(codes, "float32"),
                   "labels": _array(labels.astype(np.uint8), "uint8")},
        "view": {"z1": [-half, half], "z2": [-half, half]},
        "colours": list(DIGIT_COLOURS),
        "fallback_png": FALLBACK_PNG,
    }
    data = (SCRIPT_PREFIX + json.dumps(header, sort_keys=True, separators=(",", ":")) + SCRIPT_SUFFIX).encode("ascii")
    if len(data) > MAX_BYTES:
        raise ValueError(f"the export would be {len(data):,} bytes, over the {MAX_BYTES:,}-byte budget")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    png = _fallback_png(model)
    write_atomic(out / DATA_FILE, lambda f: f.write(data))
    write_atomic(out / FALLBACK_PNG, lambda f: f.write(png))
    return {"data": str(out / DATA_FILE), "data_bytes": len(data), "fallback": str(out / FALLBACK_PNG),
            "fallback_bytes": len(png), "weights_sha256": header["model"]["weights_sha256"],
            "points": int(len(codes)), "lossless": lossless, "view": header["view"]}


def read_export(path) -> dict:
    """The export's JSON object, checked to be one (``FORMAT``)."""
    path = Path(path)
    if path.is_dir():
        path = path / DATA_FILE
    if not path.is_file():
        raise FileNotFoundError(f"path: no explorer export at {path}; run `python -m vae_lib export-explorer`")
    text = path.read_text(encoding="ascii")
    if not (text.startswith(SCRIPT_PREFIX) and text.endswith(SCRIPT_SUFFIX)):
        raise ValueError(f"path: {path} is not a latent-explorer export (expected format {FORMAT!r})")
    header = json.loads(text[len(SCRIPT_PREFIX):-len(SCRIPT_SUFFIX)])
    if header.get("format") != FORMAT:
        raise ValueError(f"path: {path} is not a latent-explorer export (expected format {FORMAT!r})")
    return header


def decoder_from_export(header: dict) -> torch.nn.Sequential:
    """The exported decoder as a torch module (Linear/ReLU ..., no sigmoid): for tests."""
    modules: list[torch.nn.Module] = []
    for i, layer in enumerate(header["decoder"]["layers"]):
        lin = torch.nn.Linear(layer["in"], layer["out"])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(decode_array(layer["weight"]).astype(np.float32)))
            lin.bias.copy_(torch.from_numpy(decode_array(layer["bias"]).astype(np.float32)))
        modules.append(lin)
        if i < len(header["decoder"]["layers"]) - 1:
            modules.append(torch.nn.ReLU())
    return torch.nn.Sequential(*modules).eval()


"""MNIST for the lessons (every lesson from 14-1 on starts with ``load_mnist``).

MNIST comes as four gzip-compressed IDX files: a big-endian header followed by raw uint8
pixels or labels. This module

1. parses them with numpy (``parse_idx``, ``read_idx``),
2. checks every file against the SHA-256 of its *decompressed* content (``SHA256``), so a
   truncated or corrupted file is never mistaken for data,
3. downloads missing files from the canonical mirrors (``download``): into a temporary file
   first, renamed into place only once it has verified, so a failed download never leaves a
   file that looks valid,
4. falls back to a small class-balanced subset shipped inside the package (1,000 training and
   200 test images per digit), so that everything runs with no network, and
5. turns images into the float tensors the models eat (``to_tensor``): the one place where
   the pixel scaling ``x / 255`` is defined.

Where the files live: the ``root`` argument, else ``$VAE_LIB_DATA``, else a per-user cache
directory (``default_root()``). Nothing happens at import: no download, no directory created.

MNIST database of handwritten digits, Yann LeCun, Corinna Cortes, Christopher J.C. Burges,
licensed CC BY-SA 3.0.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.client
import io
import math
import os
import time
import urllib.request
import warnings
import zlib
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from . import validation

__all__ = [
    "MNIST_FILES",
    "SHA256",
    "MIRRORS",
    "SUBSET_FILE",
    "SUBSET_SHA256",
    "default_root",
    "parse_idx",
    "read_idx",
    "download",
    "load_mnist",
    "to_tensor",
]

# split -> (images file, labels file), as named on the mirrors.
MNIST_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

# SHA-256 of the DECOMPRESSED content of each file. (The gzip wrapper differs between
# mirrors and re-packagings; the IDX bytes inside do not.)
SHA256: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte.gz": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte.gz": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte.gz": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

# Tried in this order: the mirrors torchvision and TensorFlow download from, then the
# original site, which often refuses automated downloads.
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

# The subset shipped in the package, built by scripts/make_subset.py (see _data/README.md).
SUBSET_FILE = "mnist-small.npz"
SUBSET_SHA256 = "6da9233031ff526fa9f1b1a3556cfc95802372b8dd91ee936341228ee970123c"

# Size bounds for downloads: the exact size of each file's decompressed content, plus room
# for a gzip wrapper (gzip never grows MNIST's bytes by more than its small headers).
DECOMPRESSED_SIZES: dict[str, int] = {
    "train-images-idx3-ubyte.gz": 47_040_016,
    "train-labels-idx1-ubyte.gz": 60_008,
    "t10k-images-idx3-ubyte.gz": 7_840_016,
    "t10k-labels-idx1-ubyte.gz": 10_008,
}
GZIP_SLACK = 64 * 1024

SPLITS = ("train", "test")
SPLIT_SIZES = {"train": 60_000, "test": 10_000}
SUBSETS = (None, "full", "small")
IMAGE_SHAPE = (28, 28)
IMAGE_SIZE = 28 * 28

_HOW_TO_GET_FULL = (
    "To use the full MNIST, set the environment variable VAE_LIB_DATA (or pass root=) to a "
    "folder that holds the four IDX files ({files}), or allow load_mnist(download=True) to "
    "fetch them."
)
_CHUNK = 1 << 20  # bytes read at a time when streaming a download or hashing a file


def _how_to_get_full() -> str:
    files = ", ".join(name for pair in MNIST_FILES.values() for name in pair)
    return _HOW_TO_GET_FULL.format(files=files)


# --------------------------------------------------------------------------------------
# Where the files live
# --------------------------------------------------------------------------------------


def default_root() -> Path:
    """The folder ``load_mnist`` uses when no ``root`` is given.

    ``$VAE_LIB_DATA`` if set, else ``$XDG_CACHE_HOME/vae_lib/mnist``, else
    ``~/.cache/vae_lib/mnist``. Only computes the path; creates nothing.
    """
    env = os.environ.get("VAE_LIB_DATA")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME")
    base = Path(cache).expanduser() if cache else Path.home() / ".cache"
    return base / "vae_lib" / "mnist"


def _resolve_root(root) -> Path:
    """``root`` as an absolute path; ``None`` means ``default_root()``."""
    if root is None:
        return default_root().resolve()
    if not isinstance(root, (str, os.PathLike)):
        raise ValueError(f"root must be a path (str or os.PathLike) or None, got {type(root).__name__}")
    return Path(root).expanduser().resolve()


# --------------------------------------------------------------------------------------
# The IDX format
# --------------------------------------------------------------------------------------

_IDX_UINT8 = 0x08
_IDX_NDIMS = (1, 3)  # labels [N] and images [N, 28, 28]


def parse_idx(data: bytes | memoryview, *, name: str = "data") -> np.ndarray:
    """Parse the decompressed bytes of an MNIST IDX file into a uint8 array.

    Layout: two zero bytes, a dtype code (0x08 = uint8), the number of dimensions, one
    big-endian uint32 per dimension, then the values in C order. MNIST uses magic 0x00000803
    (images, ``[N, 28, 28]``) and 0x00000801 (labels, ``[N]``). Anything else, a short
    payload or extra bytes at the end raise a ``ValueError`` that names ``name``.
    """
    data = memoryview(data).cast("B")
    if len(data) < 4:
        raise ValueError(f"{name}: truncated IDX file, expected a 4-byte magic number, got {len(data)} bytes")
    magic = int.from_bytes(data[:4], "big")
    zero, dtype_code, ndim = magic >> 16, data[2], data[3]
    if zero != 0:
        hint = " (these bytes are gzip-compressed: use read_idx)" if data[:2] == b"\x1f\x8b" else ""
        raise ValueError(
            f"{name}: bad magic number 0x{magic:08x}, expected 0x00000803 (images) "
            f"or 0x00000801 (labels){hint}"
        )
    if dtype_code != _IDX_UINT8:
        raise ValueError(f"{name}: IDX dtype code 0x{dtype_code:02x}, expected 0x08 (uint8)")
    if ndim not in _IDX_NDIMS:
        raise ValueError(
            f"{name}: IDX file with {ndim} dimensions (magic 0x{magic:08x}), expected "
            "0x00000803 (uint8, 3-D images) or 0x00000801 (uint8, 1-D labels)"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{name}: truncated IDX header, expected {header} bytes, got {len(data)}")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + math.prod(shape)
    if len(data) < expected:
        raise ValueError(
            f"{name}: truncated IDX payload, shape {shape} needs {expected} bytes, got {len(data)}"
        )
    if len(data) > expected:
        raise ValueError(
            f"{name}: {len(data) - expected} trailing bytes after the IDX payload "
            f"(shape {shape} needs {expected} bytes, got {len(data)})"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape).copy()


def _decompressed_bytes(path: Path) -> bytes:
    """The file's content, gunzipped if its name ends in ``.gz``; ValueError if it won't gunzip."""
    raw = path.read_bytes()
    if path.suffix != ".gz":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:  # BadGzipFile is an OSError
        raise ValueError(f"could not decompress {path}: {err} (the file is corrupt or truncated)") from err


def read_idx(path, expected_sha256: str | None = None) -> np.ndarray:
    """Read one IDX file (gzip-compressed if it ends in ``.gz``) into a uint8 array.

    With ``expected_sha256``, the decompressed bytes must have that SHA-256, else
    ``ValueError("checksum mismatch for <path>: ...")``. The file is only read, never changed.
    """
    path = Path(path)
    data = _decompressed_bytes(path)
    if expected_sha256 is not None:
        got = hashlib.sha256(data).hexdigest()
        if got != expected_sha256.lower():
            raise ValueError(
                f"checksum mismatch for {path}: expected SHA-256 {expected_sha256}, "
                f"got {got} (the file is corrupt, truncated or not this MNIST file)"
            )
    return parse_idx(data, name=str(path))


# --------------------------------------------------------------------------------------
# Downloading, atomically
# --------------------------------------------------------------------------------------


def _sha256_of_content(path: Path, compressed: bool) -> str:
    """SHA-256 of the file's content, gunzipped on the fly when ``compressed``."""
    digest = hashlib.sha256()
    opener = gzip.open if compressed else open
    with opener(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def max_download_bytes(filename: str) -> int:
    """The most bytes ``download`` accepts for ``filename`` before giving up (the size bound)."""
    return DECOMPRESSED_SIZES.get(filename, 0) + GZIP_SLACK


def _fetch(url: str, dest, timeout: float, deadline: float, max_bytes: int) -> None:
    """Stream ``url`` into the open binary file ``dest``; raise if it ends early, runs past the
    monotonic time ``deadline`` or sends more than ``max_bytes``.

    ``timeout`` bounds each wait for data; reads return whatever has arrived (``read1``), so a
    server that trickles bytes is still stopped at the deadline, at most ``timeout`` late.
    """
    with urllib.request.urlopen(url, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        if length is not None and int(length) > max_bytes:
            raise OSError(
                f"the server announces {int(length):,} bytes, more than the {max_bytes:,} this file can have"
            )
        received = 0
        while chunk := response.read1(_CHUNK):
            received += len(chunk)
            if received > max_bytes:
                raise OSError(
                    f"more than {max_bytes:,} bytes received, more than this file can have: stopped"
                )
            dest.write(chunk)
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"the download took longer than its deadline ({received:,} bytes received): stopped"
                )
    if length is not None and received != int(length):
        raise OSError(f"connection closed after {received} of {int(length)} bytes")


def _verify_file(path: Path, filename: str, expected: str) -> None:
    """ValueError unless the (decompressed) content of ``path`` has SHA-256 ``expected``."""
    try:
        got = _sha256_of_content(path, compressed=filename.endswith(".gz"))
    except (OSError, EOFError, zlib.error) as err:
        raise ValueError(f"could not decompress {filename}: {err}") from err
    if got != expected:
        raise ValueError(f"checksum mismatch for {filename}: expected SHA-256 {expected}, got {got}")


def download(filename: str, root, *, mirrors=MIRRORS, timeout: float = 30.0, deadline: float = 600.0) -> Path:
    """Download one MNIST file into ``root`` and return its path; verified, atomic, bounded.

    Each mirror in turn streams into a temporary ``.NAME.PID.*.part`` file in ``root``; its
    decompressed content must match ``SHA256[filename]`` before it is renamed to
    ``root / filename``. Whatever goes wrong with one mirror (HTTP error, dropped connection,
    bad gzip, checksum mismatch, more bytes than the file can have (``max_download_bytes``),
    longer than ``deadline`` seconds for this mirror, ``timeout`` seconds without data), the
    temporary file is deleted and the next mirror is tried; if all fail, a ``RuntimeError``
    lists each mirror's error. Temporary files left by a killed process are removed first.

    An existing file at ``root / filename`` is never overwritten or deleted: if it verifies it
    is returned without downloading; if not, ``ValueError`` asks you to delete it.
    """
    # Why not pooch: it would give checksums, atomic renames and retries, but it checks the
    # hash of the downloaded (compressed) bytes, which differ between mirrors, and it has no
    # overall deadline per file (requests' timeout bounds each read only) and no size bound.
    # Both are needed here (a server trickling a byte every 0.3 s, or sending forever), so the
    # downloader stays hand-written: urllib, read1, the shared atomic writer.
    from .checkpoint import write_atomic  # here, not at the top: checkpoint imports models -> data

    if filename not in SHA256:
        raise ValueError(
            f"filename must be one of {sorted(SHA256)} (files with a known SHA-256), got {filename!r}"
        )
    if isinstance(mirrors, str):
        mirrors = (mirrors,)
    expected = SHA256[filename]
    root = Path(root).expanduser()
    final = root / filename
    if final.exists():
        try:
            _verify_file(final, filename, expected)
        except ValueError as err:
            raise ValueError(
                f"{final} exists but does not verify ({err}); it was left as it is: "
                "delete it and download again"
            ) from err
        return final

    _make_root(root)
    errors = []
    for mirror in mirrors:
        url = mirror if mirror.endswith("/") else mirror + "/"
        url += filename
        stop = time.monotonic() + deadline
        try:
            write_atomic(
                final,
                lambda f, url=url, stop=stop: _fetch(
                    url,
                    f,
                    timeout,
                    stop,  # type: ignore[misc]
                    max_download_bytes(filename),
                ),
                verify=lambda tmp: _verify_file(tmp, filename, expected),
            )
            return final
        except (OSError, http.client.HTTPException, ValueError, EOFError, zlib.error) as err:
            errors.append(f"  {url}: {type(err).__name__}: {err}")
    raise RuntimeError(
        f"could not download {filename} into {root}; every mirror failed:\n"
        + "\n".join(errors or ["  (no mirrors given)"])
    )


def _make_root(root: Path) -> None:
    """Create the data folder, or say clearly why it cannot be one (e.g. it is a file)."""
    if root.exists() and not root.is_dir():
        raise NotADirectoryError(f"root: {root} is a file, not a folder for the MNIST files")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OSError(f"root: cannot create the folder {root} ({err.strerror or err})") from None


# --------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------


def _find_or_download(root: Path, filename: str, allow_download: bool) -> Path:
    """Path of ``filename`` in ``root`` (or of its gunzipped twin), downloading it if allowed."""
    for candidate in (root / filename, root / filename.removesuffix(".gz")):
        if candidate.exists():
            return candidate
    if not allow_download:
        raise FileNotFoundError(f"{filename} is not in {root} and download=False")
    return download(filename, root, mirrors=MIRRORS)


def _file_key(path: Path) -> tuple:
    """Identifies a file's current version, so an edited or replaced file is read again."""
    stat = path.stat()
    return path, stat.st_mtime_ns, stat.st_size


@functools.lru_cache(maxsize=4)
def _read_split(split: str, images_key: tuple, labels_key: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Verify and parse the two files of one split; cached (parsing 47 MB takes a moment)."""
    images_name, labels_name = MNIST_FILES[split]
    images = read_idx(images_key[0], SHA256[images_name])
    labels = read_idx(labels_key[0], SHA256[labels_name]).astype(np.int64)
    images.flags.writeable = labels.flags.writeable = False  # the cache stays as it was read
    return images, labels


def _load_full(split: str, root: Path, allow_download: bool) -> tuple[np.ndarray, np.ndarray]:
    images_name, labels_name = MNIST_FILES[split]
    images_path = _find_or_download(root, images_name, allow_download)
    labels_path = _find_or_download(root, labels_name, allow_download)
    return _read_split(split, _file_key(images_path), _file_key(labels_path))


@functools.lru_cache(maxsize=1)
def _read_subset() -> dict[str, np.ndarray]:
    """All arrays of the subset shipped in the package, after checking the file's SHA-256."""
    resource = resources.files(__package__).joinpath("_data").joinpath(SUBSET_FILE)
    try:
        raw = resource.read_bytes()
    except OSError as err:
        raise FileNotFoundError(
            f"the MNIST subset shipped with vae_lib is missing ({resource}): reinstall vae_lib"
        ) from err
    got = hashlib.sha256(raw).hexdigest()
    if got != SUBSET_SHA256:
        raise ValueError(
            f"checksum mismatch for {resource}: expected SHA-256 {SUBSET_SHA256}, "
            f"got {got}; the package file is corrupt: reinstall vae_lib (or rebuild "
            "it with scripts/make_subset.py)"
        )
    with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    for array in arrays.values():
        array.flags.writeable = False
    return arrays


def _load_small(split: str) -> tuple[np.ndarray, np.ndarray]:
    arrays = _read_subset()
    return arrays[f"{split}_images"], arrays[f"{split}_labels"].astype(np.int64)


def _explain(err: Exception, split: str, root: Path) -> str:
    """What went wrong while getting the full split, and what to do about it."""
    if isinstance(err, ValueError):  # a file is there but corrupt
        return (
            f"{err}. The file was left as it is: delete it (load_mnist will download it "
            "again) or point VAE_LIB_DATA at a good copy"
        )
    if isinstance(err, FileNotFoundError):
        return f"the full MNIST {split} split was not found: {err}. {_how_to_get_full()}"
    if isinstance(err, RuntimeError):
        return f"the full MNIST {split} split could not be had: {err}\n{_how_to_get_full()}"
    return f"could not read the full MNIST {split} split from {root}: {err}. {_how_to_get_full()}"


def load_mnist(
    split: str = "train", root=None, download: bool = True, subset: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """MNIST images and labels as numpy arrays: ``(uint8 [N, 28, 28], int64 [N])``.

    Args:
        split: ``"train"`` (60,000 images) or ``"test"`` (10,000).
        root: folder with the IDX files (``*.gz``, or already gunzipped); default
            ``$VAE_LIB_DATA``, else ``default_root()``. A file here is an error.
        download: fetch missing files from ``MIRRORS`` into ``root``.
        subset: ``None``: the full split if it can be had, else the shipped subset, with a
            warning that says how to get the full one; ``"full"``: the full split, or an error
            saying where it looked and what to do; ``"small"``: the subset shipped in the
            package (1,000 training or 200 test images per digit, see
            ``vae_lib/_data/README.md``), no warning, no network.

    Files are verified against ``SHA256``; a corrupt file is reported, never deleted or
    replaced. Arrays are parsed once per process and returned as fresh copies: modify them
    as you like.
    """
    validation.choice(split, "split", SPLITS)
    validation.choice(subset, "subset", SUBSETS)
    if subset == "small":
        images, labels = _load_small(split)
        return np.array(images), np.array(labels)

    root = _resolve_root(root)
    if root.exists() and not root.is_dir():
        raise NotADirectoryError(f"root: {root} is a file; give the folder that holds the MNIST IDX files")
    try:
        images, labels = _load_full(split, root, allow_download=download)
    except (OSError, RuntimeError, ValueError) as err:
        message = _explain(err, split, root)
        if subset == "full":
            raise type(err)(message) from err
        images, labels = _load_small(split)
        warnings.warn(
            f"{message}\nUsing the small MNIST subset shipped with vae_lib instead: "
            f"{len(labels):,} of the {SPLIT_SIZES[split]:,} {split} images, "
            "class-balanced. Pass subset='small' to use it without this warning.",
            UserWarning,
            stacklevel=2,
        )
    return np.array(images), np.array(labels)


# --------------------------------------------------------------------------------------
# Images -> tensors
# --------------------------------------------------------------------------------------

_RANGE_MESSAGE = "images must be uint8 in [0, 255] or float in [0, 1]"


def _check_int_range(lo: int, hi: int) -> None:
    if lo < 0 or hi > 255:
        raise ValueError(f"{_RANGE_MESSAGE}; got integer values in [{lo}, {hi}]")


def _from_numpy(images) -> torch.Tensor:
    """A numpy array (or nested list) as a tensor; integers are range-checked and made uint8
    here, because torch cannot take the min of every numpy integer dtype (uint16, ...)."""
    try:
        array = np.asarray(images)
    except (ValueError, TypeError) as err:
        raise ValueError(
            f"images must be a numpy array or torch tensor, got {type(images).__name__} ({err})"
        ) from err
    if array.dtype.kind not in "uif":  # bool, complex, object, str, ...
        raise ValueError(f"{_RANGE_MESSAGE}; got dtype {array.dtype}")
    if array.dtype.kind in "ui":
        if array.size:
            _check_int_range(int(array.min()), int(array.max()))
        array = array.astype(np.uint8, copy=False)
    if not array.flags.writeable or not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))  # torch.from_numpy wants both
    return torch.from_numpy(array)


def _flatten_images(x: torch.Tensor) -> torch.Tensor:
    """``[N, 28, 28]``, ``[N, 784]`` (or any leading dims) -> ``[N, 784]``; one image -> N = 1."""
    if tuple(x.shape[-2:]) == IMAGE_SHAPE or (x.ndim >= 1 and x.shape[-1] == IMAGE_SIZE):
        return x.reshape(-1, IMAGE_SIZE)
    raise ValueError(
        f"images must have shape [N, 28, 28], [N, 784] or [28, 28] (one image), got {list(x.shape)}"
    )


def to_tensor(images) -> torch.Tensor:
    """MNIST images -> float32 tensor ``[N, 784]`` in [0, 1]: the one place the scaling lives.

    Accepts a numpy array or a torch tensor of shape ``[N, 28, 28]``, ``[N, 784]`` or one
    image ``[28, 28]`` (-> ``[1, 784]``). uint8 (or any integer dtype with values in 0..255)
    is divided by 255; float input must already lie in [0, 1] and is returned as float32.
    Always a new tensor (on the input tensor's device), never a view of the input.
    """
    x = images if isinstance(images, torch.Tensor) else _from_numpy(images)
    if x.dtype == torch.bool or x.is_complex():
        raise ValueError(f"{_RANGE_MESSAGE}; got dtype {x.dtype}")
    x = _flatten_images(x)
    if x.is_floating_point():
        if not bool(torch.isfinite(x).all()):
            raise ValueError(f"{_RANGE_MESSAGE}; got non-finite float values (NaN or inf)")
        if x.numel() and (x.min() < 0 or x.max() > 1):
            raise ValueError(
                f"{_RANGE_MESSAGE}; got float values in [{x.min().item():.6g}, {x.max().item():.6g}]"
            )
        return x.to(torch.float32, copy=True)
    if x.dtype != torch.uint8:
        if x.numel():
            wide = x.to(torch.int64)  # torch has no min/max for uint16/32/64
            _check_int_range(int(wide.min()), int(wide.max()))
        x = x.to(torch.uint8)
    return x.to(torch.float32) / 255


def as_images(images, input_dim: int = IMAGE_SIZE, name: str = "images") -> torch.Tensor:
    """Images in any form the package accepts -> a float32 tensor [N, input_dim] in [0, 1], N > 0.

    A float tensor or float numpy array [N, input_dim] is checked and cast to float32 (float64
    from ``torch.from_numpy``, float16); anything else (uint8 MNIST ``[N, 28, 28]``, ...) goes
    through :func:`vae_lib.to_tensor` (MNIST-sized only). Values outside [0, 1] or NaN are rejected.
    """
    if isinstance(images, np.ndarray) and images.dtype.kind == "f":
        images = torch.from_numpy(np.ascontiguousarray(images))
    if isinstance(images, torch.Tensor) and images.is_floating_point() and images.dim() == 2:
        x = images
    else:
        try:
            x = to_tensor(images)
        except ValueError as err:
            raise ValueError(f"{name}: {err}") from None
    x = validation.images(x, input_dim, name, dtype=torch.float32)
    if len(x) == 0:
        raise ValueError(f"{name} must hold at least one image, got shape {list(x.shape)}")
    return x

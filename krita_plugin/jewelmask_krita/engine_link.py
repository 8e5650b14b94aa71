"""The plug-in's side of the engine: finding it, asking what it can do, and
running commands in a background thread. Standard library only.

``bridge_client.py`` is the stdlib client the installer copies next to the
plug-in (in a development install, a link to ``core/jewelmask/bridge_client.py``).
"""

import importlib.util
import logging
import os
import sys
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
LOG = logging.getLogger("jewelmask_krita")


def load_bridge():
    """The ``bridge_client`` module: the copy beside the plug-in, else the
    checkout's (when the plug-in is linked from a checkout)."""
    try:
        from . import bridge_client  # noqa: F401
        return bridge_client
    except ImportError:
        pass
    real = os.path.dirname(os.path.realpath(__file__))
    for cand in (os.path.join(real, "bridge_client.py"),
                 os.path.join(real, "..", "..", "core", "jewelmask", "bridge_client.py")):
        if os.path.isfile(cand):
            name = __package__ + ".bridge_client" if __package__ else "jewelmask_bridge_client"
            spec = importlib.util.spec_from_file_location(name, cand)
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            sys.modules[name] = mod
            return mod
    raise ImportError("bridge_client.py is missing from %s: run install/install-krita again" % HERE)


def setup_logging(path):
    """Log to `path` (rotated at 1 MB); returns the path."""
    from logging.handlers import RotatingFileHandler

    for h in list(LOG.handlers):
        if getattr(h, "_jewelmask", False):
            LOG.removeHandler(h)
            h.close()
    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        h = RotatingFileHandler(path, maxBytes=1 << 20, backupCount=2, encoding="utf-8")
    except OSError:
        return None
    h._jewelmask = True
    h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    LOG.addHandler(h)
    LOG.setLevel(logging.INFO)
    return path


class Job(object):
    """A function running in a thread, with progress and cancel.

    ``fn(progress)`` gets a callable ``progress(fraction) -> bool`` (False once
    cancelled: pass it to ``Engine.run``). Poll :attr:`done` from the UI thread.
    """

    def __init__(self, name, fn):
        self.name = name
        self.fn = fn
        self.progress = 0.0
        self.result = None
        self.error = None
        self.trace = None
        self.done = False
        self.cancel_event = threading.Event()
        self.started = time.perf_counter()
        self.ended = None
        self.thread = threading.Thread(target=self._run, name="jewelmask-" + name, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def _progress(self, fraction):
        self.progress = float(fraction)
        return not self.cancel_event.is_set()

    def _run(self):
        try:
            self.result = self.fn(self._progress)
        except BaseException as exc:  # reported on the UI thread
            self.error = exc
            self.trace = traceback.format_exc()
        finally:
            self.ended = time.perf_counter()
            self.done = True

    def cancel(self):
        self.cancel_event.set()

    @property
    def cancelled(self):
        return self.cancel_event.is_set()


class EngineLink(object):
    """The engine for this plug-in, found lazily, and its op manifest."""

    def __init__(self, plugin_dir=HERE):
        self.plugin_dir = plugin_dir
        self.bridge = None
        self.engine = None
        self.manifest = None
        self.error = None

    def connect(self):
        """Find the engine and ask it for its operations (blocking: call in a Job)."""
        self.bridge = load_bridge()
        try:
            self.engine = self.bridge.find_engine(self.plugin_dir, setup="install/install-krita")
            self.manifest = self.engine.describe()
            self.error = None
        except self.bridge.EngineError as exc:
            self.error = str(exc)
            self.manifest = None
        return self.manifest

    @property
    def version(self):
        return (self.manifest or {}).get("version")

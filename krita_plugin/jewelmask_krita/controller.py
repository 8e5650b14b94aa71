"""What the actions and the docker do, without widgets.

One :class:`Controller` per Krita session: it knows the engine's operations
and the current parameter values, runs commands in a background thread
(reading pixels and writing masks on the UI thread, as Krita requires),
keeps the live preview, and reports through ``listeners`` (the dockers).
Every entry point catches its errors: the traceback goes to the log file,
one line to the docker.
"""

import contextlib
import logging
import os
import time

from . import catalogue, document, pixels
from .document import UserError
from .engine_link import EngineLink, Job, load_bridge

LOG = logging.getLogger("jewelmask_krita")

DEBOUNCE_MS = 120
POLL_MS = 40
def _preview_longest():
    try:
        return max(64, int(os.environ.get("JEWELMASK_KRITA_PREVIEW_PX", "1024")))
    except ValueError:
        return 1024


#: Longest side of the image the live preview computes on (JEWELMASK_KRITA_PREVIEW_PX).
PREVIEW_LONGEST = _preview_longest()
CANCEL_GRACE_S = 10.0
SAMPLER_ACTION = "KritaSelected/KisToolColorSampler"


def qt_timer(callback, single_shot):
    from PyQt5.QtCore import QTimer

    t = QTimer()
    t.setSingleShot(single_shot)
    t.timeout.connect(callback)
    return t


class _Session(object):
    """A live preview in progress: the downscaled inputs, read once."""

    def __init__(self, op, doc, layer, region, step, small, image, old, sel):
        self.op, self.doc, self.layer, self.region = op, doc, layer, region
        self.step, self.small = step, small
        self.image, self.old, self.sel = image, old, sel
        self.view = document.Preview(doc, layer, region)
        self.shown = False


class Controller(object):
    def __init__(self, app, link=None, timer_factory=qt_timer, log_path=None):
        self.app = app
        self.link = link or EngineLink()
        self.log_path = log_path
        self.specs = catalogue.specs_from_manifest(None)
        self.store = catalogue.ParamStore(self.specs, read=self._read_setting, write=self._write_setting)
        self.listeners = []
        self.status, self.level = "Starting the jewelmask engine...", "info"
        self.job = None
        self.job_kind = None
        self._ctx = None
        self._cancel_deadline = None
        self._pending = None
        self.preview = None
        self.preview_enabled = dict((s.name, True) for s in self.specs)
        self._preview_op = None
        self._preview_again = False
        self._t_changed = None
        self.history = []
        self.preview_log = []
        self._poll = timer_factory(self.poll, False)
        self._debounce = timer_factory(self._preview_fire, True)

    # -- plumbing -----------------------------------------------------------

    def _read_setting(self, name):
        try:
            return self.app.readSetting("jewelmask", "op." + name, "")
        except Exception:
            return ""

    def _write_setting(self, name, value):
        try:
            self.app.writeSetting("jewelmask", "op." + name, value)
        except Exception:
            pass

    def notify(self, what):
        for cb in list(self.listeners):
            try:
                cb(what)
            except Exception:
                LOG.exception("docker update failed")

    def say(self, text, level="info"):
        self.status, self.level = text, level
        LOG.info("status: %s", text) if level != "error" else LOG.warning("status: %s", text)
        self.notify("status")

    @contextlib.contextmanager
    def guard(self, what):
        try:
            yield
        except UserError as exc:
            self.say(str(exc), "error")
        except Exception as exc:
            bridge = self.link.bridge
            if bridge is not None and isinstance(exc, bridge.Cancelled):
                self.say("%s: cancelled." % what, "info")
            elif bridge is not None and isinstance(exc, bridge.EngineError):
                LOG.warning("%s failed: %s", what, exc)
                self.say("%s: %s" % (what, exc), "error")
            else:
                LOG.error("%s failed", what, exc_info=True)
                where = (" (details in %s)" % self.log_path) if self.log_path else ""
                self.say("%s failed: %s%s" % (what, str(exc) or type(exc).__name__, where), "error")

    def spec(self, name):
        for s in self.specs:
            if s.name == name:
                return s
        raise UserError("jewelmask has no command %r" % name)

    @property
    def busy(self):
        return self.job is not None and self.job_kind in ("run",)

    @property
    def ready(self):
        return self.job_kind != "connect" and (self.link.manifest is not None or self.link.error is not None)

    @property
    def progress(self):
        if self.job is None or self.job_kind != "run":
            return None
        return self.job.progress

    def _start(self, job, kind, ctx=None):
        self.job, self.job_kind, self._ctx = job, kind, ctx
        self._cancel_deadline = None
        job.start()
        self._poll.start(POLL_MS)
        self.notify("busy")

    # -- engine -------------------------------------------------------------

    def connect(self):
        """Find the engine and read its operations in the background."""
        if self.job is not None:
            return
        self._start(Job("connect", lambda progress: self.link.connect()), "connect")

    def _connected(self, job):
        if job.error is not None:
            LOG.error("engine query failed:\n%s", job.trace)
            self.link.error = "the jewelmask engine could not be queried: %s" % job.error
        self.specs = catalogue.specs_from_manifest(self.link.manifest)
        self.store.set_specs(self.specs)
        for s in self.specs:
            self.preview_enabled.setdefault(s.name, True)
        self.notify("specs")
        if self.link.error:
            self.say(self.link.error, "error")
        else:
            n = sum(1 for s in self.specs if s.available)
            self.say("Engine ready: jewelmask %s, %d commands." % (self.link.version or "?", n))

    # -- commands -----------------------------------------------------------

    def params_for_engine(self, name):
        return self.store.get(name)

    def run(self, name):
        """Run a command on the active layer (the actions and Apply buttons)."""
        label = name
        with self.guard(label):
            spec = self.spec(name)
            label = spec.label
            if self.job is not None and self.job_kind == "connect":
                self._pending = name
                self.say("Starting the engine; %s runs as soon as it is ready." % label)
                return
            if self.job is not None and self.job_kind == "run":
                raise UserError("Busy with %s: wait for it or press Cancel." % self.job.name)
            if self.link.manifest is None:
                raise UserError(self.link.error or "The jewelmask engine is not ready.")
            if not spec.available:
                raise UserError(catalogue.unavailable_message(spec, self.link.version))
            if self.preview is not None:
                self.end_preview()
            if self.job is not None:  # a preview still computing: drop it
                self.job.cancel()
                self.job = None
            doc = self.app.activeDocument()
            layer = document.target_layer(doc)
            layout = document.layer_layout(layer)
            region = document.region_of(doc, layer)
            t0 = time.perf_counter()
            paths = document.vector_paths(doc) if "paths" in spec.needs else None
            data = document.read_pixels(layer, region)
            old = document.main_mask(layer)
            old_data = document.read_pixels(old, region) if old is not None else None
            sel = document.read_selection(doc, region)
            if "selection" in spec.needs and sel is None:
                raise UserError("%s needs a selection: %s" % (label, catalogue.HINTS.get(name, "")))
            if "mask" in spec.needs and old is None:
                raise UserError("%s works on the layer's transparency mask, and '%s' has none: make "
                                "one first (for example with Auto Jewelry Mask)." % (label, layer.name()))
            t_read = time.perf_counter() - t0
            params = self.params_for_engine(name)
            mode = self.store.mode(name)
            bridge, engine = self.link.bridge, self.link.engine
            x, y, w, h = region

            f16 = layout.from_f16 and "f16" in getattr(bridge, "SAMPLE_SIZE", {})
            dtype = "f16" if f16 else layout.dtype

            def work(progress):
                t = time.perf_counter()
                raw = bridge.RawImage(pixels.to_engine(data, layout, f16), w, h, layout.channels, dtype)
                sel_raw = bridge.RawImage(sel, w, h, 1, "u8") if sel is not None else None
                old_raw = bridge.RawImage(old_data, w, h, 1, "u8") if old_data is not None else None
                t_conv = time.perf_counter() - t
                res = engine.run(name, raw, params=params, mode=mode, selection=sel_raw,
                                 old_mask=old_raw, paths=paths, offset=(x, y), mask_dtype="u8",
                                 progress=progress)
                res.convert_seconds = t_conv
                return res

            ctx = {"doc": doc, "layer": layer, "region": region, "spec": spec, "mode": mode,
                   "params": params, "t0": t0, "t_read": t_read, "layout": layout, "old": old_data}
            self._start(Job(label, work), "run", ctx)
            warn = ""
            if layout.dtype == "f32" and pixels.is_linear_profile(layer.colorProfile()):
                warn = " (linear-light profile: the engine expects sRGB-like values)"
            self.say("%s: running on '%s' (%s %s, %dx%d)%s..." % (label, layer.name(), layout.model,
                                                                 layout.depth, w, h, warn))

    def _ran(self, job):
        ctx = self._ctx
        spec = ctx["spec"]
        with self.guard(spec.label):
            if job.error is not None:
                if not (self.link.bridge and isinstance(job.error, self.link.bridge.EngineError)):
                    LOG.error("%s failed in the worker thread:\n%s", spec.label, job.trace)
                self.history.append({"op": spec.name, "status": "cancelled" if job.cancelled else "error",
                                     "message": str(job.error)})
                raise job.error
            res = job.result
            doc, layer, region = ctx["doc"], ctx["layer"], ctx["region"]
            t = time.perf_counter()
            w, h = region[2], region[3]
            for r in [res.mask] + list(res.channels.values()):
                if r is not None and (r.width, r.height, r.channels, r.dtype) != (w, h, 1, "u8"):
                    raise RuntimeError("the engine answered a %dx%dx%d %s mask for a %dx%d layer"
                                       % (r.width, r.height, r.channels, r.dtype, w, h))
            if res.channels:
                document.write_channels(doc, layer, region, [(k, v.data) for k, v in res.channels.items()])
            if res.layer is not None:
                # above the layer, shown through the same mask (a copy): the layer stays as it was
                document.write_new_layer(doc, layer, region, res.layer.data,
                                         "%s (%s)" % (layer.name(), spec.label.lower()), mask=ctx["old"])
            if res.mask is not None:
                document.put_mask(doc, layer, region, res.mask.data, old=document.main_mask(layer))
            if res.layer is not None:
                # adding and removing nodes updates the canvas by itself (measured:
                # a second refresh would cost another full recomposite); pixels
                # written into the new layer after adding it do not
                doc.refreshProjection()
            t_write = time.perf_counter() - t
            total = time.perf_counter() - ctx["t0"]
            seconds = {"read": round(ctx["t_read"], 3),
                       "convert": round(getattr(res, "convert_seconds", 0.0), 3),
                       "engine": res.seconds, "write": round(t_write, 3), "total": round(total, 3)}
            LOG.info("%s on %s: %s", spec.name, layer.name(), seconds)
            self.history.append({"op": spec.name, "status": "ok", "mode": ctx["mode"],
                                 "params": ctx["params"], "seconds": seconds, "info": res.info,
                                 "region": list(region)})
            what = "new layer" if res.mask is None else "mask (%s)" % ctx["mode"]
            self.say("%s: %s written in %.1f s." % (spec.label, what, total))

    def cancel(self):
        """Cancel the running command and close the preview."""
        with self.guard("Cancel"):
            if self.preview is not None:
                self.end_preview()
                self.say("Preview cancelled.")
            if self.job is not None and self.job_kind == "run":
                self.job.cancel()
                self._cancel_deadline = time.perf_counter() + CANCEL_GRACE_S
                self.say("%s: cancelling..." % self.job.name)

    def poll(self):
        """Called by a timer: progress, and the end of background jobs."""
        job = self.job
        if job is None:
            self._poll.stop()
            return
        if not job.done:
            if self._cancel_deadline is not None and time.perf_counter() > self._cancel_deadline:
                # The engine did not stop in time: leave it to finish alone.
                LOG.warning("%s did not stop within %.0f s of Cancel; abandoned", job.name, CANCEL_GRACE_S)
                self.job = None
                self.history.append({"op": job.name, "status": "cancelled", "message": "abandoned"})
                self.say("%s: cancelled." % job.name)
                self.notify("busy")
            elif self.job_kind == "run":
                self.notify("progress")
            return
        kind, self.job = self.job_kind, None
        self.job_kind = None
        try:
            if kind == "connect":
                self._connected(job)
                pending, self._pending = self._pending, None
                if pending:
                    self.run(pending)
            elif kind == "run":
                self._ran(job)
            elif kind == "preview":
                self._previewed(job)
        finally:
            if self.job is None:
                self._poll.stop()
            self.notify("busy")

    # -- parameters ---------------------------------------------------------

    def set_param(self, name, key, value, preview=True):
        """Set a parameter from the docker (or a test); may start a preview."""
        with self.guard("Parameter"):
            value = self.store.set(name, key, value)
            self.store.save(name)
            if preview:
                self.param_moved(name)
            return value

    def set_mode(self, name, mode):
        with self.guard("Mode"):
            self.store.set_mode(name, mode)
            self.store.save(name)
            self.param_moved(name)

    def add_foreground_colour(self, name, key):
        """Append the foreground colour (set it with Krita's colour sampler) to a colours parameter."""
        with self.guard("Add colour"):
            win = self.app.activeWindow()
            view = win.activeView() if win is not None else None
            if view is None:
                raise UserError("Open an image first.")
            mc = view.foregroundColor()
            rgb = pixels.colour_to_rgb255(mc.colorModel(), mc.colorDepth(), mc.components())
            if rgb is None:
                raise UserError("The foreground colour is %s: pick an RGB colour." % mc.colorModel())
            colours = list(self.store.get(name).get(key) or [])
            if list(rgb) not in [list(c) for c in colours]:
                colours.append(list(rgb))
            self.store.set(name, key, colours)
            spec = self.spec(name)
            metal = spec.param("metal")
            if metal is not None and "sampled" in metal["choices"]:
                self.store.set(name, "metal", "sampled")
            self.store.save(name)
            self.notify("params")
            self.say("Added %s to %s." % (load_bridge().format_colours([rgb]), spec.label))
            self.param_moved(name)

    def pick_from_canvas(self):
        """Switch to Krita's colour sampler: the next click on the canvas sets the foreground."""
        with self.guard("Pick colour"):
            action = self.app.action(SAMPLER_ACTION)
            if action is None:
                raise UserError("Krita's colour sampler tool is not available here; press P on the canvas.")
            action.trigger()
            self.say("Click the metal on the canvas, then press 'Add colour'.")

    # -- live preview -------------------------------------------------------

    def param_moved(self, name):
        """A slider or field changed: refresh the preview after a short pause."""
        try:
            spec = self.spec(name)
        except UserError:
            return
        if not spec.previewable or not self.preview_enabled.get(name, True):
            return
        if self.link.manifest is None or (self.job is not None and self.job_kind in ("run", "connect")):
            return
        self._preview_op = name
        self._t_changed = time.perf_counter()
        self._debounce.start(DEBOUNCE_MS)

    def _open_preview(self, name, doc, layer):
        layout = document.layer_layout(layer)
        region = document.region_of(doc, layer)
        x, y, w, h = region
        step = pixels.preview_step(w, h, PREVIEW_LONGEST)
        sw, sh = pixels.decimated_size(w, h, step)
        bridge = self.link.bridge
        img = document.read_decimated(layer, region, step, layout.bytes_per_pixel)
        f16 = layout.from_f16 and "f16" in getattr(bridge, "SAMPLE_SIZE", {})
        img = bridge.RawImage(pixels.to_engine(img, layout, f16), sw, sh, layout.channels,
                              "f16" if f16 else layout.dtype)
        old = document.main_mask(layer)
        old = bridge.RawImage(document.read_decimated(old, region, step, 1), sw, sh, 1, "u8") \
            if old is not None else None
        sel = document.read_selection_decimated(doc, region, step)
        sel = bridge.RawImage(sel, sw, sh, 1, "u8") if sel is not None else None
        return _Session(name, doc, layer, region, step, (sw, sh), img, old, sel)

    def _preview_fire(self):
        name = self._preview_op
        if name is None:
            return
        with self.guard("Preview"):
            if self.job is not None:
                if self.job_kind == "preview":
                    self._preview_again = True
                return
            doc = self.app.activeDocument()
            layer = document.target_layer(doc)
            s = self.preview
            if s is not None and (s.op != name or s.doc != doc or s.layer.uniqueId() != layer.uniqueId()):
                self.end_preview()
                s = None
            if s is None:
                s = self.preview = self._open_preview(name, doc, layer)
                self.notify("preview")
            params, mode = self.params_for_engine(name), self.store.mode(name)
            engine = self.link.engine

            def work(progress):
                return engine.run(name, s.image, params=params, mode=mode, selection=s.sel,
                                  old_mask=s.old, mask_dtype="u8", progress=progress)

            self._start(Job("preview", work), "preview", {"session": s, "t_changed": self._t_changed})

    def _previewed(self, job):
        s = self._ctx["session"]
        again, self._preview_again = self._preview_again, False
        with self.guard("Preview"):
            if self.preview is not s:
                return  # ended meanwhile
            if job.error is not None:
                if not (self.link.bridge and isinstance(job.error, self.link.bridge.EngineError)):
                    LOG.error("preview failed in the worker thread:\n%s", job.trace)
                raise job.error
            res = job.result
            if res.mask is None:
                return
            x, y, w, h = s.region
            t = time.perf_counter()
            full = pixels.expand_mask(res.mask.data, s.small[0], s.small[1], w, h, s.step)
            t_expand = time.perf_counter() - t
            s.view.show(full)
            s.shown = True
            now = time.perf_counter()
            entry = {"op": s.op, "size": [w, h], "preview_size": list(s.small), "step": s.step,
                     "engine": res.seconds, "expand": round(t_expand, 3),
                     "show": round(now - t - t_expand, 3),
                     "compute": round(job.ended - job.started, 3),
                     "latency_after_change": round(now - self._ctx["t_changed"], 3)}
            self.preview_log.append(entry)
            LOG.info("preview %s", entry)
            self.notify("preview")
        if again and self.preview is s:
            self._preview_fire()

    def end_preview(self, apply=False):
        """Remove the preview mask (and show the layer's mask again); with
        `apply`, run the command at full size."""
        s, self.preview = self.preview, None
        self._debounce.stop()
        self._preview_op = None
        if self.job is not None and self.job_kind == "preview":
            self.job.cancel()
            self.job, self.job_kind = None, None
        if s is not None:
            with self.guard("Preview"):
                s.view.close()
            self.notify("preview")
        if apply and s is not None:
            self.run(s.op)

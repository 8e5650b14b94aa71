"""Runs INSIDE the real Krita (test mode of the plug-in: JEWELMASK_KRITA_TEST
names this file; the plug-in execs it once the first window exists with
CONTROLLER and EXTENSION in its globals). Standard library only: Krita's
Python has no numpy. Everything it sees goes to $JM_OUT (raw pixel dumps and
report.json); tests/krita/check.py compares them with the engine, and
tests/test_krita_plugin.py asserts. Ends Krita with os._exit.

Env: JM_OUT (folder), JM_CASES (comma list: u8,u16,f32,f16,grey,cmyk,offset,vector,preview,
cancel,big), JM_IN8, JM_IN16, JM_BIG (24 MP PNG), JM_SHOT (docker screenshot path).
"""
import hashlib
import json
import os
import sys
import time
import traceback

OUT = os.environ["JM_OUT"]
CASES = [c for c in os.environ.get("JM_CASES", "u8,u16,f32").split(",") if c]
REPORT = {"cases": {}, "steps": [], "errors": [], "timings": {}}
T0 = time.time()


def log(*a):
    print("jm-driver %6.1fs:" % (time.time() - T0), *a, file=sys.stderr, flush=True)


def main():
    import faulthandler

    faulthandler.dump_traceback_later(int(os.environ.get("JM_WATCHDOG", "1500")), exit=True)
    from krita import Krita, Selection
    from PyQt5.QtWidgets import QApplication

    k = Krita.instance()
    k.setBatchmode(True)  # no import/export dialogs (a 16-bit PNG asks otherwise)
    ctrl = CONTROLLER  # noqa: F821  (given by the plug-in's test hook)

    def spin(sec):
        end = time.time() + sec
        while time.time() < end:
            QApplication.processEvents()
            time.sleep(0.005)

    def wait(cond, timeout, what):
        end = time.time() + timeout
        while not cond():
            if time.time() > end:
                raise RuntimeError("timed out after %d s waiting for %s" % (timeout, what))
            QApplication.processEvents()
            time.sleep(0.01)

    wait(lambda: ctrl.ready, 180, "the engine manifest")
    REPORT["engine_error"] = ctrl.link.error
    REPORT["version"] = ctrl.link.version
    REPORT["available"] = {s.name: s.available for s in ctrl.specs}
    REPORT["actions"] = {}
    for aid, op, _text in __import__("jewelmask_krita.catalogue", fromlist=["x"]).ACTIONS:
        a = k.action(aid)
        REPORT["actions"][aid] = a is not None
    win = k.activeWindow() or k.windows()[0]
    dockers = [d for d in win.dockers() if d.objectName() == "jewelmask_docker"]
    REPORT["docker"] = bool(dockers)
    docker = dockers[0] if dockers else None
    panel = docker.widget() if docker else None
    if docker is not None:
        docker.show()
        docker.raise_()
    log("ready; engine", ctrl.link.version, "error", ctrl.link.error)

    def open_doc(path, convert=None):
        doc = k.openDocument(path)
        assert doc is not None, "cannot open " + path
        doc.setBatchmode(True)
        if convert:
            doc.setColorSpace(convert[0], convert[1], convert[2] if len(convert) > 2 else "")
            doc.waitForDone()
        win.addView(doc)
        k.setActiveDocument(doc)
        spin(0.4)
        layer = [n for n in doc.topLevelNodes() if n.type() == "paintlayer"][-1]
        doc.setActiveNode(layer)
        spin(0.3)
        return doc, layer

    def close_doc(doc):
        doc.setModified(False)
        doc.close()
        spin(0.2)

    def dump(name, data):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(bytes(data))
        return name

    def canvas_shows(doc, node, timeout=15.0):
        """Seconds until the projection's alpha along the middle row equals the
        mask (opaque 8-bit RGBA layers only), or None."""
        if node is None or (doc.colorModel(), doc.colorDepth()) != ("RGBA", "U8"):
            return None
        r = doc.height() // 2
        t = time.time()
        while time.time() - t < timeout:
            proj = bytes(doc.pixelData(0, r, doc.width(), 1))[3::4]
            mask = bytes(node.pixelData(0, r, doc.width(), 1))
            if max(abs(a - b) for a, b in zip(proj, mask)) <= 1:
                return round(time.time() - t, 3)
            QApplication.processEvents()
            time.sleep(0.01)
        return None

    REPORT["canvas_shows"] = canvas_shows

    def masks_of(layer):
        return [(n.name(), n.type(), n.visible()) for n in layer.childNodes()]

    def main_mask(layer):
        for n in reversed(layer.childNodes()):
            if n.type() == "transparencymask" and n.visible() and not (
                    n.name().startswith("jewelmask") or n.name() == "jewelmask preview"):
                return n
        return None

    def run_action(case, doc, layer, op, params=None, mode=None, selection=None, via="action"):
        """Set parameters, trigger the action, wait, dump what the checker needs."""
        i = len(REPORT["steps"])
        x, y, w, h = ctrl_region(doc, layer)
        for kk, v in (params or {}).items():
            if panel is not None and via == "docker" and op in panel.sections and kk in panel.sections[op].editors:
                panel.set_value(op, kk, v)
            else:
                ctrl.set_param(op, kk, v, preview=False)
        if mode:
            ctrl.set_mode(op, mode)
        if selection is not None:
            sel = Selection()
            sel.select(*selection, 255)
            doc.setSelection(sel)
        else:
            k.action("deselect").trigger()
        spin(0.1)
        old = main_mask(layer)
        step = {"i": i, "case": case, "op": op, "region": [x, y, w, h],
                "params": ctrl.store.get(op), "mode": ctrl.store.mode(op)}
        step["old"] = dump("s%d_old.raw" % i, old.pixelData(x, y, w, h)) if old is not None else None
        s = doc.selection()
        step["selection"] = dump("s%d_sel.raw" % i, s.pixelData(x, y, w, h)) if s is not None else None
        n_hist = len(ctrl.history)
        before_nodes = masks_of(layer)
        before_ids = [n.uniqueId() for n in doc.topLevelNodes()]
        t = time.time()
        if via == "button" and panel is not None:
            panel.sections[op].apply.click()
        else:
            k.action(ctrl.spec(op).action_id).trigger()
        spin(0.05)
        wait(lambda: ctrl.job is None, 900, op)
        step["wall"] = round(time.time() - t, 3)
        step["status"] = ctrl.status
        step["level"] = ctrl.level
        step["history"] = ctrl.history[-1] if len(ctrl.history) > n_hist else None
        step["nodes_before"] = before_nodes
        step["nodes"] = masks_of(layer)
        m = main_mask(layer)
        step["mask"] = dump("s%d_mask.raw" % i, m.pixelData(x, y, w, h)) if m is not None else None
        step["channels"] = {}
        for n in layer.childNodes():
            if n.type() == "transparencymask" and n.name().startswith("jewelmask: "):
                step["channels"][n.name()] = dump("s%d_ch%d.raw" % (i, len(step["channels"])),
                                                  n.pixelData(x, y, w, h))
        # layers the command added (decontaminate): where, what, and their masks
        top = doc.topLevelNodes()
        step["new_layers"] = []
        for pos, n in enumerate(top):
            if n.uniqueId() in before_ids:
                continue
            kids = [c for c in n.childNodes() if c.type() == "transparencymask"]
            step["new_layers"].append({
                "name": n.name(), "type": n.type(), "model": n.colorModel(), "depth": n.colorDepth(),
                "above_source": pos > 0 and top[pos - 1].uniqueId() == layer.uniqueId(),
                "pixels": dump("s%d_newlayer.raw" % i, n.pixelData(x, y, w, h)),
                "masks": [dump("s%d_newmask%d.raw" % (i, j), c.pixelData(x, y, w, h))
                          for j, c in enumerate(kids)]})
        k.action("deselect").trigger()
        REPORT["steps"].append(step)
        log("step", i, case, op, step["wall"], "s:", ctrl.status)
        return step

    def ctrl_region(doc, layer):
        from jewelmask_krita import document as d

        return d.region_of(doc, layer)

    def layer_info(layer):
        return {"model": layer.colorModel(), "depth": layer.colorDepth(), "profile": layer.colorProfile()}

    def add_outline(doc, layer, resolution=None):
        if resolution:
            doc.setResolution(int(resolution))
        res = doc.resolution()
        vl = doc.createVectorLayer("outline")
        doc.rootNode().addChildNode(vl, None)
        w_pt, h_pt = doc.width() * 72.0 / res, doc.height() * 72.0 / res
        s = 72.0 / res  # the outline in pixels, written in points
        svg = ('<svg xmlns="http://www.w3.org/2000/svg" width="%gpt" height="%gpt" viewBox="0 0 %g %g">'
               '<path d="M %g %g C %g %g %g %g %g %g L %g %g Z" fill="#000000"/></svg>'
               % (w_pt, h_pt, w_pt, h_pt, 80 * s, 60 * s, 200 * s, 20 * s, 320 * s, 60 * s,
                  330 * s, 150 * s, 180 * s, 260 * s))
        vl.addShapesFromSvg(svg)
        spin(0.3)
        doc.setActiveNode(layer)
        spin(0.2)
        return [sh.toSvg() for sh in vl.shapes()], res

    def doc_case(case, path, convert, plan):
        t = time.time()
        doc, layer = open_doc(path, convert)
        x, y, w, h = ctrl_region(doc, layer)
        info = layer_info(layer)
        info["shapes"], info["resolution"] = add_outline(doc, layer)
        info["region"] = [x, y, w, h]
        info["pixels"] = dump("%s_layer.raw" % case, layer.pixelData(x, y, w, h))
        before = hashlib.sha1(bytes(layer.pixelData(x, y, w, h))).hexdigest()
        info["steps"] = []
        for entry in plan:
            st = run_action(case, doc, layer, **entry)
            info["steps"].append(st["i"])
        info["unchanged"] = hashlib.sha1(bytes(layer.pixelData(x, y, w, h))).hexdigest() == before
        kra = os.path.join(OUT, "%s.kra" % case)
        info["saved"] = bool(doc.saveAs(kra))
        info["final_nodes"] = masks_of(layer)
        REPORT["cases"][case] = info
        close_doc(doc)
        REPORT["timings"]["case_" + case] = round(time.time() - t, 2)

    full_plan = [
        {"op": "auto", "params": {"tile_budget": 1, "preset": "white-sweep"}, "mode": "replace"},
        {"op": "colour-range", "params": {"metal": "yellow-gold", "tolerance": 18.0}, "mode": "add",
         "via": "docker"},
        # on the jewelry's mask: refine (the selection is its brush)
        {"op": "refine-edge", "params": {"shift": -0.25}, "mode": "replace", "selection": (100, 100, 200, 200)},
        {"op": "channel-mask", "params": {"auto_levels": False, "black": 0.1, "white": 0.3, "gamma": 1.2},
         "mode": "intersect", "selection": (0, 0, 300, 250), "via": "button"},
        {"op": "ai-remove", "params": {"tile_budget": 0}, "mode": "subtract"},
        {"op": "path-to-mask", "params": {}},
        # last: the new layer it adds is the topmost paint layer, which the commands after it
        # would work on (the driver's documents have the vector layer active)
        {"op": "decontaminate", "params": {"amount": 90.0}, "selection": (0, 0, 250, 200)},
    ]
    light_plan = [
        {"op": "ai-remove", "params": {"tile_budget": 0}, "mode": "replace"},
        {"op": "colour-range", "params": {"metal": "sampled", "samples": [[200, 154, 64]], "tolerance": 20.0},
         "mode": "add"},
        {"op": "channel-mask", "params": {"auto_levels": True}, "mode": "intersect"},
    ]

    def only_known(plan):
        out = []
        for e in plan:
            e = dict(e)
            spec = ctrl.spec(e["op"])
            if spec.available:
                e["params"] = dict((k2, v) for k2, v in e["params"].items() if spec.param(k2) is not None)
            else:
                e["params"] = {}
            out.append(e)
        return out

    in8, in16 = os.environ["JM_IN8"], os.environ["JM_IN16"]
    if "shot" in CASES and panel is not None:
        doc, layer = open_doc(in8)
        for name in ("colour-range", "channel-mask"):
            if name in panel.sections:
                panel.sections[name].header.setChecked(True)
        docker.setFloating(True)
        docker.resize(380, 980)
        spin(1.0)
        shot = os.environ.get("JM_SHOT") or os.path.join(OUT, "krita-docker.png")
        REPORT["screenshot"] = bool(docker.grab().save(shot))
        wshot = os.path.join(OUT, "krita-window.png")
        docker.setFloating(False)
        spin(0.5)
        win.qwindow().resize(1280, 900)
        spin(1.0)
        REPORT["window_screenshot"] = bool(win.qwindow().grab().save(wshot))
        close_doc(doc)
    if "u8" in CASES:
        doc_case("u8", in8, None, only_known(full_plan))
    if "u16" in CASES:
        doc_case("u16", in16, None, only_known(full_plan))
    if "f32" in CASES:
        doc_case("f32", in16, ("RGBA", "F32", "sRGB-elle-V2-srgbtrc.icc"), only_known(full_plan))
    if "f16" in CASES:
        doc_case("f16", in16, ("RGBA", "F16", "sRGB-elle-V2-srgbtrc.icc"), only_known(light_plan))
    if "grey" in CASES:
        doc_case("grey", in8, ("GRAYA", "U8", ""), only_known(light_plan[:1] + light_plan[2:]))
    if "cmyk" in CASES:
        doc, layer = open_doc(in8, ("CMYKA", "U8", ""))
        k.action("jewelmask_channel_mask").trigger()
        spin(0.2)
        REPORT["cmyk"] = {"status": ctrl.status, "level": ctrl.level, "nodes": masks_of(layer)}
        close_doc(doc)
    if "offset" in CASES:
        doc, layer = open_doc(in8)
        layer.move(40, 30)
        doc.waitForDone()
        spin(0.3)
        x, y, w, h = ctrl_region(doc, layer)
        info = {"region": [x, y, w, h], "pixels": dump("offset_layer.raw", layer.pixelData(x, y, w, h))}
        info.update(layer_info(layer))
        st = run_action("offset", doc, layer, "channel-mask", {"auto_levels": True}, "replace")
        info["steps"] = [st["i"]]
        REPORT["cases"]["offset"] = info
        close_doc(doc)
    if "vector" in CASES:
        doc, layer = open_doc(in8)
        info = layer_info(layer)
        info["shapes"], info["resolution"] = add_outline(doc, layer, resolution=300.0)
        x, y, w, h = ctrl_region(doc, layer)
        info["region"] = [x, y, w, h]
        info["pixels"] = dump("vector_layer.raw", layer.pixelData(x, y, w, h))
        st = run_action("vector", doc, layer, "path-to-mask", {"fill_rule": "nonzero"}, "replace")
        info["steps"] = [st["i"]]
        REPORT["cases"]["vector"] = info
        close_doc(doc)
    if "undo" in CASES:
        # plain action triggers: nothing else may go on the undo stack in between
        doc, layer = open_doc(in8)
        region = ctrl_region(doc, layer)

        def command(op, params, mode):
            for kk, v in params.items():
                ctrl.set_param(op, kk, v, preview=False)
            ctrl.set_mode(op, mode)
            k.action(ctrl.spec(op).action_id).trigger()
            spin(0.05)
            wait(lambda: ctrl.job is None, 300, op)
            return hashlib.sha1(bytes(main_mask(layer).pixelData(*region))).hexdigest()

        first = command("channel-mask", {"auto_levels": True}, "replace")
        second = command("colour-range", {"metal": "yellow-gold", "tolerance": 30.0}, "add")
        undo = k.action("edit_undo")
        seen = []
        for _ in range(2):
            undo.trigger()
            spin(0.3)
            m = main_mask(layer)
            seen.append(m and hashlib.sha1(bytes(m.pixelData(*region))).hexdigest())
        REPORT["undo"] = {"changed": first != second, "after_2_undos_is_first": seen[-1] == first,
                          "after_1_undo": seen[0] == first, "nodes": masks_of(layer)}
        # the foreground colour (set by Krita's colour sampler) into the sampled colours
        from krita import ManagedColor

        view = win.activeView()
        fg = ManagedColor("RGBA", "U8", "")
        fg.setComponents([55 / 255.0, 175 / 255.0, 212 / 255.0, 1.0])  # B, G, R, A
        view.setForeGroundColor(fg)
        ctrl.set_param("colour-range", "samples", [], preview=False)
        ctrl.add_foreground_colour("colour-range", "samples")
        ctrl.pick_from_canvas()
        REPORT["colour"] = {"samples": ctrl.store.get("colour-range")["samples"],
                            "metal": ctrl.store.get("colour-range")["metal"], "status": ctrl.status}
        ctrl.end_preview()
        close_doc(doc)
    if "preview" in CASES:
        preview_case("preview", in8, open_doc, close_doc, spin, wait, panel, ctrl, k, masks_of, main_mask)
    if "big" in CASES and os.environ.get("JM_BIG"):
        preview_case("big", os.environ["JM_BIG"], open_doc, close_doc, spin, wait, panel, ctrl, k,
                     masks_of, main_mask, moves=(14.0, 16.0, 18.0, 22.0, 26.0),
                     steady=(13.0, 15.0, 17.0), sizes=(None, 512),
                     extra_ops=(("ai-remove", {"tile_budget": 0}), ("path-to-mask", {})))
    if "cancel" in CASES:
        path = os.environ.get("JM_BIG") or in8
        doc, layer = open_doc(path)
        ctrl.set_param("ai-remove", "tile_budget", 100, preview=False)
        before = masks_of(layer)
        t = time.time()
        k.action("jewelmask_ai_remove").trigger()
        wait(lambda: ctrl.job is None or (ctrl.progress or 0) > 0.02 or time.time() - t > 20, 120, "progress")
        t_cancel = time.time()
        REPORT["cancel_progress_at_click"] = ctrl.progress
        (panel.cancel.click() if panel is not None else ctrl.cancel())
        wait(lambda: ctrl.job is None, 60, "cancel")
        REPORT["cancel"] = {"seconds_to_idle": round(time.time() - t_cancel, 3), "status": ctrl.status,
                            "history": ctrl.history[-1] if ctrl.history else None,
                            "nodes_before": before, "nodes_after": masks_of(layer)}
        ctrl.set_param("ai-remove", "tile_budget", 0, preview=False)
        close_doc(doc)


def preview_case(case, path, open_doc, close_doc, spin, wait, panel, ctrl, k, masks_of, main_mask,
                 moves=(20.0, 24.0, 30.0), steady=(), sizes=(None,), extra_ops=()):
    import jewelmask_krita.controller as controller_mod

    t = time.time()
    doc, layer = open_doc(path)
    rep = {"open_s": round(time.time() - t, 2), "size": [doc.width(), doc.height()]}
    ctrl.set_param("colour-range", "metal", "yellow-gold", preview=False)
    ctrl.set_param("colour-range", "tolerance", 12.0, preview=False)
    ctrl.set_mode("colour-range", "replace")
    # a mask first, so the preview has one to hide
    ctrl.set_param("channel-mask", "auto_levels", True, preview=False)
    k.action("jewelmask_channel_mask").trigger()
    spin(0.05)
    wait(lambda: ctrl.job is None, 900, "channel mask")
    rep["channel_mask_history"] = ctrl.history[-1]
    main = main_mask(layer)
    rep["main_before"] = main is not None and main.name()
    rep["canvas_after_command_s"] = REPORT["canvas_shows"](doc, main)

    def move(v):
        if panel is not None:
            panel.set_value("colour-range", "tolerance", v)
        else:
            ctrl.set_param("colour-range", "tolerance", v)

    n_log = len(ctrl.preview_log)
    # slider moves in the docker, as a user drags
    for v in moves:
        move(v)
        spin(0.03)
    t_stop = time.time()
    wait(lambda: ctrl.preview is not None and ctrl.preview.shown and ctrl.job is None
         and len(ctrl.preview_log) > n_log, 300, "preview")
    spin(0.3)
    wait(lambda: ctrl.job is None, 300, "preview settles")
    rep["after_stop_s"] = round(time.time() - t_stop, 3)
    rep["preview_log"] = ctrl.preview_log[n_log:]
    rep["during"] = masks_of(layer)
    rep["docker_preview_bar"] = panel is not None and panel.preview_bar.isVisible()
    shows = REPORT["canvas_shows"]
    rep["canvas_preview_s"] = shows(doc, ctrl.preview.view.node)
    # steady state: one slider step at a time, the preview session already open
    rep["steady"] = []
    for px in sizes:
        if px:
            ctrl.end_preview()
            controller_mod.PREVIEW_LONGEST = px
            move(11.0)
            wait(lambda: ctrl.preview is not None and ctrl.preview.shown and ctrl.job is None, 300, "reopen")
            spin(0.2)
        for v in steady:
            n = len(ctrl.preview_log)
            move(v)
            wait(lambda: len(ctrl.preview_log) > n and ctrl.job is None, 300, "steady preview")
            spin(0.2)
            rep["steady"].append(ctrl.preview_log[-1])
    ctrl.cancel()
    spin(0.3)
    rep["after_cancel"] = masks_of(layer)
    rep["canvas_after_cancel_s"] = shows(doc, main_mask(layer))
    # again, then apply
    move(16.0)
    wait(lambda: ctrl.preview is not None and ctrl.preview.shown and ctrl.job is None, 300, "preview 2")
    rep["during2"] = masks_of(layer)
    n_hist = len(ctrl.history)
    (panel.preview_apply.click() if panel is not None else ctrl.end_preview(apply=True))
    spin(0.05)
    wait(lambda: ctrl.job is None, 900, "apply")
    rep["after_apply"] = masks_of(layer)
    rep["canvas_after_apply_s"] = shows(doc, main_mask(layer))
    rep["apply_history"] = ctrl.history[-1] if len(ctrl.history) > n_hist else None
    rep["extra"] = []
    for op, params in extra_ops:
        for kk, v in params.items():
            ctrl.set_param(op, kk, v, preview=False)
        k.action(ctrl.spec(op).action_id).trigger()
        spin(0.05)
        wait(lambda: ctrl.job is None, 900, op)
        rep["extra"].append(ctrl.history[-1])
    REPORT["preview_" + case] = rep
    close_doc(doc)


code = 1
try:
    main()
    REPORT["status"] = "ok"
    code = 0
except Exception:
    REPORT["status"] = "error"
    REPORT["traceback"] = traceback.format_exc()
    print(REPORT["traceback"], file=sys.stderr, flush=True)
REPORT["total_s"] = round(time.time() - T0, 2)
REPORT.pop("canvas_shows", None)
try:
    REPORT["history"] = CONTROLLER.history  # noqa: F821
    REPORT["preview_log"] = CONTROLLER.preview_log  # noqa: F821
except Exception:
    pass
with open(os.path.join(OUT, "report.json"), "w") as f:
    json.dump(REPORT, f, indent=1, default=str)
sys.stdout.flush()
sys.stderr.flush()
os._exit(code)

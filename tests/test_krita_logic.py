"""Fast tests of the Krita plug-in's logic, without Krita.

A fake Krita document (nodes holding bytes in Krita's layouts) drives the
plug-in's document and controller code; the engine is the real worker,
reached through the real stdlib bridge (one worker per command). The docker
widgets are built with PyQt5 on Qt's offscreen platform when PyQt5 is
installed (``pip install PyQt5``); the real-Krita tests are in
test_krita_plugin.py.
"""

from __future__ import annotations

import json
import os
import struct
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "krita_plugin"))
sys.path.insert(0, str(ROOT / "install"))

from jewelmask_krita import catalogue, document, pixels  # noqa: E402
from jewelmask_krita.controller import Controller  # noqa: E402
from jewelmask_krita.engine_link import EngineLink, load_bridge  # noqa: E402

from jewelmask.dtypes import quantize  # noqa: E402
from jewelmask.ops import combine_masks, run_op  # noqa: E402
from jewelmask.worker import describe_ops  # noqa: E402

# --- a fake Krita ------------------------------------------------------------


class Rect:
    def __init__(self, x, y, w, h):
        self._r = (x, y, w, h)

    def x(self):
        return self._r[0]

    def y(self):
        return self._r[1]

    def width(self):
        return self._r[2]

    def height(self):
        return self._r[3]


_BPP = {("RGBA", "U8"): 4, ("RGBA", "U16"): 8, ("RGBA", "F16"): 8, ("RGBA", "F32"): 16,
        ("GRAYA", "U8"): 2, ("GRAYA", "U16"): 4, ("CMYKA", "U8"): 5, ("A", "U8"): 1}
_IDS = iter(range(1, 10 ** 6))


class Node:
    """Pixels in document coordinates; outside what was written reads as zeros."""

    def __init__(self, doc, name, kind, model="RGBA", depth="U8"):
        self.doc, self._name, self._type = doc, name, kind
        self.model, self.depth = model, depth
        self.bpp = _BPP[(model, depth)]
        self.data = {}  # (x, y, w, h) -> bytes, latest last
        self.children, self.parent = [], None
        self._visible = True
        self._id = next(_IDS)
        self.offset = (0, 0)

    def name(self):
        return self._name

    def type(self):
        return self._type

    def colorModel(self):
        return self.model

    def colorDepth(self):
        return self.depth

    def colorProfile(self):
        return "sRGB-elle-V2-srgbtrc.icc"

    def uniqueId(self):
        return self._id

    def visible(self):
        return self._visible

    def setVisible(self, v):
        self._visible = bool(v)

    def parentNode(self):
        return self.parent

    def childNodes(self):
        return list(self.children)

    def setPixelData(self, data, x, y, w, h):
        assert len(data) == w * h * self.bpp, (len(data), w, h, self.bpp)
        self.data[(x, y, w, h)] = bytes(data)

    def pixelData(self, x, y, w, h):
        out = bytearray(w * h * self.bpp)
        ox, oy = self.offset
        for (rx, ry, rw, rh), buf in self.data.items():
            rx, ry = rx + ox, ry + oy
            for r in range(max(y, ry), min(y + h, ry + rh)):
                c0, c1 = max(x, rx), min(x + w, rx + rw)
                if c0 >= c1:
                    continue
                src = ((r - ry) * rw + (c0 - rx)) * self.bpp
                dst = ((r - y) * w + (c0 - x)) * self.bpp
                out[dst:dst + (c1 - c0) * self.bpp] = buf[src:src + (c1 - c0) * self.bpp]
        return bytes(out)

    def bounds(self):
        if not self.data:
            return Rect(0, 0, 0, 0)
        (x, y, w, h) = next(iter(self.data))
        return Rect(x + self.offset[0], y + self.offset[1], w, h)

    def addChildNode(self, child, above):
        i = self.children.index(above) + 1 if above is not None else len(self.children)
        self.children.insert(i, child)
        child.parent = self
        self.doc.undo.append(("add", child._name))
        return True

    def remove(self):
        self.parent.children.remove(self)
        self.doc.undo.append(("remove", self._name))
        self.parent = None
        return True

    def setColorSpace(self, model, depth, profile):
        self.model, self.depth = model, depth
        self.bpp = _BPP[(model, depth)]
        return True

    def shapes(self):
        return getattr(self, "_shapes", [])


class Doc:
    def __init__(self, w, h):
        self.w, self.h = w, h
        self.undo = []
        self.refreshes = 0
        self.root = Node(self, "root", "grouplayer")
        self.active = None
        self.sel = None

    def width(self):
        return self.w

    def height(self):
        return self.h

    def resolution(self):
        return 72.0

    def rootNode(self):
        return self.root

    def topLevelNodes(self):
        return self.root.childNodes()

    def activeNode(self):
        return self.active

    def selection(self):
        return self.sel

    def createTransparencyMask(self, name):
        return Node(self, name, "transparencymask", "A", "U8")

    def createNode(self, name, kind):
        return Node(self, name, kind)

    def refreshProjection(self):
        self.refreshes += 1

    def add_layer(self, img, model="RGBA", depth="U8", name="Background"):
        h, w = img.shape[:2]
        n = Node(self, name, "paintlayer", model, depth)
        n.setPixelData(np.ascontiguousarray(img).tobytes(), 0, 0, w, h)
        self.root.addChildNode(n, None)
        self.active = n
        self.undo.clear()
        return n


class Selection:
    def __init__(self, plane):
        self.plane = plane

    def width(self):
        return self.plane.shape[1]

    def height(self):
        return self.plane.shape[0]

    def pixelData(self, x, y, w, h):
        return self.plane[y:y + h, x:x + w].tobytes()


class App:
    def __init__(self, doc):
        self.doc = doc
        self.settings = {}

    def activeDocument(self):
        return self.doc

    def readSetting(self, group, key, default):
        return self.settings.get((group, key), default)

    def writeSetting(self, group, key, value):
        self.settings[(group, key)] = value

    def action(self, name):
        return None

    def activeWindow(self):
        return None


class FakeTimer:
    def __init__(self, cb, single):
        self.cb, self.active = cb, False

    def start(self, ms):
        self.active = True

    def stop(self):
        self.active = False


def scene_bgra(rgb):
    """RGB uint8 -> Krita's RGBA U8 layout (B, G, R, A)."""
    h, w = rgb.shape[:2]
    return np.dstack([rgb[..., 2], rgb[..., 1], rgb[..., 0], np.full((h, w), 255, np.uint8)])


# --- pixels -------------------------------------------------------------------


def test_layouts_and_clear_messages():
    assert (pixels.layout_for("RGBA", "U8").dtype, pixels.layout_for("RGBA", "U8").swap_rb) == ("u8", True)
    assert pixels.layout_for("RGBA", "F32").swap_rb is False
    assert pixels.layout_for("RGBA", "F16").dtype == "f32"
    assert pixels.layout_for("GRAYA", "U16").channels == 2
    for model in ("CMYKA", "LABA"):
        with pytest.raises(pixels.UnsupportedLayer, match="Convert Image Color Space"):
            pixels.layout_for(model, "U8")
    assert pixels.is_linear_profile("sRGB-elle-V2-g10.icc")
    assert not pixels.is_linear_profile("sRGB-elle-V2-srgbtrc.icc")


def test_swap_and_f16_are_exact():
    rng = np.random.default_rng(0)
    a8 = rng.integers(0, 256, (5, 7, 4), dtype=np.uint8)
    got = np.frombuffer(bytes(pixels.swap_red_blue(a8.tobytes(), 1)), np.uint8).reshape(a8.shape)
    assert np.array_equal(got, a8[..., [2, 1, 0, 3]])
    a16 = rng.integers(0, 65536, (5, 7, 4), dtype=np.uint16)
    got = np.frombuffer(bytes(pixels.swap_red_blue(a16.tobytes(), 2)), np.uint16).reshape(a16.shape)
    assert np.array_equal(got, a16[..., [2, 1, 0, 3]])
    h = np.concatenate([rng.normal(0, 3, 500), [0.0, -0.0, 65504.0, 1e-7, np.inf]]).astype(np.float16)
    got = np.frombuffer(pixels.f16_to_f32(h.tobytes()), np.float32)
    assert np.array_equal(got, h.astype(np.float32))


@pytest.mark.parametrize("bpp,dtype,ch", [(1, np.uint8, 1), (4, np.uint8, 4), (8, np.uint16, 4),
                                          (16, np.float32, 4), (2, np.uint8, 2)])
@pytest.mark.parametrize("step", [1, 3, 4])
def test_decimate_row_is_nearest(bpp, dtype, ch, step):
    row = np.arange(101 * ch).astype(dtype).reshape(101, ch)
    got = np.frombuffer(pixels.decimate_row(row.tobytes(), bpp, step), dtype).reshape(-1, ch)
    assert np.array_equal(got, row[::step])


@pytest.mark.parametrize("w,h,step", [(10, 7, 1), (10, 7, 3), (6000 // 50, 4000 // 50, 4)])
def test_expand_mask_is_nearest(w, h, step):
    sw, sh = pixels.decimated_size(w, h, step)
    small = np.random.default_rng(1).integers(0, 256, (sh, sw), dtype=np.uint8)
    got = np.frombuffer(pixels.expand_mask(small.tobytes(), sw, sh, w, h, step), np.uint8).reshape(h, w)
    want = np.repeat(np.repeat(small, step, 0), step, 1)[:h, :w]
    assert np.array_equal(got, want)
    assert pixels.preview_step(6000, 4000, 1600) == 4


def test_colours():
    assert pixels.colour_to_rgb255("RGBA", "U8", [0.2, 0.4, 0.8, 1.0]) == (204, 102, 51)  # B,G,R,A
    assert pixels.colour_to_rgb255("RGBA", "F32", [0.2, 0.4, 0.8, 1.0]) == (51, 102, 204)
    assert pixels.colour_to_rgb255("GRAYA", "U8", [0.5, 1.0]) == (128, 128, 128)
    assert pixels.colour_to_rgb255("CMYKA", "U8", [0, 0, 0, 0, 1]) is None
    # colour fields: the bridge's parser, which the installers copy next to the plug-in
    bridge = load_bridge()
    assert bridge.parse_colours("#d4af37 183,110,121") == [(212, 175, 55), (183, 110, 121)]
    assert bridge.format_colours([(212, 175, 55)]) == "#d4af37"
    with pytest.raises(ValueError, match="colours must be like"):
        bridge.parse_colours("gold")


# --- catalogue ----------------------------------------------------------------


def test_sections_come_from_the_manifest():
    manifest = describe_ops()
    specs = catalogue.specs_from_manifest(manifest)
    names = [s.name for s in specs]
    assert names[:7] == [op for _, op, _ in catalogue.ACTIONS]
    engine_ops = {op["name"] for op in manifest["ops"]}
    for s in specs:
        assert s.available == (s.name in engine_ops)
        if s.available:
            assert [p["name"] for p in s.params] == [
                p["name"] for op in manifest["ops"] if op["name"] == s.name for p in op["params"]]
    # an operation added to the engine later appears with no code change
    extra = dict(manifest, ops=manifest["ops"] + [{"name": "sparkle", "label": "Sparkle", "params": [
        {"name": "amount", "kind": "float", "default": 0.5, "minimum": 0, "maximum": 1}]}])
    more = catalogue.specs_from_manifest(extra)
    assert more[-1].name == "sparkle" and more[-1].action_id == "jewelmask_sparkle"
    # before the engine answered: every command listed, none available
    assert all(not s.available for s in catalogue.specs_from_manifest(None))
    assert [a for a, _, _ in catalogue.ACTIONS] == [
        "jewelmask_auto", "jewelmask_ai_remove", "jewelmask_colour_range", "jewelmask_channel_mask",
        "jewelmask_path_to_mask", "jewelmask_refine_edge", "jewelmask_decontaminate"]


def test_param_store_checks_clamps_and_remembers():
    saved = {}
    specs = catalogue.specs_from_manifest(describe_ops())
    store = catalogue.ParamStore(specs, read=saved.get, write=saved.__setitem__)
    assert store.mode("colour-range") == "add"  # the manifest's default mode
    assert store.set("colour-range", "tolerance", 500) == 60.0
    assert store.set("channel-mask", "gamma", "2") == 2.0
    with pytest.raises(ValueError, match="Metal"):
        store.set("colour-range", "metal", "silver-ish")
    store.set_mode("channel-mask", "intersect")
    store.save("channel-mask")
    again = catalogue.ParamStore(specs, read=saved.get, write=saved.__setitem__)
    assert again.get("channel-mask")["gamma"] == 2.0 and again.mode("channel-mask") == "intersect"
    assert json.loads(saved["channel-mask"])["mode"] == "intersect"


# --- document -------------------------------------------------------------------


def test_region_grows_to_a_moved_layer_and_masks_replace_undoably():
    doc = Doc(40, 30)
    layer = doc.add_layer(np.zeros((30, 40, 4), np.uint8))
    layer.offset = (10, 5)
    assert document.region_of(doc, layer) == (0, 0, 50, 35)
    region = (0, 0, 40, 30)
    m1 = document.put_mask(doc, layer, region, bytes([7]) * 1200)
    assert m1.name() == document.MAIN_MASK_NAME and document.main_mask(layer) is m1
    m2 = document.put_mask(doc, layer, region, bytes([9]) * 1200, old=m1)
    assert layer.childNodes() == [m2] and m2.pixelData(0, 0, 1, 1) == b"\x09"
    assert doc.undo == [("add", "Jewelry Mask"), ("add", "Jewelry Mask"), ("remove", "Jewelry Mask")]
    ch = document.write_channels(doc, layer, region, [("jewelmask: ai", bytes(1200))])
    assert not ch[0].visible() and document.main_mask(layer) is m2  # hidden, never the main mask
    p = document.Preview(doc, layer, region)
    p.show(bytes(1200))
    assert not m2.visible() and document.PREVIEW_NAME in [n.name() for n in layer.childNodes()]
    p.close()
    assert m2.visible() and document.PREVIEW_NAME not in [n.name() for n in layer.childNodes()]


def test_target_layer_rules():
    doc = Doc(4, 4)
    with pytest.raises(document.UserError, match="Open an image"):
        document.target_layer(None)
    layer = doc.add_layer(np.zeros((4, 4, 4), np.uint8))
    mask = doc.createTransparencyMask("m")
    layer.addChildNode(mask, None)
    doc.active = mask
    assert document.target_layer(doc) is layer
    group = doc.createNode("g", "grouplayer")
    doc.active = group
    with pytest.raises(document.UserError, match="Select a paint layer"):
        document.target_layer(doc)


# --- controller with the real engine -------------------------------------------------


@pytest.fixture
def engine_env(monkeypatch, tmp_path):
    monkeypatch.setenv("JEWELMASK_PYTHON", sys.executable)
    monkeypatch.setenv("JEWELMASK_WORKER_IDLE", "0")  # one worker per command
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))


def make_controller(doc, tmp_path):
    ctrl = Controller(App(doc), link=EngineLink(str(tmp_path)), timer_factory=FakeTimer,
                      log_path=str(tmp_path / "log.txt"))
    ctrl.connect()
    settle(ctrl)
    assert ctrl.link.error is None, ctrl.link.error
    return ctrl


def settle(ctrl, timeout=120):
    end = time.time() + timeout
    while ctrl.job is not None:
        assert time.time() < end, "job did not finish"
        time.sleep(0.02)
        ctrl.poll()


def test_command_writes_the_engines_mask(engine_env, tmp_path, scene):
    rgb, _ = scene
    rgb = np.ascontiguousarray(rgb[:120, :160])
    doc = Doc(160, 120)
    layer = doc.add_layer(scene_bgra(rgb))
    old = np.zeros((120, 160), np.uint8)
    old[20:100, 30:130] = 255
    document.put_mask(doc, layer, (0, 0, 160, 120), old.tobytes())
    sel = np.zeros((120, 160), np.uint8)
    sel[:, :80] = 255
    doc.sel = Selection(sel)
    ctrl = make_controller(doc, tmp_path)
    ctrl.set_param("channel-mask", "auto_levels", False, preview=False)
    ctrl.set_param("channel-mask", "white", 0.4, preview=False)
    ctrl.set_mode("channel-mask", "intersect")
    before = layer.pixelData(0, 0, 160, 120)
    ctrl.run("channel-mask")
    settle(ctrl)
    assert ctrl.history[-1]["status"] == "ok", ctrl.status
    got = np.frombuffer(document.main_mask(layer).pixelData(0, 0, 160, 120), np.uint8).reshape(120, 160)
    image = rgb.astype(np.float32) / np.float32(255)
    image = np.dstack([image, np.ones((120, 160), np.float32)])
    params = ctrl.store.get("channel-mask")
    res = run_op("channel-mask", image, mask=old / 255.0, selection=sel / 255.0, params=params)
    want = quantize(combine_masks(old / 255.0, res.mask, "intersect", selection=sel / 255.0), np.uint8)
    assert np.abs(got.astype(int) - want).max() <= 1
    assert layer.pixelData(0, 0, 160, 120) == before  # never pixels
    assert "jewelmask: channel" in [n.name() for n in layer.childNodes()]


def test_refine_edge_and_decontaminate(engine_env, tmp_path, scene):
    """Refine edge: the selection is its brush (the mask changes outside it too).
    Decontaminate: a new paint layer above with the engine's colours and a copy
    of the mask; the layer and its mask stay as they were."""
    rgb, alpha = scene
    rgb, alpha = np.ascontiguousarray(rgb[:120, :160]), np.ascontiguousarray(alpha[:120, :160])
    doc = Doc(160, 120)
    layer = doc.add_layer(scene_bgra(rgb))
    ctrl = make_controller(doc, tmp_path)
    ctrl.run("refine-edge")  # no mask yet
    assert ctrl.level == "error" and "has none" in ctrl.status and ctrl.job is None
    old = quantize(np.clip(alpha * 1.3, 0, 1), np.uint8)  # a mask a little too strong
    document.put_mask(doc, layer, (0, 0, 160, 120), old.tobytes())
    sel = np.zeros((120, 160), np.uint8)
    sel[:40, :60] = 255
    doc.sel = Selection(sel)
    before = layer.pixelData(0, 0, 160, 120)
    image = np.dstack([rgb.astype(np.float32) / np.float32(255), np.ones((120, 160), np.float32)])
    old_f, sel_f = old / np.float32(255), sel / np.float32(255)

    ctrl.run("refine-edge")
    settle(ctrl)
    assert ctrl.history[-1]["status"] == "ok", ctrl.status
    got = np.frombuffer(document.main_mask(layer).pixelData(0, 0, 160, 120), np.uint8).reshape(120, 160)
    res = run_op("refine-edge", image, mask=old_f, selection=sel_f, params=ctrl.store.get("refine-edge"))
    assert np.abs(got.astype(int) - quantize(res.mask, np.uint8)).max() <= 1
    assert (got != old)[sel == 0].any()  # a brush, not a limit

    refined = got.copy()
    ctrl.run("decontaminate")
    settle(ctrl)
    assert ctrl.history[-1]["status"] == "ok", ctrl.status
    assert "new layer" in ctrl.status
    top = doc.topLevelNodes()
    assert [n.name() for n in top] == ["Background", "Background (decontaminate colours)"]
    new = top[1]
    assert layer.pixelData(0, 0, 160, 120) == before  # never the layer's pixels
    assert document.main_mask(layer).pixelData(0, 0, 160, 120) == refined.tobytes()
    (copy,) = new.childNodes()
    assert copy.type() == "transparencymask" and copy.pixelData(0, 0, 160, 120) == refined.tobytes()
    layer_f32 = np.frombuffer(new.data[(0, 0, 160, 120)], np.float32).reshape(120, 160, 4)
    want = run_op("decontaminate", image, mask=refined / np.float32(255)).layer
    want = np.where(sel[..., None] > 0, want, image)  # limited to the selection
    np.testing.assert_allclose(layer_f32, want, atol=1e-6)
    assert np.abs(layer_f32 - image).max() > 0.05


def test_messages_for_missing_ops_and_cmyk(engine_env, tmp_path):
    doc = Doc(8, 8)
    layer = doc.add_layer(np.zeros((8, 8, 5), np.uint8), model="CMYKA")
    ctrl = make_controller(doc, tmp_path)
    ctrl.run("channel-mask")
    assert "CMYK" in ctrl.status and ctrl.level == "error" and ctrl.job is None
    missing = [s for s in ctrl.specs if not s.available]
    for s in missing:
        ctrl.run(s.name)
        assert "not available yet" in ctrl.status
    assert layer.childNodes() == []


def test_live_preview_shows_and_goes_away(engine_env, tmp_path, scene):
    rgb, _ = scene
    doc = Doc(rgb.shape[1], rgb.shape[0])
    layer = doc.add_layer(scene_bgra(rgb))
    main = document.put_mask(doc, layer, (0, 0, doc.w, doc.h), b"\xff" * (doc.w * doc.h))
    ctrl = make_controller(doc, tmp_path)
    ctrl.set_param("colour-range", "tolerance", 20.0)  # a slider moved
    assert ctrl._debounce.active
    ctrl._preview_fire()  # the debounce timer fires
    settle(ctrl)
    assert ctrl.preview is not None and ctrl.preview.shown
    names = [n.name() for n in layer.childNodes()]
    assert document.PREVIEW_NAME in names and not main.visible()
    assert ctrl.preview_log and ctrl.preview_log[-1]["op"] == "colour-range"
    ctrl.cancel()
    assert document.PREVIEW_NAME not in [n.name() for n in layer.childNodes()] and main.visible()
    # again, then apply: the full-size command runs and the preview is gone
    ctrl.set_param("colour-range", "tolerance", 22.0)
    ctrl._preview_fire()
    settle(ctrl)
    ctrl.end_preview(apply=True)
    settle(ctrl)
    assert ctrl.history[-1]["op"] == "colour-range" and ctrl.history[-1]["status"] == "ok"
    assert document.PREVIEW_NAME not in [n.name() for n in layer.childNodes()]


def test_errors_go_to_the_log(engine_env, tmp_path, scene):
    from jewelmask_krita.engine_link import setup_logging

    log = setup_logging(str(tmp_path / "jm.log"))
    rgb = np.ascontiguousarray(scene[0][:64, :64])
    doc = Doc(64, 64)
    doc.add_layer(scene_bgra(rgb))
    ctrl = make_controller(doc, tmp_path)
    ctrl.log_path = log
    doc.createTransparencyMask = None  # a bug in the middle of a command
    ctrl.run("channel-mask")
    settle(ctrl)
    assert ctrl.level == "error" and "details in" in ctrl.status and "\n" not in ctrl.status
    assert "Traceback" in Path(log).read_text()


# --- installer --------------------------------------------------------------------


def test_kritarc_editing_keeps_everything_else():
    from krita_installer import set_kritarc_flag

    assert set_kritarc_flag("", "enable_x", "true") == "[python]\nenable_x=true\n"
    text = "[General]\nFoo=1\n\n[python]\nenable_other=true\n\n[Zed]\nA=%20b\n"
    on = set_kritarc_flag(text, "enable_x", "true")
    assert on == "[General]\nFoo=1\n\n[python]\nenable_other=true\nenable_x=true\n\n[Zed]\nA=%20b\n"
    assert set_kritarc_flag(on, "enable_x", "true") == on
    assert set_kritarc_flag(on, "enable_x", None) == text
    assert "enable_x=true" in set_kritarc_flag("[python]\nenable_x=false\n", "enable_x", "true")


@pytest.mark.parametrize("link", [False, True])
def test_install_and_uninstall_plugin_files(tmp_path, link):
    import krita_installer as ki

    env = {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data"),
           "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    loc = ki.krita_locations("linux", env)
    assert loc["pykrita"] == tmp_path / "data" / "krita" / "pykrita"
    assert loc["kritarc"] == tmp_path / "cfg" / "kritarc"
    dest = ki.install_plugin(loc, link=link, engine_config={"python": sys.executable})
    ki.edit_kritarc(loc["kritarc"], enable=True)
    assert (dest / "__init__.py").exists() and (dest / "bridge_client.py").exists()
    assert (dest / "__init__.py").is_symlink() == link
    assert (loc["pykrita"] / "jewelmask_krita.desktop").exists()
    assert (loc["actions"] / "jewelmask_krita.action").exists()
    assert json.loads((dest / "jewelmask-engine.json").read_text())["python"] == sys.executable
    assert "enable_jewelmask_krita=true" in loc["kritarc"].read_text()
    # the installed copy finds its engine through the config file
    bridge = load_bridge()
    assert bridge.find_engine(str(dest)).command == [sys.executable]
    ki.uninstall_plugin(loc)
    assert not dest.exists() and "enable_jewelmask_krita" not in loc["kritarc"].read_text()


def test_action_file_lists_every_action():
    text = (ROOT / "krita_plugin" / "jewelmask_krita.action").read_text()
    for aid, _, _ in catalogue.ACTIONS:
        assert f'<Action name="{aid}">' in text


def test_plugin_imports_only_stdlib_and_pyqt():
    allowed = set(sys.stdlib_module_names) | {"PyQt5", "krita", "jewelmask_krita"}
    for f in (ROOT / "krita_plugin" / "jewelmask_krita").glob("*.py"):
        import ast

        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                mods = [node.module]
            else:
                continue
            for m in mods:
                assert m.split(".")[0] in allowed, (f.name, m)


# --- the docker's widgets (PyQt5 offscreen) ------------------------------------------


def test_docker_built_from_manifest(engine_env, tmp_path, monkeypatch):
    pytest.importorskip("PyQt5.QtWidgets", reason="PyQt5 is not installed (pip install PyQt5)")
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    from PyQt5.QtWidgets import QApplication

    from jewelmask_krita.docker import DockerPanel

    app = QApplication.instance() or QApplication([])
    doc = Doc(8, 8)
    doc.add_layer(np.zeros((8, 8, 4), np.uint8))
    ctrl = make_controller(doc, tmp_path)
    panel = DockerPanel(ctrl)
    assert list(panel.sections)[:7] == [op for _, op, _ in catalogue.ACTIONS]
    for name, sec in panel.sections.items():
        spec = ctrl.spec(name)
        assert sec.apply.isEnabled() == spec.available
        assert set(sec.editors) == {p["name"] for p in spec.params}
    panel.set_value("colour-range", "tolerance", 33.3)
    assert ctrl.store.get("colour-range")["tolerance"] == pytest.approx(33.3, abs=0.05)
    assert ctrl._debounce.active  # the slider asks for a preview
    panel.set_value("colour-range", "samples", [[1, 2, 3]])
    assert ctrl.store.get("colour-range")["samples"] == [[1, 2, 3]]
    ctrl.say("one line", "error")
    assert panel.status.text() == "one line"
    panel.close()
    app.processEvents()

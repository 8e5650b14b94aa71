# Drives the installed jewelmask plug-in inside GIMP 3, headless. Executed by
# GIMP's python-fu-eval batch interpreter (see run-gimp-tests.sh):
#
#   gimp-console-3.0 -i --batch-interpreter python-fu-eval \
#       -b 'exec(open("/src/tests/editors/gimp/driver.py").read())' --quit
#
# GIMP's own Python has no numpy, and this script needs none: it calls every
# plug-in-jewelmask-* procedure through the PDB on the test images, dumps
# what it needs as raw files into $JM_OUT, and writes $JM_OUT/report.json.
# The checks (against the engine run on the host) are in tests/test_gimp_plugin.py.
#
# Inputs in $JM_OUT/in: ring.png (8-bit RGB), ring16.png (16-bit RGB),
# patch.raw (RGBA u8 for the offset layer; size in cases.json), cases.json.
import json
import os
import shutil
import time
import traceback

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp, Gio  # noqa: E402

OUT = os.environ.get("JM_OUT", "/out")
PLUGIN_DIR = os.environ["JM_PLUGIN_DIR"]
IN = os.path.join(OUT, "in")
SPEC = json.load(open(os.path.join(IN, "cases.json")))
OPS = json.load(open(os.path.join(PLUGIN_DIR, "jewelmask-ops.json")))["ops"]
PREFIX = "plug-in-jewelmask-"
# The structural checks (modes, selection, offsets, colour models) use the
# quickest command that needs neither the AI model nor a path.
CHEAP = next((op for op in OPS if not op.get("needs")), OPS[0])
pdb = Gimp.get_pdb()
report = {"gimp": Gimp.version(), "cases": [], "failures": [], "seconds": {}}
T0 = time.time()
_count = [0]


def gfile(p):
    return Gio.File.new_for_path(p)


def load(name):
    return Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, gfile(os.path.join(IN, name)))


def babl_type(image):
    comp = int(image.get_precision()) // 100
    return {1: "u8", 2: "u16"}.get(comp, "float")


def plugin_read_format(image, layer):
    """The format the plug-in documents it reads a layer in (docs/gimp.md)."""
    t = babl_type(image)
    if t != "float" and int(image.get_precision()) % 100 == 0:
        t = "float"  # linear integer images are read as float
    return ("Y'" if layer.is_gray() else "R'G'B'") + ("A" if layer.has_alpha() else "") + " " + t


def nchan(fmt):
    head = fmt.split()[0]
    return (1 if head.startswith("Y") else 3) + (1 if head.endswith("A") else 0)


def dtype_of(fmt):
    return {"u8": "u8", "u16": "u16", "float": "f32"}[fmt.split()[1]]


def read(drawable, fmt, x=0, y=0, w=None, h=None):
    w = drawable.get_width() if w is None else w
    h = drawable.get_height() if h is None else h
    return drawable.get_buffer().get(Gegl.Rectangle.new(x, y, w, h), 1.0, fmt, Gegl.AbyssPolicy.NONE)


def dump(tag, drawable, fmt, x=0, y=0, w=None, h=None):
    """Write a drawable's pixels to a raw file; returns its description."""
    w = drawable.get_width() if w is None else w
    h = drawable.get_height() if h is None else h
    _count[0] += 1
    name = "%03d-%s.raw" % (_count[0], tag)
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(read(drawable, fmt, x, y, w, h))
    return {"file": name, "width": w, "height": h, "channels": nchan(fmt), "dtype": dtype_of(fmt),
            "format": fmt}


def offsets(layer):
    off = layer.get_offsets()
    return (off[1], off[2]) if len(off) == 3 else (off[0], off[1])


def op_params(op):
    params = dict(SPEC.get("params", {}).get(op["name"], {}))
    return params


def arg(name):
    out = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")
    return "op-" + out if out in ("run-mode", "image", "drawables", "mode") else out


def run_proc(op, image, drawables, mode=None, params=None):
    """Run plug-in-jewelmask-<op> non-interactively; returns (status, message, seconds)."""
    proc = pdb.lookup_procedure(PREFIX + op["name"])
    if proc is None:
        return "MISSING", "procedure not registered", 0.0
    cfg = proc.create_config()
    cfg.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
    cfg.set_property("image", image)
    cfg.set_core_object_array("drawables", drawables)
    for k, v in (params or {}).items():
        p = next(p for p in op["params"] if p["name"] == k)
        if p["kind"] == "choice":
            v = "".join(c if c.isalnum() else "-" for c in str(v).lower()).strip("-")
        cfg.set_property(arg(k), v)
    if mode:
        cfg.set_property("mode", mode)
    t = time.time()
    res = proc.run(cfg)
    dt = time.time() - t
    status = res.index(0)
    message = ""
    if status != Gimp.PDBStatusType.SUCCESS:
        try:
            message = str(res.index(1))
        except Exception:
            message = ""
        if not message or message == "None":
            try:
                message = pdb.get_last_error()
            except Exception:
                pass
    return status.value_nick.upper() if hasattr(status, "value_nick") else str(status), message, dt


def add_test_path(image):
    """A path as a user draws it (two subpaths), for the commands that need paths."""
    svg = SPEC["path_svg"]
    ok, paths = image.import_paths_from_string(svg, len(svg), False, False)
    image.set_selected_paths(list(paths))
    strokes = []
    for p in paths:
        for sid in p.get_strokes():
            _t, pts, closed = p.stroke_get_points(sid)
            strokes.append([list(pts), bool(closed)])
    return [{"format": "gimp", "name": paths[0].get_name() if paths else "", "strokes": strokes}]


def prepare(op, image, layers):
    """What a command needs before it can run (its "needs"): a path, a
    selection (the refine brush), an existing mask."""
    extra = {}
    needs = op.get("needs", ())
    if "paths" in needs:
        extra["paths"] = add_test_path(image)
    if "selection" in needs and Gimp.Selection.is_empty(image):
        x, y, w, h = SPEC["selection"]
        image.select_rectangle(Gimp.ChannelOps.REPLACE, x, y, w, h)
    if "mask" in needs:
        for layer in layers:
            if layer.get_mask() is None:
                gradient_mask(layer, image)
    return extra


def case(kind, op, image, layers, mode=None, params=None, **extra):
    """Run one command on `layers` and record everything the host checks."""
    params = op_params(op) if params is None else params
    entry = {"kind": kind, "op": op["name"], "mode": mode or op["default_mode"], "params": params,
             "precision": str(image.get_precision().value_nick), "layers": []}
    entry.update(extra)
    if "paths" not in extra:
        entry.update(prepare(op, image, layers))
    before = []
    for layer in layers:
        fmt = plugin_read_format(image, layer)
        mask = layer.get_mask()
        mfmt = "Y " + babl_type(image)
        ox, oy = offsets(layer)
        info = {"name": layer.get_name(), "offset": [ox, oy], "input": dump("in", layer, fmt),
                "old_mask": dump("old", mask, mfmt) if mask else None}
        if not Gimp.Selection.is_empty(image):
            info["selection"] = dump("sel", image.get_selection(), mfmt, ox, oy,
                                     layer.get_width(), layer.get_height())
        entry["layers"].append(info)
        before.append(read(layer, fmt))
    n_layers, n_channels = len(image.get_layers()), len(image.get_channels())
    ids = set(l.get_id() for l in image.get_layers())
    status, message, dt = run_proc(op, image, layers, mode, params)
    entry.update(status=status, message=message, seconds=round(dt, 3))
    for layer, info, old in zip(layers, entry["layers"], before):
        info["pixels_unchanged"] = read(layer, plugin_read_format(image, layer)) == old
        if info.get("selection"):  # the command leaves the selection as it found it
            ox, oy = offsets(layer)
            info["selection_after"] = dump("sel", image.get_selection(), "Y " + babl_type(image), ox, oy,
                                           layer.get_width(), layer.get_height())
        mask = layer.get_mask()
        if mask is not None:
            info["mask"] = dump("mask", mask, "Y " + babl_type(image))
            info["mask_format"] = str(mask.get_format().get_name()) if hasattr(mask.get_format(), "get_name") else ""
    entry["new_layers"] = len(image.get_layers()) - n_layers
    for new in image.get_layers():
        if new.get_id() not in ids:
            nm = new.get_mask()
            entry.setdefault("new_layer_pixels", []).append(
                {"name": new.get_name(), "offset": list(offsets(new)), "has_mask": nm is not None,
                 "position": image.get_item_position(new),
                 "pixels": dump("newlayer", new, "R'G'B'A float"),
                 "mask": dump("newmask", nm, "Y " + babl_type(image)) if nm is not None else None})
    entry["source_position"] = [image.get_item_position(layer) for layer in layers]
    entry["channels"] = [c.get_name() for c in image.get_channels()]
    entry["new_channels"] = len(image.get_channels()) - n_channels
    report["cases"].append(entry)
    return entry


def gradient_mask(layer, image):
    """Give `layer` a mask that ramps from black (left) to white (right)."""
    mask = layer.create_mask(Gimp.AddMaskType.WHITE)
    layer.add_mask(mask)
    w, h = layer.get_width(), layer.get_height()
    row = bytes(int(round(255 * x / (w - 1))) for x in range(w))
    buf = mask.get_buffer()
    buf.set(Gegl.Rectangle.new(0, 0, w, h), "Y u8", row * h)
    buf.flush()
    return mask


def guarded(name, fn):
    t = time.time()
    try:
        fn()
    except Exception:
        report["failures"].append({"step": name, "traceback": traceback.format_exc()})
    report["seconds"][name] = round(time.time() - t, 2)


images = []


def keep(image):
    images.append(image)
    return image


def base(precision):
    if precision == "u8":
        return keep(load("ring.png"))
    img = keep(load("ring16.png"))
    if precision == "f32":
        img.convert_precision(Gimp.Precision.FLOAT_NON_LINEAR)
    elif precision == "f32-linear":
        img.convert_precision(Gimp.Precision.FLOAT_LINEAR)
    return img


def every_op_every_precision():
    """Each command on a fresh copy of each test image, default arguments."""
    for precision in ("u8", "u16", "f32"):
        src = base(precision)
        for op in OPS:
            img = keep(src.duplicate())
            case("basic", op, img, [img.get_layers()[0]], dtype=precision)
            if op is OPS[0]:
                path = os.path.join(OUT, "saved-%s.xcf" % precision)
                ok = Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, img, gfile(path), None)
                back = keep(Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, gfile(path)))
                bl = back.get_layers()[0]
                report.setdefault("saved", {})[precision] = {
                    "saved": bool(ok),
                    "reloaded_mask": dump("reloaded", bl.get_mask(), "Y " + babl_type(back))
                    if bl.get_mask() else None,
                    "mask": report["cases"][-1]["layers"][0].get("mask")}


def combine_modes():
    op = CHEAP
    for mode in ("replace", "add", "subtract", "intersect"):
        img = keep(base("u8"))
        layer = img.get_layers()[0]
        gradient_mask(layer, img)
        case("combine", op, img, [layer], mode=mode)


def selection_limits():
    op = CHEAP
    img = keep(base("u8"))
    layer = img.get_layers()[0]
    gradient_mask(layer, img)
    x, y, w, h = SPEC["selection"]
    img.select_rectangle(Gimp.ChannelOps.REPLACE, x, y, w, h)
    case("selection", op, img, [layer], mode="replace")


def offset_layers():
    """A layer smaller than the canvas and partly outside it, alone and with
    the background layer (two selected layers, two masks), under a selection."""
    op = CHEAP
    pw, ph, px, py = SPEC["patch"]
    for kind in ("offset", "several"):
        img = keep(base("u8"))
        bg = img.get_layers()[0]
        layer = Gimp.Layer.new(img, "patch", pw, ph, Gimp.ImageType.RGBA_IMAGE, 100.0,
                               Gimp.LayerMode.NORMAL)
        img.insert_layer(layer, None, 0)
        layer.set_offsets(px, py)
        with open(os.path.join(IN, "patch.raw"), "rb") as f:
            data = f.read()
        buf = layer.get_buffer()
        buf.set(Gegl.Rectangle.new(0, 0, pw, ph), "R'G'B'A u8", data)
        buf.flush()
        x, y, w, h = SPEC["selection"]
        img.select_rectangle(Gimp.ChannelOps.REPLACE, x, y, w, h)
        case(kind, op, img, [layer] if kind == "offset" else [layer, bg], mode="replace")


def other_modes_of_colour():
    op = CHEAP
    img = keep(base("u8"))
    img.convert_grayscale()
    case("grey", op, img, [img.get_layers()[0]])
    img = keep(base("f32-linear"))
    case("linear-float", op, img, [img.get_layers()[0]])
    img = keep(base("u8"))
    layer = img.get_layers()[0]
    layer.add_alpha()
    case("rgba", op, img, [layer])


def on_existing_mask():
    """The commands that work on the layer's mask (refine-edge, decontaminate), as
    a retoucher uses them: a masking command first, then the command under a
    selection (refine-edge's brush; decontaminate's limit)."""
    for op in [o for o in OPS if "mask" in o.get("needs", ())]:
        for precision in ("u8", "f32"):
            img = keep(base(precision))
            layer = img.get_layers()[0]
            first = run_proc(CHEAP, img, [layer], "replace", op_params(CHEAP))[0]
            x, y, w, h = SPEC["selection"]
            img.select_rectangle(Gimp.ChannelOps.REPLACE, x, y, w, h)
            case("on-mask", op, img, [layer], first=first, dtype=precision)


def gimp_paths(paths):
    out = []
    for p in paths:
        strokes = []
        for sid in p.get_strokes():
            _t, pts, closed = p.stroke_get_points(sid)
            strokes.append([list(pts), bool(closed)])
        out.append({"format": "gimp", "name": p.get_name(), "strokes": strokes})
    return out


def photoshop_paths():
    """JPEG and TIFF files with Photoshop paths (clipping path included): GIMP
    imports them; path-to-mask uses the selected ones (as loaded: GIMP selects
    one), then all of them."""
    op = next((o for o in OPS if "paths" in o.get("needs", ())), None)
    if op is None or not os.path.exists(os.path.join(IN, "paths-demo.jpg")):
        return
    for name in ("paths-demo.jpg", "paths-demo.tif"):
        for which in ("as-loaded", "all"):
            img = keep(load(name))
            if which == "all":
                img.set_selected_paths(list(img.get_paths()))
            case("photoshop-paths", op, img, [img.get_layers()[0]], mode="replace", file=name, which=which,
                 imported=gimp_paths(img.get_paths()),
                 paths=gimp_paths(img.get_selected_paths()))


def clear_errors():
    op = CHEAP
    img = keep(base("u8"))
    img.convert_indexed(Gimp.ConvertDitherType.NONE, Gimp.ConvertPaletteType.GENERATE, 16,
                        False, False, "")
    case("indexed", op, img, [img.get_layers()[0]])
    # the engine's configuration gone, then naming a python that does not exist
    cfg = os.path.join(PLUGIN_DIR, "jewelmask-engine.json")
    shutil.copy(cfg, cfg + ".bak")
    try:
        os.remove(cfg)
        img = keep(base("u8"))
        case("no-engine", op, img, [img.get_layers()[0]])
        with open(cfg, "w") as f:
            json.dump({"python": "/nonexistent/engine/bin/python",
                       "setup": "/src/install/install-gimp --profile X"}, f)
        img = keep(base("u8"))
        case("broken-engine", op, img, [img.get_layers()[0]])
    finally:
        shutil.move(cfg + ".bak", cfg)
    # a channel is not a layer
    img = keep(base("u8"))
    ch = Gimp.Channel.new(img, "c", img.get_width(), img.get_height(), 50.0, Gegl.Color.new("red"))
    img.insert_channel(ch, None, 0)
    entry = {"kind": "channel-drawable", "op": op["name"]}
    entry["status"], entry["message"], _ = run_proc(op, img, [ch], None, op_params(op))
    report["cases"].append(entry)


try:
    try:
        import numpy  # noqa: F401
        report["numpy_in_gimp"] = True
    except ImportError:
        report["numpy_in_gimp"] = False
    report["procedures"] = sorted(pdb.query_procedures("^plug-in-jewelmask-.*", "", "", "", "", "", "", ""))
    report["menu_paths"] = {n: list(pdb.lookup_procedure(n).get_menu_paths()) for n in report["procedures"]}
    report["arguments"] = {n: [a.name for a in pdb.lookup_procedure(n).get_arguments()]
                           for n in report["procedures"]}
    only = os.environ.get("JM_ONLY", "")
    steps = [("every_op_every_precision", every_op_every_precision), ("combine_modes", combine_modes),
             ("selection_limits", selection_limits), ("offset_layers", offset_layers),
             ("other_modes_of_colour", other_modes_of_colour), ("on_existing_mask", on_existing_mask),
             ("photoshop_paths", photoshop_paths),
             ("clear_errors", clear_errors)]
    for name, fn in steps:
        if not only or name in only.split(","):
            guarded(name, fn)
finally:
    for im in images:
        try:
            im.delete()
        except Exception:
            pass
    report["seconds"]["driver"] = round(time.time() - T0, 2)
    with open(os.path.join(OUT, "report.json"), "w") as f:
        json.dump(report, f, indent=1, default=str)

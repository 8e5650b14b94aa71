#!/usr/bin/env python3
"""jewelmask for GIMP 3: every jewelmask command as a procedure that writes a layer mask.

An adapter, nothing more: it reads pixels, the selection and paths from GIMP,
hands them to the jewelmask engine (its own Python environment, through
``bridge_client.py`` beside this file) and writes the answer back as the
layer's mask, named channels and (for some commands) a new layer. It imports
only the standard library and GIMP's own modules; there is no image maths
here.

The commands are the engine's operations, read from ``jewelmask-ops.json``
(written by ``install/install-gimp``) or, failing that, asked from the engine
when GIMP queries the plug-in: ``plug-in-jewelmask-<operation>``, each with
the operation's parameters as arguments plus ``mode`` (how to combine with
an existing mask). See docs/gimp.md.
"""

import contextlib
import json
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import gi  # noqa: E402

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp, GLib, GObject  # noqa: E402

import bridge_client  # noqa: E402

PREFIX = "plug-in-jewelmask-"
STATUS_PROC = PREFIX + "engine-status"
MANIFEST = "jewelmask-ops.json"
SETUP = "install/install-gimp"
MENU = "<Image>/Layer/Mask/Jewelry Mask"
LAYERS_MENU = "<Layers>/Jewelry Mask"
MODES = ("replace", "add", "subtract", "intersect")
MODE_LABELS = {"replace": "Replace the mask", "add": "Add to the mask",
               "subtract": "Subtract from the mask", "intersect": "Intersect with the mask"}

# Sample types per GIMP precision component (Gimp.Precision // 100):
# 1 u8, 2 u16, 3 u32, 5 half, 6 float, 7 double.
_BABL_TYPE = {"u8": "u8", "u16": "u16", "f32": "float"}


# --- the operations, as the engine describes them ---------------------------


def load_ops():
    """The engine's operation list: the installer's manifest, else the engine itself."""
    path = os.path.join(HERE, MANIFEST)
    try:
        with open(path, "r", encoding="utf-8") as f:
            return json.load(f)["ops"]
    except (OSError, ValueError, KeyError):
        pass
    try:
        return bridge_client.find_engine(HERE, setup=SETUP).describe()["ops"]
    except bridge_client.EngineError as exc:
        sys.stderr.write("jewelmask: no commands registered: %s\n" % exc)
        return []


def arg_name(name):
    """A GIMP argument name (lower case, digits, '-') for an engine parameter name."""
    out = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")
    if out in ("run-mode", "image", "drawables", "mode"):
        out = "op-" + out
    return out


def choice_nick(value):
    return arg_name(str(value)) or "empty"


def mnemonic(label):
    """A dialog label with a keyboard mnemonic (GIMP asks for one on every argument)."""
    return label if "_" in label else "_" + label


def add_param_argument(proc, p):
    """Declare one engine parameter as a procedure argument (GIMP remembers its last value)."""
    rw = GObject.ParamFlags.READWRITE
    name, label, help_ = arg_name(p["name"]), mnemonic(p.get("label") or p["name"]), p.get("help") or ""
    kind, default = p.get("kind"), p.get("default")
    lo, hi = p.get("minimum"), p.get("maximum")
    if kind == "int":
        proc.add_int_argument(name, label, help_, int(lo if lo is not None else -2 ** 31),
                              int(hi if hi is not None else 2 ** 31 - 1), int(default), rw)
    elif kind == "float":
        proc.add_double_argument(name, label, help_, float(lo if lo is not None else -sys.float_info.max),
                                 float(hi if hi is not None else sys.float_info.max), float(default), rw)
    elif kind == "bool":
        proc.add_boolean_argument(name, label, help_, bool(default), rw)
    elif kind == "choice":
        choice = Gimp.Choice.new()
        for i, value in enumerate(p.get("choices") or []):
            choice.add(choice_nick(value), i, str(value), "")
        proc.add_choice_argument(name, label, help_, choice, choice_nick(default), rw)
    elif kind == "colours":
        proc.add_string_argument(name, label, (help_ + " (as #rrggbb, separated by spaces)").strip(),
                                 bridge_client.format_colours(default), rw)
    else:
        proc.add_string_argument(name, label, help_, "" if default is None else str(default), rw)


def writes_mask(op):
    """Whether the command writes the layer mask (and has a mode); else it makes a new layer."""
    return op.get("writes", "mask") != "layer"


def what_it_writes(op):
    """The sentence of the procedure's help that says what the command changes."""
    if not writes_mask(op):
        text = ("Writes a new layer above the layer, with a copy of its mask, never the layer's "
                "own pixels; the selection limits where it acts.")
    else:
        text = ("Writes the layer mask (combined with an existing one by 'mode'), never the "
                "layer's pixels; ")
        text += ("the selection is the refine brush." if op.get("selection_role") == "brush"
                 else "the selection limits where it acts.")
    return text


def read_params(op, config):
    """The procedure's argument values as the engine's parameters."""
    params = {}
    for p in op["params"]:
        value = config.get_property(arg_name(p["name"]))
        if p.get("kind") == "choice":
            by_nick = {choice_nick(v): v for v in p.get("choices") or []}
            value = by_nick.get(value, value)
        params[p["name"]] = value
    return params


# --- pixels -----------------------------------------------------------------


def sample_type(image):
    """Sample type of the image's pixels: u8 and u16 kept, everything else as f32."""
    comp = int(image.get_precision()) // 100
    return {1: "u8", 2: "u16"}.get(comp, "f32")


def is_non_linear(image):
    return int(image.get_precision()) % 100 != 0


def read_buffer(drawable, fmt, x=0, y=0, w=None, h=None):
    """Pixels of a drawable's buffer (its own coordinates) as bytes, in babl format `fmt`.
    Outside the buffer reads as 0."""
    w = drawable.get_width() if w is None else w
    h = drawable.get_height() if h is None else h
    rect = Gegl.Rectangle.new(x, y, w, h)
    return drawable.get_buffer().get(rect, 1.0, fmt, Gegl.AbyssPolicy.NONE)


def write_drawable(drawable, fmt, raw, x=0, y=0):
    """Write a RawImage into a drawable at (x, y) of its own coordinates through
    its shadow buffer, so the change is one undo step; parts outside are dropped."""
    dw, dh = drawable.get_width(), drawable.get_height()
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + raw.width, dw), min(y + raw.height, dh)
    if x1 <= x0 or y1 <= y0:
        return
    data = raw.data
    if (x0, y0, x1, y1) != (x, y, x + raw.width, y + raw.height):
        # Only the part inside the drawable: cut whole rows (no per-pixel work).
        bpp = raw.channels * bridge_client.SAMPLE_SIZE[raw.dtype]
        mv = memoryview(data)
        row = raw.width * bpp
        a, b = (x0 - x) * bpp, (x1 - x) * bpp
        data = b"".join(mv[r * row + a:r * row + b] for r in range(y0 - y, y1 - y))
    shadow = drawable.get_shadow_buffer()
    shadow.set(Gegl.Rectangle.new(x0, y0, x1 - x0, y1 - y0), fmt, data)
    shadow.flush()
    drawable.merge_shadow(True)
    drawable.update(x0, y0, x1 - x0, y1 - y0)


@contextlib.contextmanager
def selection_suspended(image):
    """No selection while the answers are written, then the same one again.

    Merging a shadow buffer applies the selection, and the engine's answers
    already are what belongs in each pixel: limited to the selection and
    blended by its soft edge (once), or, for refine-edge, refined outside it
    too. The selection is kept in a channel meanwhile; all of it is inside
    the command's undo group.
    """
    if Gimp.Selection.is_empty(image):
        yield
        return
    saved = Gimp.Selection.save(image)
    Gimp.Selection.none(image)
    try:
        yield
    finally:
        image.select_item(Gimp.ChannelOps.REPLACE, saved)
        image.remove_channel(saved)


def layer_offsets(layer):
    off = layer.get_offsets()
    if len(off) == 3:  # (success, x, y)
        return int(off[1]), int(off[2])
    return int(off[0]), int(off[1])


def read_paths(image):
    """The selected paths (else the visible ones, else all), as the engine's wire form."""
    paths = list(image.get_selected_paths() or [])
    if not paths:
        everything = list(image.get_paths() or [])
        paths = [p for p in everything if p.get_visible()] or everything
    out = []
    for path in paths:
        strokes = []
        for sid in path.get_strokes() or []:
            _kind, points, closed = path.stroke_get_points(sid)
            strokes.append([list(points), bool(closed)])
        if strokes:
            out.append({"format": "gimp", "name": path.get_name(), "strokes": strokes})
    return out


# --- running a command ------------------------------------------------------


class UserError(Exception):
    """A problem the user can fix; the message says how."""


def target_layers(drawables):
    """The layers a command acts on: selected layers, or the layers of selected masks."""
    layers = []
    for d in drawables or []:
        if isinstance(d, Gimp.LayerMask):
            d = Gimp.Layer.from_mask(d)
        if isinstance(d, Gimp.Layer) and d not in layers:
            layers.append(d)
    if not layers:
        raise UserError("Jewelry Mask works on layers: select one or more layers in the Layers dock.")
    return layers


def channel_for(image, name):
    """The image's channel called `name`, made (hidden, black) if it does not exist."""
    ch = image.get_channel_by_name(name)
    if ch is None:
        color = Gegl.Color.new("red")
        ch = Gimp.Channel.new(image, name, image.get_width(), image.get_height(), 50.0, color)
        image.insert_channel(ch, None, -1)
        ch.set_visible(False)
    return ch


def process_layer(engine, image, layer, op, params, mode, progress, channel_suffix):
    """Run the command on one layer and write its results. Returns the result."""
    t0 = time.perf_counter()
    dtype = sample_type(image)
    btype = _BABL_TYPE[dtype]
    w, h = layer.get_width(), layer.get_height()
    ox, oy = layer_offsets(layer)
    grey = layer.is_gray()
    alpha = layer.has_alpha()
    # Non-linear ("gamma") values, as photos are stored; linear u8/u16 images
    # are read as float so nothing is lost in the conversion.
    if dtype in ("u8", "u16") and not is_non_linear(image):
        dtype, btype = "f32", "float"
    fmt = ("Y'" if grey else "R'G'B'") + ("A" if alpha else "") + " " + btype
    channels = (1 if grey else 3) + (1 if alpha else 0)
    image_raw = bridge_client.RawImage(read_buffer(layer, fmt), w, h, channels, dtype)

    mdtype = sample_type(image)  # masks and channels: the image's precision, linear grey
    mfmt = "Y " + _BABL_TYPE[mdtype]
    selection = None
    if not Gimp.Selection.is_empty(image):
        # The selection covers the canvas; read the layer's rectangle of it.
        sel = image.get_selection()
        selection = bridge_client.RawImage(read_buffer(sel, mfmt, ox, oy, w, h), w, h, 1, mdtype)
    mask = layer.get_mask()
    old_mask = bridge_client.RawImage(read_buffer(mask, mfmt), w, h, 1, mdtype) if mask else None
    needs = op.get("needs", ())
    if "selection" in needs and selection is None:
        raise UserError("%s works inside a selection: select the part to work on first "
                        "(for example paint it in Quick Mask)." % op["label"])
    if "mask" in needs and old_mask is None:
        raise UserError("%s works on an existing layer mask: make one first (for example with "
                        "Auto Jewelry Mask)." % op["label"])
    paths = None
    if "paths" in needs:
        paths = read_paths(image)
        if not paths:
            raise UserError("%s needs a path: draw one with the Paths tool or import one, "
                            "and select it in the Paths dock." % op["label"])

    t1 = time.perf_counter()
    result = engine.run(op["name"], image_raw, params=params, mode=mode, selection=selection,
                        old_mask=old_mask, paths=paths, offset=(ox, oy), mask_dtype=mdtype,
                        progress=progress)
    t2 = time.perf_counter()

    with selection_suspended(image):
        if result.mask is not None:
            if mask is None:
                mask = layer.create_mask(Gimp.AddMaskType.WHITE)
                layer.add_mask(mask)  # before writing: a mask not yet added ignores writes
            write_drawable(mask, mfmt, result.mask)
        for name, raw in result.channels.items():
            write_drawable(channel_for(image, name + channel_suffix), mfmt, raw, ox, oy)
        if result.layer is not None:
            new = Gimp.Layer.new(image, "%s (%s)" % (layer.get_name(), op["label"]), w, h,
                                 Gimp.ImageType.GRAYA_IMAGE if grey else Gimp.ImageType.RGBA_IMAGE,
                                 100.0, Gimp.LayerMode.NORMAL)
            image.insert_layer(new, layer.get_parent(), image.get_item_position(layer))
            new.set_offsets(ox, oy)
            write_drawable(new, "R'G'B'A float", result.layer)
            if mask is not None:  # the new layer shows through the same mask
                copy = new.create_mask(Gimp.AddMaskType.WHITE)
                new.add_mask(copy)
                write_drawable(copy, mfmt, bridge_client.RawImage(read_buffer(mask, mfmt), w, h, 1, mdtype))
    if os.environ.get("JEWELMASK_DEBUG"):
        # one line per layer for benchmarks and bug reports: where the time went
        sys.stderr.write("jewelmask-timing %s\n" % json.dumps({
            "op": op["name"], "size": [w, h], "format": fmt, "gimp_read": round(t1 - t0, 4),
            "bridge": {k: round(v, 4) for k, v in result.client_seconds.items()},
            "worker": result.seconds, "gimp_write": round(time.perf_counter() - t2, 4)}))
    return result


def run_command(procedure, run_mode, image, drawables, config, op):
    """The procedure body shared by every command."""
    if run_mode == Gimp.RunMode.INTERACTIVE:
        gi.require_version("GimpUi", "3.0")
        from gi.repository import GimpUi

        gi.require_version("Gtk", "3.0")
        from gi.repository import Gtk

        GimpUi.init("jewelmask")
        dialog = GimpUi.ProcedureDialog.new(procedure, config, op["label"])
        if op.get("help"):
            label = Gtk.Label(label=op["help"], xalign=0.0, wrap=True, max_width_chars=48)
            label.set_margin_bottom(6)
            dialog.get_content_area().pack_start(label, False, False, 0)
            label.show()
        dialog.fill(None)
        ok = dialog.run()
        dialog.destroy()
        if not ok:
            return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, GLib.Error())
    try:
        if image.get_base_type() == Gimp.ImageBaseType.INDEXED:
            raise UserError("Jewelry Mask works on RGB and greyscale images; this one is indexed. "
                            "Convert it with Image > Mode > RGB first.")
        layers = target_layers(drawables)
        engine = bridge_client.find_engine(HERE, setup=SETUP)
        params = read_params(op, config)
        mode = config.get_property("mode") if writes_mask(op) else None
    except (UserError, bridge_client.EngineError) as exc:
        return procedure.new_return_values(Gimp.PDBStatusType.CALLING_ERROR
                                           if isinstance(exc, UserError) else
                                           Gimp.PDBStatusType.EXECUTION_ERROR, GLib.Error(str(exc)))
    n = len(layers)
    image.undo_group_start()
    try:
        for i, layer in enumerate(layers):
            Gimp.progress_init("%s: %s" % (op["label"], layer.get_name()))

            def progress(fraction, i=i):
                Gimp.progress_update((i + fraction) / n)
                return True

            suffix = " (%s)" % layer.get_name() if n > 1 else ""
            process_layer(engine, image, layer, op, params, mode, progress, suffix)
        Gimp.progress_update(1.0)
    except bridge_client.Cancelled:
        return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, GLib.Error())
    except (UserError, bridge_client.EngineError) as exc:
        return procedure.new_return_values(Gimp.PDBStatusType.EXECUTION_ERROR, GLib.Error(str(exc)))
    except Exception as exc:  # an editor must get an answer, never a traceback dialog
        traceback.print_exc()
        return procedure.new_return_values(
            Gimp.PDBStatusType.EXECUTION_ERROR,
            GLib.Error("jewelmask: unexpected %s: %s" % (type(exc).__name__, exc)))
    finally:
        image.undo_group_end()
        Gimp.progress_end()
    Gimp.displays_flush()
    return procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, GLib.Error())


def run_status(procedure, run_mode, image, drawables, config, data):
    """Say which engine the commands use, or exactly what to run to get one."""
    try:
        engine = bridge_client.find_engine(HERE, setup=SETUP)
        hello = engine.hello()
        ops = engine.describe()["ops"]
        text = ("jewelmask engine %s (protocol %s) at %s\ncommands: %s"
                % (hello.get("version"), hello.get("protocol"), hello.get("python"),
                   ", ".join(o["name"] for o in ops)))
    except bridge_client.EngineError as exc:
        text = str(exc)
    Gimp.message(text)
    return procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, GLib.Error())


class JewelMask(Gimp.PlugIn):
    """Registers one procedure per engine operation, plus the engine status."""

    _ops = None

    def ops(self):
        if JewelMask._ops is None:
            JewelMask._ops = {PREFIX + op["name"]: op for op in load_ops()}
        return JewelMask._ops

    def do_set_i18n(self, name):
        return False

    def do_query_procedures(self):
        return list(self.ops()) + [STATUS_PROC]

    def do_create_procedure(self, name):
        if name == STATUS_PROC:
            proc = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN, run_status, None)
            proc.set_image_types("*")
            proc.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.ALWAYS)
            proc.set_menu_label("Engine Status")
            proc.add_menu_path(MENU)
            proc.set_documentation("Which jewelmask engine the Jewelry Mask commands use",
                                   "Shows the engine's version and commands, or what to run "
                                   "to install it.", name)
            proc.set_attribution("jewelmask developers", "jewelmask developers", "2026")
            return proc
        op = self.ops()[name]
        proc = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN, run_command, op)
        proc.set_image_types("RGB*, GRAY*, INDEXED*")  # indexed: a clear message, not a grey menu
        proc.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.DRAWABLE
                                  | Gimp.ProcedureSensitivityMask.DRAWABLES)
        proc.set_menu_label(op["label"] + "...")
        proc.add_menu_path(MENU)
        proc.add_menu_path(LAYERS_MENU)
        proc.set_documentation(op["label"], (op.get("help") or op["label"]) + " " + what_it_writes(op), name)
        proc.set_attribution("jewelmask developers", "jewelmask developers", "2026")
        for p in op["params"]:
            add_param_argument(proc, p)
        if writes_mask(op):
            modes = Gimp.Choice.new()
            for i, m in enumerate(MODES):
                modes.add(m, i, MODE_LABELS[m], "")
            default = op.get("default_mode") if op.get("default_mode") in MODES else "replace"
            proc.add_choice_argument("mode", "Mask _mode", "How the result combines with an existing "
                                     "layer mask", modes, default, GObject.ParamFlags.READWRITE)
        return proc


Gimp.main(JewelMask.__gtype__, sys.argv)

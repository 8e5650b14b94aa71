# The parts that need GIMP's user interface, under Xvfb (run-gimp-gui.sh):
#
# * undo: run a command, press Ctrl+Z in the image window, check the layer is
#   back as it was (no mask, no channel), press Ctrl+Y and check it is redone.
#   GIMP has no undo procedure in the PDB; undo lives in the UI.
# * the dialog of every command: open it (INTERACTIVE), take a screenshot of
#   the screen with xwd, close it with Escape; the screenshots become PNGs.
#
# Executed by GIMP's python-fu-eval; writes $JM_OUT/gui-report.json.
import json
import os
import subprocess
import time
import traceback

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp, Gio  # noqa: E402

OUT = os.environ.get("JM_OUT", "/out")
PLUGIN_DIR = os.environ["JM_PLUGIN_DIR"]
OPS = json.load(open(os.path.join(PLUGIN_DIR, "jewelmask-ops.json")))["ops"]
CHEAP = next((op for op in OPS if not op.get("needs")), OPS[0])
SHOTS = os.environ.get("JM_SHOTS", "")  # ops to photograph ("all" or names)
pdb = Gimp.get_pdb()
report = {"undo": {}, "screenshots": {}, "failures": []}


def sh(cmd, check=False):
    return subprocess.run(cmd, shell=True, capture_output=True, text=True, check=check)


def xdo(args):
    return sh("xdotool " + args).stdout.strip()


def find_window(name, timeout=30.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        ids = xdo("search --onlyvisible --name %s" % json.dumps(name)).split()
        if ids:
            return ids[-1]
        time.sleep(0.2)
    return None


def press(window, keys):
    """Send keys to a window: focus it (no window manager here) with the pointer over it."""
    xdo("windowfocus --sync %s" % window)
    xdo("mousemove --window %s 300 250" % window)
    time.sleep(0.3)
    xdo("key --clearmodifiers %s" % keys)


def flush_and_wait(seconds=1.5):
    Gimp.displays_flush()
    time.sleep(seconds)


def mask_bytes(layer):
    m = layer.get_mask()
    if m is None:
        return None
    return m.get_buffer().get(Gegl.Rectangle.new(0, 0, m.get_width(), m.get_height()), 1.0,
                              "Y u8", Gegl.AbyssPolicy.NONE)


def run_command(op, img, layer, mode=None):
    proc = pdb.lookup_procedure("plug-in-jewelmask-" + op["name"])
    cfg = proc.create_config()
    cfg.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
    cfg.set_property("image", img)
    cfg.set_core_object_array("drawables", [layer])
    if mode:
        cfg.set_property("mode", mode)
    return str(proc.run(cfg).index(0))


def open_ring(prepare):
    """The test photo in an image window, after `prepare(image, layer)`:
    (image, layer, display, the window's X id)."""
    img = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(os.path.join(OUT, "in", "ring.png")))
    layer = img.get_layers()[0]
    prepare(img, layer)
    img.clean_all()
    disp = Gimp.Display.new(img)
    flush_and_wait(3)
    return img, layer, disp, find_window(" GIMP$")


def undo_check(with_mask):
    """One Ctrl+Z takes a whole command back (mask contents, a mask the command
    added, the named channel); Ctrl+Y brings it back."""
    def prepare(img, layer):
        if with_mask:  # a mask to start from, so undo must restore its contents
            layer.add_mask(layer.create_mask(Gimp.AddMaskType.WHITE))

    img, layer, disp, win = open_ring(prepare)
    before = mask_bytes(layer)
    n_channels = len(img.get_channels())
    r = report["undo"]["existing-mask" if with_mask else "new-mask"] = {}
    r["status"] = run_command(CHEAP, img, layer, "replace")
    flush_and_wait()
    after = mask_bytes(layer)
    r["window"] = win
    r["had_mask"] = before is not None
    r["changed"] = after is not None and after != before
    r["channels_added"] = len(img.get_channels()) - n_channels
    press(win, "ctrl+z")
    flush_and_wait(2)
    r["undo_restored_mask"] = mask_bytes(layer) == before
    r["undo_channels"] = len(img.get_channels()) - n_channels
    press(win, "ctrl+y")
    flush_and_wait(2)
    r["redo_mask"] = mask_bytes(layer) == after
    r["redo_channels"] = len(img.get_channels()) - n_channels
    img.clean_all()
    disp.delete()  # closes the image too


def undo_new_layer():
    """A command that makes a new layer (decontaminate) is one step too: one
    Ctrl+Z removes the layer and leaves the source and its mask as they were."""
    op = next((o for o in OPS if o.get("writes") == "layer"), None)
    if op is None:
        return
    img, layer, disp, win = open_ring(lambda img, layer: run_command(CHEAP, img, layer, "replace"))
    mask = mask_bytes(layer)
    n_layers = len(img.get_layers())
    r = report["undo"]["new-layer"] = {"op": op["name"], "window": win}
    r["status"] = run_command(op, img, layer)
    flush_and_wait()
    r["layers_added"] = len(img.get_layers()) - n_layers
    press(win, "ctrl+z")
    flush_and_wait(2)
    r["undo_layers"] = len(img.get_layers()) - n_layers
    r["undo_mask_kept"] = mask_bytes(layer) == mask
    press(win, "ctrl+y")
    flush_and_wait(2)
    r["redo_layers"] = len(img.get_layers()) - n_layers
    img.clean_all()
    disp.delete()


def ere(text):
    """`text` as a POSIX extended regular expression matching it exactly."""
    return "^" + "".join("\\" + c if c in ".^$*+?()[]{}|\\" else c for c in text) + "$"


def save_report():
    with open(os.path.join(OUT, "gui-report.json"), "w") as f:
        json.dump(report, f, indent=1, default=str)


def screenshot(op, img):
    """Open `op`'s dialog over the image, photograph it, close it with Escape."""
    proc = pdb.lookup_procedure("plug-in-jewelmask-" + op["name"])
    cfg = proc.create_config()
    cfg.set_property("run-mode", Gimp.RunMode.INTERACTIVE)
    cfg.set_property("image", img)
    cfg.set_core_object_array("drawables", [img.get_layers()[0]])
    xwd = os.path.join(OUT, "dialog-%s.xwd" % op["name"])
    # in the background: wait for the dialog, raise it (there is no window
    # manager to keep it on top), let it paint, photograph it, close it
    helper = subprocess.Popen(
        ["sh", "-c",
         'for i in $(seq 150); do w=$(xdotool search --onlyvisible --name \'%s\' | tail -1); '
         '[ -n "$w" ] && break; sleep 0.2; done; [ -n "$w" ] || exit 1; sleep 2; '
         'xdotool windowraise "$w"; sleep 1; xwd -silent -id "$w" -out %s; '
         'xdotool windowfocus --sync "$w"; xdotool mousemove --window "$w" 20 20; sleep 0.3; '
         'xdotool key Escape' % (ere(op["label"]), xwd)])
    status = proc.run(cfg).index(0)
    rc = helper.wait(timeout=90)
    shot = {"status": str(status), "helper": rc}
    if rc == 0 and os.path.exists(xwd):
        im = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(xwd))
        png = os.path.join(OUT, "gimp-dialog-%s.png" % op["name"])
        Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, im, Gio.File.new_for_path(png), None)
        im.delete()
        shot["png"] = os.path.basename(png)
    if os.path.exists(xwd):
        os.remove(xwd)
    report["screenshots"][op["name"]] = shot


try:
    for with_mask in (True, False):
        try:
            undo_check(with_mask)
        except Exception:
            report["failures"].append(traceback.format_exc())
    try:
        undo_new_layer()
    except Exception:
        report["failures"].append(traceback.format_exc())
    if SHOTS:
        img = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE,
                             Gio.File.new_for_path(os.path.join(OUT, "in", "ring.png")))
        Gimp.Display.new(img)
        flush_and_wait(2)
        for op in OPS:
            if SHOTS == "all" or op["name"] in SHOTS.split(","):
                try:
                    screenshot(op, img)
                except Exception:
                    report["failures"].append(traceback.format_exc())
                save_report()
finally:
    save_report()

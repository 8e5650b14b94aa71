"""Reading from and writing to a Krita document. No Krita import here:
every function takes the ``Document``/``Node`` objects it works on, so the
fast tests drive it with a fake ``krita`` module.

Results are transparency masks, never pixels: the paint layer is only read.
Nodes are written *before* they are added to the layer, because Krita's
scripting API makes adding and removing nodes undoable but not
``setPixelData``; so a command that replaces a mask adds the new one and
removes the old one, and Edit > Undo brings the old one back.
"""

from . import pixels

MAIN_MASK_NAME = "Jewelry Mask"
PREVIEW_NAME = "jewelmask preview"
CHANNEL_PREFIX = "jewelmask: "
MASK_TYPES = ("transparencymask", "selectionmask", "filtermask", "transformmask", "colorizemask")


class UserError(Exception):
    """A problem the user can fix; the message is shown as it is."""


def _rect(r):
    return int(r.x()), int(r.y()), int(r.width()), int(r.height())


def all_nodes(doc):
    """Every node of the document, depth first, bottom to top."""
    out = []

    def walk(nodes):
        for n in nodes:
            out.append(n)
            walk(n.childNodes())

    walk(doc.topLevelNodes())
    return out


def target_layer(doc):
    """The paint layer a command works on: the active one (or the layer of the
    active mask); else the topmost paint layer."""
    if doc is None:
        raise UserError("Open an image first.")
    node = doc.activeNode()
    if node is not None and node.type() in MASK_TYPES:
        node = node.parentNode()
    if node is not None and node.type() == "paintlayer":
        return node
    if node is not None and node.type() not in ("vectorlayer",):
        raise UserError("Select a paint layer: '%s' is a %s." % (node.name(), node.type()))
    paint = [n for n in all_nodes(doc) if n.type() == "paintlayer"]
    if not paint:
        raise UserError("The image has no paint layer to mask.")
    return paint[-1]


def layer_layout(layer):
    """The :class:`pixels.Layout` of a layer, or UserError with the reason."""
    try:
        return pixels.layout_for(layer.colorModel(), layer.colorDepth())
    except pixels.UnsupportedLayer as exc:
        raise UserError(str(exc))


def region_of(doc, layer):
    """(x, y, w, h) the command covers: the canvas, grown to the layer's content
    when the layer was moved partly outside it (layer offsets)."""
    x0, y0, x1, y1 = 0, 0, int(doc.width()), int(doc.height())
    try:
        bx, by, bw, bh = _rect(layer.bounds())
    except Exception:
        bw = bh = 0
    if bw > 0 and bh > 0:
        x0, y0 = min(x0, bx), min(y0, by)
        x1, y1 = max(x1, bx + bw), max(y1, by + bh)
    return x0, y0, x1 - x0, y1 - y0


def is_ours(node):
    name = node.name()
    return name == PREVIEW_NAME or name.startswith(CHANNEL_PREFIX)


def main_mask(layer):
    """The layer's visible transparency mask that commands combine with, or None."""
    for n in reversed(layer.childNodes()):
        if n.type() == "transparencymask" and n.visible() and not is_ours(n):
            return n
    return None


def child_named(layer, name, kind="transparencymask"):
    for n in layer.childNodes():
        if n.type() == kind and n.name() == name:
            return n
    return None


# --- reading ----------------------------------------------------------------


def read_pixels(node, region):
    x, y, w, h = region
    return bytes(node.pixelData(x, y, w, h))


def _selection(doc):
    """The global selection, or None when there is none (or it is empty)."""
    sel = doc.selection()
    if sel is None or sel.width() <= 0 or sel.height() <= 0:
        return None
    return sel


def read_selection(doc, region):
    """The selection's bytes over `region` (one per pixel), or None without one."""
    sel = _selection(doc)
    if sel is None:
        return None
    x, y, w, h = region
    data = bytes(sel.pixelData(x, y, w, h))
    return data if len(data) == w * h else None


def read_decimated(node, region, step, pixel_bytes):
    """Every `step`-th pixel of every `step`-th row of `node` over `region`."""
    x, y, w, h = region
    rows = []
    for r in range(y, y + h, step):
        rows.append(pixels.decimate_row(node.pixelData(x, r, w, 1), pixel_bytes, step))
    return b"".join(rows)


def read_selection_decimated(doc, region, step):
    sel = _selection(doc)
    if sel is None:
        return None
    x, y, w, h = region
    rows = []
    for r in range(y, y + h, step):
        rows.append(pixels.decimate_row(sel.pixelData(x, r, w, 1), 1, step))
    return b"".join(rows)


def vector_source(doc):
    """The vector layer path-to-mask reads: the active one, else the topmost."""
    node = doc.activeNode()
    if node is not None and node.type() == "vectorlayer":
        return node
    vec = [n for n in all_nodes(doc) if n.type() == "vectorlayer"]
    return vec[-1] if vec else None


def vector_paths(doc):
    """The shapes of the vector layer as the worker's path descriptions.

    Krita gives each shape as SVG in points (``Shape.toSvg()``); the engine
    scales by ``resolution / 72`` to pixels.
    """
    layer = vector_source(doc)
    if layer is None:
        raise UserError("Path to Mask needs a vector layer with shapes: draw the outline "
                        "with a vector tool first.")
    shapes = layer.shapes()
    if not shapes:
        raise UserError("The vector layer '%s' has no shapes." % layer.name())
    res = float(doc.resolution() or 72.0)
    return [{"format": "krita-svg", "name": s.name() or "shape %d" % (i + 1), "svg": s.toSvg(),
             "resolution": res}
            for i, s in enumerate(shapes)]


# --- writing ----------------------------------------------------------------


def new_mask(doc, region, data, name, visible=True):
    """A transparency mask holding `data` (one byte per pixel over `region`),
    not yet added to a layer."""
    x, y, w, h = region
    m = doc.createTransparencyMask(name)
    m.setPixelData(bytes(data), x, y, w, h)
    if not visible:
        m.setVisible(False)
    return m


def put_mask(doc, layer, region, data, old=None, name=None, visible=True):
    """Replace `old` (or add) a transparency mask on `layer` holding `data`.

    The new mask goes where the old one was and takes its name; the old one is
    removed. Both steps are on Krita's undo stack.
    """
    name = name or (old.name() if old is not None else MAIN_MASK_NAME)
    m = new_mask(doc, region, data, name, visible)
    layer.addChildNode(m, old)
    if old is not None:
        old.remove()
    return m


def write_channels(doc, layer, region, channels):
    """Each method's own result as a hidden mask named after it ("jewelmask: chains")."""
    out = []
    for cname, data in channels:
        name = cname if cname.startswith(CHANNEL_PREFIX) else CHANNEL_PREFIX + cname
        old = child_named(layer, name)
        out.append(put_mask(doc, layer, region, data, old=old, name=name, visible=False))
    return out


def write_new_layer(doc, layer, region, rgba_f32, name, mask=None):
    """A new paint layer above `layer` with float32 R,G,B,A pixels over `region`.

    The layer is made RGBA float to take the pixels exactly, then converted
    to the source layer's colour space by Krita. With `mask` (one byte per
    pixel over `region`) it gets a transparency mask holding it, named as
    the main mask.
    """
    x, y, w, h = region
    node = doc.createNode(name, "paintlayer")
    parent = layer.parentNode() or doc.rootNode()
    parent.addChildNode(node, layer)
    profile = layer.colorProfile()
    model, depth = layer.colorModel(), layer.colorDepth()
    if (model, depth) != ("RGBA", "F32") or node.colorModel() != "RGBA" or node.colorDepth() != "F32":
        node.setColorSpace("RGBA", "F32", profile if model == "RGBA" else "")
    node.setPixelData(bytes(rgba_f32), x, y, w, h)
    if (model, depth) != ("RGBA", "F32"):
        node.setColorSpace("RGBA", depth, profile if model == "RGBA" else "")
    if mask is not None:
        put_mask(doc, node, region, mask)
    return node


class Preview(object):
    """The temporary preview mask on one layer.

    While it shows, the layer's own mask is hidden (the preview holds the
    combined result); :meth:`close` removes it and shows that mask again.
    """

    def __init__(self, doc, layer, region):
        self.doc, self.layer, self.region = doc, layer, region
        self.node = None
        self.hidden = None

    def show(self, data):
        if self.node is None:
            old = main_mask(self.layer)
            self.node = new_mask(self.doc, self.region, data, PREVIEW_NAME)
            self.layer.addChildNode(self.node, None)
            if old is not None:
                old.setVisible(False)  # no canvas update of its own: the refresh below
                self.hidden = old
        else:
            x, y, w, h = self.region
            self.node.setPixelData(bytes(data), x, y, w, h)
        self.doc.refreshProjection()  # the only update setPixelData and setVisible get

    def close(self):
        changed = False
        if self.node is not None:
            try:
                self.node.remove()
            finally:
                self.node = None
            changed = True
        if self.hidden is not None:
            self.hidden.setVisible(True)
            self.hidden = None
            changed = True
        if changed:
            self.doc.refreshProjection()

"""Krita pixel layouts and the byte shuffling the bridge needs. STANDARD LIBRARY ONLY.

No image maths here: only what turns the bytes Krita hands out into the
layout the engine's worker reads (``jewelmask/worker.py``: channels in R, G,
B, A order, samples u8/u16/f32) and back, plus the nearest-neighbour
decimation and expansion that the live preview works on.

Krita 5.2 facts (measured, see docs/krita.md):

* ``Node.pixelData`` gives the node's own colour space: RGBA U8 and U16 as
  **B, G, R, A**; RGBA F16 and F32 as **R, G, B, A**; GRAYA as grey, alpha.
* Transparency masks are always one byte per pixel.
* ``ManagedColor.components()`` follows the same channel order.
"""

import array
import math
import struct
import sys

# (colour model, depth) -> (channels, engine dtype, swap B and R, source is f16)
_RGB = "RGBA"
_GREY = "GRAYA"
_SUPPORTED_DEPTHS = ("U8", "U16", "F16", "F32")
_BYTES = {"U8": 1, "U16": 2, "F16": 2, "F32": 4}

MODEL_NAMES = {
    "RGBA": "RGB", "GRAYA": "greyscale", "CMYKA": "CMYK", "LABA": "L*a*b*",
    "XYZA": "XYZ", "YCbCrA": "YCbCr", "A": "alpha",
}


class UnsupportedLayer(Exception):
    """The layer's colour space is not one jewelmask can read; the message says why."""


class Layout(object):
    """How one Krita colour space's pixels map to the engine's raw image."""

    __slots__ = ("model", "depth", "channels", "dtype", "swap_rb", "from_f16", "bytes_per_pixel")

    def __init__(self, model, depth):
        self.model, self.depth = model, depth
        self.channels = 4 if model == _RGB else 2
        self.swap_rb = model == _RGB and depth in ("U8", "U16")
        self.from_f16 = depth == "F16"
        self.dtype = {"U8": "u8", "U16": "u16", "F16": "f32", "F32": "f32"}[depth]
        self.bytes_per_pixel = self.channels * _BYTES[depth]

    def __repr__(self):
        return "Layout(%s, %s)" % (self.model, self.depth)


def layout_for(model, depth):
    """The :class:`Layout` of a Krita colour model and depth.

    Raises
    ------
    UnsupportedLayer
        For CMYK, L*a*b*, XYZ, YCbCr and unknown depths, with a message that
        tells the user what to do.
    """
    if model not in (_RGB, _GREY):
        name = MODEL_NAMES.get(model, model)
        raise UnsupportedLayer(
            "jewelmask works on RGB and greyscale layers; this layer is %s (%s). "
            "Convert it with Image > Convert Image Color Space (RGB/Alpha), "
            "or work on an RGB copy." % (name, depth))
    if depth not in _SUPPORTED_DEPTHS:
        raise UnsupportedLayer("jewelmask reads 8 and 16-bit integer and 16 and 32-bit float "
                               "layers; this layer is %s %s." % (MODEL_NAMES.get(model, model), depth))
    return Layout(model, depth)


def is_linear_profile(profile):
    """Whether an ICC profile name says linear light (``g10``, ``linear``, ``scRGB``)."""
    p = (profile or "").lower()
    return "g10" in p or "linear" in p or "scrgb" in p


# --- samples ----------------------------------------------------------------

_LITTLE = sys.byteorder == "little"


def _f16_table():
    # every half-float bit pattern -> its float32 value (exact)
    halves = struct.pack("<65536H", *range(65536))
    return array.array("f", struct.unpack("<65536e", halves))


_F16 = []


def f16_to_f32(data):
    """Half-float samples (bytes) to float32 samples (bytes), exactly.

    The worker protocol carries u8, u16 and f32; Krita's F16 layers are
    converted here with a 65536-entry table (about 1 s per 10 million samples).
    """
    if not _F16:
        _F16.append(_f16_table())
    table = _F16[0]
    src = array.array("H")
    src.frombytes(bytes(data))
    if not _LITTLE:
        src.byteswap()
    out = array.array("f", map(table.__getitem__, src))
    if not _LITTLE:
        out.byteswap()
    return out.tobytes()


def swap_red_blue(data, sample_bytes):
    """B,G,R,A pixels to R,G,B,A (or back): bytes in, bytearray out."""
    if sample_bytes == 1:
        out = bytearray(data)
        out[0::4], out[2::4] = out[2::4], out[0::4]
        return out
    a = array.array("H")
    a.frombytes(bytes(data))
    a[0::4], a[2::4] = a[2::4], a[0::4]
    return bytearray(a.tobytes())


def to_engine(data, layout, native_f16=False):
    """Krita layer bytes to the bytes of the engine's raw image (R,G,B,A order).

    With `native_f16` (a bridge that carries ``f16`` samples) half floats go
    as they are; otherwise they are widened here.
    """
    if layout.from_f16:
        return bytes(data) if native_f16 else f16_to_f32(data)
    if layout.swap_rb:
        return swap_red_blue(data, _BYTES[layout.depth])
    return data


# --- preview decimation -----------------------------------------------------


def preview_step(width, height, longest=1600):
    """Integer decimation step so the preview's longest side is at most `longest`."""
    return max(1, int(math.ceil(max(width, height) / float(longest))))


def decimated_size(width, height, step):
    return (width + step - 1) // step, (height + step - 1) // step


def decimate_row(row, pixel_bytes, step):
    """Every `step`-th pixel of one row of `pixel_bytes`-byte pixels (nearest)."""
    if step == 1:
        return bytes(row)
    if pixel_bytes in (1, 2, 4, 8):
        code = {1: "B", 2: "H", 4: "I", 8: "Q"}[pixel_bytes]
        a = array.array(code)
        if a.itemsize != pixel_bytes:  # pragma: no cover - exotic platforms
            return _decimate_generic(row, pixel_bytes, step)
        a.frombytes(bytes(row))
        return a[::step].tobytes()
    return _decimate_generic(row, pixel_bytes, step)


def _decimate_generic(row, pixel_bytes, step):
    # pixels of 16 bytes (RGBA f32): copy each 4-byte sample lane
    lanes = pixel_bytes // 4
    a = array.array("I")
    a.frombytes(bytes(row))
    n = (len(a) // lanes + step - 1) // step
    out = array.array("I", bytes(4 * lanes * n))
    for k in range(lanes):
        out[k::lanes] = a[k::lanes * step]
    return out.tobytes()


def expand_mask(small, small_width, small_height, width, height, step):
    """Nearest-neighbour enlargement of a one-byte mask by `step` to width x height."""
    if step == 1:
        return bytes(small)
    small = bytes(small)
    rows = []
    counts = [len(range(k, width, step)) for k in range(step)]
    for r in range(small_height):
        src = small[r * small_width:(r + 1) * small_width]
        out = bytearray(width)
        for k in range(step):
            out[k::step] = src[:counts[k]]
        out = bytes(out)
        rows.extend([out] * min(step, height - r * step))
    return b"".join(rows)


# --- colours ----------------------------------------------------------------


def colour_to_rgb255(model, depth, components):
    """A ManagedColor's components to (r, g, b) in 0-255, or None for other models.

    Components are normalised floats in the colour space's channel order:
    B, G, R, A for integer RGBA, R, G, B, A for float RGBA, grey + alpha.
    """
    c = list(components)
    if model == _RGB and len(c) >= 3:
        r, g, b = (c[2], c[1], c[0]) if depth in ("U8", "U16") else (c[0], c[1], c[2])
    elif model == _GREY and c:
        r = g = b = c[0]
    else:
        return None
    return tuple(int(round(min(max(v, 0.0), 1.0) * 255)) for v in (r, g, b))

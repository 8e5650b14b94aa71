"""Reading photos and writing masks and cutouts.

Reading
-------
:func:`read_image` reads JPEG, PNG, TIFF and WebP files at 8 and 16 bits
(and 32-bit float TIFF) into a :class:`LoadedImage`: float32 ``rgb`` in
[0, 1], straight ``alpha`` or None, and what the engine and the writers need
to know about the source (bit depth, layout, ICC profile, EXIF). The EXIF
orientation is applied to the pixels.

* 8-bit (and 1-, 2- and 4-bit) images are decoded by Pillow; 16-bit PNG
  and TIFF and 32-bit float TIFF by OpenCV, because Pillow silently
  truncates 16-bit colour to 8 bits and cannot open float colour TIFF.
  The metadata (ICC profile, EXIF, orientation) is read by jewelmask's own
  header parsers or by Pillow, never by OpenCV.
* Every file is checked for truncation and damage before it is decoded
  (PNG chunk lengths and checksums, the JPEG end marker, TIFF directory and
  strip bounds, the WebP RIFF size), so an interrupted copy is reported as
  such instead of being half-decoded. Pillow's ``LOAD_TRUNCATED_IMAGES``
  is never turned on.
* The orientation is applied by jewelmask, once, the same way for every
  format (TIFF decoders are handed orientation 1, as Pillow and OpenCV
  would otherwise turn some TIFF layouts themselves).
* ``max_pixels`` is checked from the header before anything is decoded.
  Pillow's own ``Image.MAX_IMAGE_PIXELS`` guard would warn at 89 MP and
  fail at 179 MP; for an image that passed ``max_pixels`` it is lifted,
  under a lock, for the duration of that decode and then restored.
* Every failure is an :class:`~jewelmask.errors.ImageReadError` whose
  message names the file, the problem and what to do.

What is refused, with a message saying so: CMYK and Lab images (convert to
RGB in the editor), 12-bit JPEG, signed or 32-bit integer TIFF, half or
double precision float TIFF, BigTIFF, TIFF with more than one extra channel
(saved selections), 16-bit greyscale TIFF with transparency, animated
PNG/WebP and multi-page TIFF (reduced-resolution thumbnail pages are
ignored; a multi-picture JPEG (MPO) is read as its primary image), and
images above ``max_pixels`` (:data:`DEFAULT_MAX_PIXELS`).

Not carried over: XMP, IPTC, resolution (DPI) and, for TIFF, EXIF (TIFF
keeps its tags in its own directory; only the orientation and the ICC
profile are read). OpenCV may print libpng/libtiff warnings to stderr for
the 16-bit files it decodes; they are not errors.

Writing
-------
:func:`write_mask`, :func:`write_cutout` and :func:`write_jpeg` encode in
memory and then write through :func:`atomic_write`, so the target is either
the complete new file or untouched; a ``protect`` path makes them refuse to
overwrite the input image. PNG is written by Pillow (16-bit RGBA by OpenCV,
with the ICC profile added by jewelmask), TIFF by jewelmask's own small
encoder (deflate with horizontal differencing, straight alpha declared as
such, ICC profile), JPEG by Pillow.

The dtype helpers :func:`as_float_image`, :func:`as_mask` and
:func:`mask_to_dtype` live in :mod:`jewelmask.dtypes` and are re-exported
here.
"""

import contextlib
import dataclasses
import os
import secrets
import struct
import threading
import zlib
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image

from .dtypes import _to_float32, as_float_image, as_mask, mask_to_dtype, quantize
from .errors import ImageReadError, ImageWriteError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "LoadedImage",
    "read_image",
    "atomic_write",
    "write_mask",
    "write_cutout",
    "write_jpeg",
    "as_float_image",
    "as_mask",
    "mask_to_dtype",
]

DEFAULT_MAX_PIXELS = 250_000_000
"""Largest image :func:`read_image` decodes unless told otherwise (250 MP).

A 250-megapixel image needs about 3 GB as float32 RGB, plus the decoder's
own copy. Pass ``max_pixels`` to change it (None removes the limit).
"""

_TRUNCATED = (
    "the file is truncated (it ends early, as after an interrupted copy, "
    "download or save)",
    "re-export it from your editor or copy it again",
)
_REEXPORT = "re-export it from your editor, or open it in an editor to check it"


def _read_error(path, problem, advice):
    return ImageReadError(f"cannot read {path}: {problem}; {advice}")


def _truncated(path, detail=""):
    problem, advice = _TRUNCATED
    return _read_error(path, problem + detail, advice)


def _corrupt(path, detail):
    return _read_error(path, f"the file is damaged ({detail})", _REEXPORT)


def _unsupported(path, what, advice):
    return _read_error(path, f"{what}, which jewelmask does not read", advice)


# ---------------------------------------------------------------------------
# The result


@dataclasses.dataclass(frozen=True, eq=False)
class LoadedImage:
    """An image read from a file, in the engine's dtype contract.

    Attributes
    ----------
    rgb : ndarray of float32, shape (H, W, 3)
        Colour in [0, 1] (a float TIFF keeps values outside [0, 1] as they
        are). Greyscale is replicated to three channels, palettes expanded.
        Already turned upright by the EXIF/TIFF orientation.
    alpha : ndarray of float32, shape (H, W), or None
        Straight (not premultiplied) alpha from RGBA, LA, palette or
        colour-key transparency; None when the file has no transparency.
        Premultiplied TIFF alpha is converted to straight alpha.
    bit_depth : int
        Bits per sample in the file: 8 (also for 1-, 2- and 4-bit greyscale
        and palette files), 16, or 32 (float TIFF).
    mode : str
        The layout in the file, in Pillow's vocabulary where it has a name:
        ``"1"``, ``"L"``, ``"LA"``, ``"P"`` (with or without transparency:
        see ``alpha``), ``"RGB"``, ``"RGBA"``, ``"I;16"`` (16-bit grey),
        ``"F"`` (float grey); and for what Pillow has no mode for:
        ``"LA;16"``, ``"RGB;16"``, ``"RGBA;16"``, ``"RGB;F"``, ``"RGBA;F"``.
        A premultiplied TIFF reports ``"RGBA"`` (or ``"LA"``, ``"RGBA;16"``,
        ...) like a straight one, as ``alpha`` is straight either way.
    icc_profile : bytes or None
        The embedded ICC profile, unchanged; None when there is none.
    exif : bytes or None
        The EXIF block of a JPEG, PNG or WebP, starting with ``b"Exif\\0\\0"``
        (the form :func:`write_jpeg` and Pillow accept), with the orientation
        tag reset to 1 because the pixels are already upright. None when the
        file has no EXIF, and always None for TIFF (its tags are not EXIF).
    path : pathlib.Path
        The file as given.
    format : str
        ``"JPEG"``, ``"PNG"``, ``"TIFF"`` or ``"WEBP"``, from the file's
        content (not its extension).
    orientation : int
        The EXIF/TIFF orientation (1-8) that was applied; 1 when none.
        Coordinates stored in the file (clipping paths) refer to the
        pixels before this rotation.
    """

    rgb: np.ndarray = dataclasses.field(repr=False)
    alpha: "np.ndarray | None" = dataclasses.field(repr=False)
    bit_depth: int
    mode: str
    icc_profile: "bytes | None" = dataclasses.field(repr=False)
    exif: "bytes | None" = dataclasses.field(repr=False)
    path: Path
    format: str
    orientation: int = 1

    @property
    def shape(self):
        """(H, W) of the upright image."""
        return self.rgb.shape[:2]


# ---------------------------------------------------------------------------
# Reading: what the headers say


@dataclasses.dataclass
class _Header:
    format: str
    width: int
    height: int
    use_cv2: bool = False
    mode: "str | None" = None
    bit_depth: int = 8
    icc_profile: "bytes | None" = None
    exif: "bytes | None" = None
    orientation: "int | None" = None
    alpha: str = "none"  # cv2 path: "none", "straight", "premultiplied", "drop"
    orientation_patch: "tuple[int, bytes] | None" = None  # TIFF: where to write 1
    colour_key: "tuple[int, ...] | None" = None  # 16-bit PNG tRNS: the transparent value
    channels: int = 0  # samples per pixel (PNG: from the colour type)


_OTHER_FORMATS = (
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"BM", "a BMP image"),
    (b"8BPS", "a Photoshop document (PSD/PSB)"),
    (b"gimp xcf", "a GIMP document (XCF)"),
    (b"%PDF", "a PDF document"),
    (b"\x00\x00\x00\x0cjP  ", "a JPEG 2000 image"),
    (b"\xff\x4f\xff\x51", "a JPEG 2000 codestream"),
    (b"\xff\x0a", "a JPEG XL image"),
    (b"\x00\x00\x00\x0cJXL ", "a JPEG XL image"),
    (b"PK\x03\x04", "a zip archive (a Krita or OpenRaster document?)"),
    (b"II+\x00", "a BigTIFF image"),
    (b"MM\x00+", "a BigTIFF image"),
)


def _sniff(data, path):
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    advice = "save it from your editor as PNG, TIFF or JPEG"
    for magic, what in _OTHER_FORMATS:
        if data.startswith(magic):
            return _raise(_unsupported(path, f"it is {what}", advice))
    if data[4:8] == b"ftyp":
        return _raise(_unsupported(path, "it is a HEIF/AVIF (or other ISO media) file", advice))
    if len(data) < 16 and any(data.startswith(m[:len(data)]) for m in (
            b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"II*\x00", b"MM\x00*", b"RIFF")):
        raise _truncated(path)
    raise _read_error(
        path,
        "it is not a JPEG, PNG, TIFF or WebP image (the start of the file "
        "matches none of them)",
        "check that this is the file you meant, or re-export it as PNG, TIFF or JPEG",
    )


def _raise(exc):
    raise exc


def _parse_png(data, path):
    view = memoryview(data)
    size = len(data)
    pos = 8
    header = None
    frames = 1
    while True:
        if pos + 8 > size:
            raise _truncated(path)
        length, kind = struct.unpack(">I4s", view[pos:pos + 8])
        if length > 0x7FFFFFFF:
            raise _corrupt(path, f"impossible PNG chunk length {length}")
        end = pos + 12 + length
        if end > size:
            raise _truncated(path)
        (crc,) = struct.unpack(">I", view[end - 4:end])
        if zlib.crc32(view[pos + 4:end - 4]) != crc:
            name = kind.decode("latin-1")
            raise _corrupt(path, f"checksum error in the PNG {name!r} chunk")
        body = view[pos + 8:end - 4]
        if header is None:
            if kind != b"IHDR" or length != 13:
                raise _corrupt(path, "the PNG header chunk is missing")
            width, height, depth, colour_type = struct.unpack(">IIBB", body[:10])
            header = _Header("PNG", width, height, bit_depth=depth)
        elif kind == b"iCCP":
            raw = bytes(body)
            name_end = raw.find(b"\x00")
            try:
                header.icc_profile = zlib.decompress(raw[name_end + 2:])
            except zlib.error:
                raise _corrupt(path, "the embedded ICC profile cannot be unpacked") from None
        elif kind == b"eXIf":
            header.exif = bytes(body)
        elif kind == b"tRNS" and header.bit_depth == 16 and length in (2, 6):
            header.colour_key = struct.unpack(">%dH" % (length // 2), body)
        elif kind == b"acTL" and length >= 4:
            (frames,) = struct.unpack(">I", body[:4])
        elif kind == b"IEND":
            break
        pos = end
    if frames > 1:
        raise _unsupported(
            path, f"it is an animated PNG with {frames} frames",
            "export the frame you want as a still PNG")
    if header.bit_depth == 16:
        header.use_cv2 = True
        header.mode = {0: "I;16", 2: "RGB;16", 4: "LA;16", 6: "RGBA;16"}.get(colour_type)
        if header.mode is None:
            raise _corrupt(path, f"16-bit PNG with colour type {colour_type}")
    else:
        header.bit_depth = 8
    return header


_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _parse_jpeg(data, path):
    size = len(data)
    pos = 2
    header = None
    adobe_transform = None
    while True:
        if pos + 2 > size:
            raise _truncated(path)
        if data[pos] != 0xFF:
            raise _corrupt(path, f"no JPEG marker at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker == 0xD9:
            raise _corrupt(path, "the JPEG ends before any image data")
        if pos + 4 > size:
            raise _truncated(path)
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        if length < 2:
            raise _corrupt(path, f"bad JPEG segment length at byte {pos}")
        end = pos + 2 + length
        if end > size:
            raise _truncated(path)
        if marker in _SOF_MARKERS and header is None:
            if length < 8:
                raise _corrupt(path, "short JPEG frame header")
            precision, height, width, components = struct.unpack(">BHHB", data[pos + 4:pos + 10])
            if precision != 8:
                raise _unsupported(
                    path, f"it is a {precision}-bit JPEG",
                    "save it as an 8-bit JPEG, or as a 16-bit PNG or TIFF")
            if marker in (0xC3, 0xC7, 0xCB, 0xCF):
                raise _unsupported(path, "it is a lossless JPEG", "save it as PNG or TIFF")
            header = _Header("JPEG", width, height)
            header.channels = components
        elif marker == 0xEE and data[pos + 4:pos + 9] == b"Adobe" and length >= 14:
            adobe_transform = data[pos + 15]
        elif marker == 0xDA:
            if header is None:
                raise _corrupt(path, "image data before the JPEG frame header")
            # Entropy-coded data never holds FF D9 (an FF there is followed
            # by 00 or a restart marker), so no end marker means it was cut.
            if data.find(b"\xff\xd9", end) < 0:
                raise _truncated(path, " (no end-of-image marker)")
            break
        pos = end
    if header.channels == 4:
        what = "YCCK" if adobe_transform == 2 else "CMYK"
        raise _unsupported(
            path, f"it is a {what} JPEG (print colours)",
            "convert it to RGB in your editor (with its colour profile) and save it again")
    if header.channels not in (1, 3):
        raise _unsupported(path, f"it is a JPEG with {header.channels} channels",
                           "save it as an RGB JPEG, PNG or TIFF")
    if header.width == 0 or header.height == 0:
        raise _unsupported(path, "it is a JPEG whose height is given at the end (DNL)",
                           "re-save it from your editor")
    return header


def _parse_webp(data, path):
    (riff_size,) = struct.unpack("<I", data[4:8])
    if 8 + riff_size > len(data) or len(data) < 30:
        raise _truncated(path)
    kind = data[12:16]
    if kind == b"VP8X":
        width = 1 + int.from_bytes(data[24:27], "little")
        height = 1 + int.from_bytes(data[27:30], "little")
    elif kind == b"VP8 ":
        if data[23:26] != b"\x9d\x01\x2a":
            raise _corrupt(path, "bad WebP (VP8) frame header")
        width, height = struct.unpack("<HH", data[26:30])
        width, height = width & 0x3FFF, height & 0x3FFF
    elif kind == b"VP8L":
        if data[20] != 0x2F:
            raise _corrupt(path, "bad WebP (VP8L) header")
        (bits,) = struct.unpack("<I", data[21:25])
        width, height = 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    else:
        raise _corrupt(path, f"unknown WebP chunk {kind!r}")
    return _Header("WEBP", width, height)


# TIFF field types: size of one value in bytes, struct code.
_TIFF_TYPES = {
    1: (1, "B"), 2: (1, "B"), 3: (2, "H"), 4: (4, "I"), 6: (1, "b"), 7: (1, "B"),
    8: (2, "h"), 9: (4, "i"), 5: (8, None), 10: (8, None), 11: (4, "f"),
    12: (8, "d"), 13: (4, "I"), 16: (8, "Q"),
}


class _TiffError(Exception):
    def __init__(self, truncated, detail=""):
        super().__init__(detail)
        self.truncated = truncated


def _tiff_ifd(data, offset, order):
    """Read one TIFF directory: ({tag: value}, next offset, {tag: entry
    offset}). Values are tuples of numbers, or bytes for BYTE/ASCII/UNDEFINED
    fields."""
    size = len(data)
    if offset + 2 > size:
        raise _TiffError(True)
    (count,) = struct.unpack(order + "H", data[offset:offset + 2])
    end = offset + 2 + 12 * count
    if end + 4 > size:
        raise _TiffError(True)
    tags, positions = {}, {}
    for i in range(count):
        entry = offset + 2 + 12 * i
        tag, kind, n = struct.unpack(order + "HHI", data[entry:entry + 8])
        if kind not in _TIFF_TYPES:
            continue
        positions[tag] = entry
        width, code = _TIFF_TYPES[kind]
        total = width * n
        if total <= 4:
            start = entry + 8
        else:
            (start,) = struct.unpack(order + "I", data[entry + 8:entry + 12])
            if start + total > size:
                raise _TiffError(True)
        raw = data[start:start + total]
        if kind in (1, 2, 7):
            tags[tag] = bytes(raw)
        elif code is not None:
            tags[tag] = struct.unpack(f"{order}{n}{code}", raw)
    (next_offset,) = struct.unpack(order + "I", data[end:end + 4])
    return tags, next_offset, positions


def _parse_tiff(data, path):
    order = "<" if data[:2] == b"II" else ">"
    if len(data) < 8:
        raise _truncated(path)
    (offset,) = struct.unpack(order + "I", data[4:8])
    try:
        tags, next_offset, positions = _tiff_ifd(data, offset, order)
        pages = 1
        seen = {offset}
        while next_offset and len(seen) < 10000:
            if next_offset in seen:
                raise _TiffError(False, "its directories form a loop")
            seen.add(next_offset)
            more, next_offset, _ = _tiff_ifd(data, next_offset, order)
            if not (more.get(254) or (0,))[0] & 1:  # not a reduced-resolution copy
                pages += 1
    except _TiffError as exc:
        if exc.truncated:
            raise _truncated(path) from None
        raise _corrupt(path, str(exc)) from None
    except (struct.error, IndexError):
        raise _corrupt(path, "unreadable TIFF directory") from None

    def first(tag, default):
        value = tags.get(tag)
        return value[0] if isinstance(value, tuple) and value else default

    width, height = first(256, 0), first(257, 0)
    if not width or not height:
        raise _corrupt(path, "the TIFF has no image size")
    if pages > 1:
        raise _unsupported(path, f"it is a TIFF with {pages} pages",
                           "save the page you want as its own file")
    # Every strip or tile must lie inside the file.
    for offsets_tag, counts_tag in ((273, 279), (324, 325)):
        offsets, counts = tags.get(offsets_tag), tags.get(counts_tag)
        if isinstance(offsets, tuple) and isinstance(counts, tuple):
            if any(o + c > len(data) for o, c in zip(offsets, counts)):
                raise _truncated(path)

    header = _Header("TIFF", width, height)
    header.icc_profile = tags.get(34675) or None
    header.orientation = first(274, 1)
    if header.orientation != 1 and 274 in positions and len(tags[274]) == 1:
        # Pillow and OpenCV both turn TIFFs upright themselves (for some
        # layouts); they are given orientation 1 and jewelmask turns the
        # pixels once, the same way for every format.
        header.orientation_patch = (positions[274] + 8, struct.pack(order + "H", 1))
    bits = first(258, 1)
    sample_format = first(339, 1)
    photometric = first(262, 1)
    samples = first(277, 1)
    extra = tags.get(338, ())
    if isinstance(extra, bytes):
        extra = tuple(extra)
    named = {5: "a CMYK (separated) TIFF", 8: "a Lab TIFF", 9: "a Lab TIFF",
             10: "a Lab TIFF", 32844: "a LogL TIFF", 32845: "a LogLuv TIFF",
             4: "a TIFF transparency mask"}
    if photometric in named:
        raise _unsupported(path, f"it is {named[photometric]}",
                           "convert it to RGB in your editor and save it again")
    if sample_format == 2:
        raise _unsupported(path, f"it is a signed {bits}-bit integer TIFF",
                           "save it as an 8- or 16-bit (unsigned) or 32-bit float TIFF")
    if sample_format == 3:
        if bits != 32:
            raise _unsupported(path, f"it is a {bits}-bit float TIFF",
                               "save it as a 32-bit float or a 16-bit TIFF")
    elif bits == 32:
        raise _unsupported(path, "it is a 32-bit integer TIFF",
                           "save it as a 16-bit or 32-bit float TIFF")
    elif bits not in (1, 2, 4, 8, 16):
        raise _unsupported(path, f"it is a {bits}-bit TIFF", "save it as a 16-bit TIFF")
    if bits <= 8:
        return header  # Pillow decodes these exactly

    if photometric not in (0, 1, 2):
        raise _unsupported(path, f"it is a {bits}-bit TIFF with photometric "
                           f"interpretation {photometric}", "save it as an RGB TIFF")
    base = 3 if photometric == 2 else 1
    extras = samples - base
    if extras < 0 or extras > 1:
        raise _unsupported(
            path, f"it is a TIFF with {samples} channels (extra channels such as "
            "saved selections)", "delete the extra channels in your editor and save it again")
    kind = extra[0] if extra else 2  # no ExtraSamples tag: libtiff and OpenCV call it alpha
    if extras == 0:
        header.alpha = "none"
    elif kind == 0:
        header.alpha = "drop"  # an unspecified extra channel is not transparency
    else:
        header.alpha = "premultiplied" if kind == 1 else "straight"
    if base == 1 and extras and header.alpha != "drop":
        raise _unsupported(path, f"it is a {bits}-bit greyscale TIFF with transparency",
                           "save it as a 16-bit PNG, or as an RGB TIFF")
    float_ = sample_format == 3
    header.use_cv2 = True
    header.bit_depth = 32 if float_ else 16
    suffix = "F" if float_ else "16"
    if base == 1:
        header.mode = "F" if float_ else "I;16"
    elif header.alpha in ("straight", "premultiplied"):
        header.mode = "RGBA;" + suffix
    else:
        header.mode = "RGB;" + suffix
    header.channels = samples
    return header


# ---------------------------------------------------------------------------
# Reading: decoding


_PILLOW_LIMIT_LOCK = threading.Lock()


@contextlib.contextmanager
def _pillow_limit_lifted(pixels):
    """Let Pillow decode an image that passed our own ``max_pixels`` check.

    Pillow warns above ``Image.MAX_IMAGE_PIXELS`` and raises at twice that.
    Only when the image is that large is the global lifted, under a lock,
    for the duration of the decode.
    """
    limit = Image.MAX_IMAGE_PIXELS
    if limit is None or pixels <= limit:
        yield
        return
    with _PILLOW_LIMIT_LOCK:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _decode_pillow(data, header, path):
    """Decode an 8-bit (or lower) image with Pillow. Returns (colour, alpha,
    mode): uint8 colour of shape (H, W) or (H, W, 3), uint8 alpha (H, W) or
    None, and the source layout."""
    with _pillow_limit_lifted(header.width * header.height):
        try:
            with Image.open(BytesIO(data), formats=[header.format]) as im:
                frames = getattr(im, "n_frames", 1)
                if header.format == "WEBP" and frames > 1:
                    raise _unsupported(path, f"it is an animated WebP with {frames} frames",
                                       "export the frame you want as a still image")
                im.load()
                if header.format in ("JPEG", "WEBP"):
                    header.icc_profile = im.info.get("icc_profile") or None
                    header.exif = im.info.get("exif") or None
                return _pillow_arrays(im, path)
        except ImageReadError:
            raise
        except MemoryError:
            raise _read_error(path, "there is not enough memory to decode it",
                              "close other programs or lower the image size") from None
        except Image.UnidentifiedImageError as exc:
            raise _unsupported(path, f"it is a {header.format} with a layout Pillow cannot "
                               "decode", "save it again from your editor as 8-bit RGB or "
                               "RGBA") from exc
        except Exception as exc:  # Pillow raises many types on bad data
            message = str(exc) or type(exc).__name__
            if "truncated" in message.lower():
                raise _truncated(path) from exc
            raise _corrupt(path, f"the decoder said: {message}") from exc


def _pillow_arrays(im, path):
    mode = im.mode
    has_key = "transparency" in im.info
    if mode in ("CMYK", "LAB", "HSV", "I", "F", "YCbCr") or mode.startswith("I;16"):
        raise _unsupported(path, f"it is a {mode} image",
                           "convert it to RGB in your editor and save it again")
    if mode == "1":
        im = im.convert("L")
    elif mode in ("P", "PA"):
        im = im.convert("RGBA" if has_key or mode == "PA" else "RGB")
    elif mode in ("L", "RGB") and has_key:
        im = im.convert("RGBA")
        if mode == "L":
            im = im.convert("LA")
    elif mode == "RGBa":
        im, mode = im.convert("RGBA"), "RGBA"
    elif mode == "La":
        im, mode = im.convert("LA"), "LA"
    elif mode == "RGBX":
        im = im.convert("RGB")
    if im.mode not in ("L", "LA", "RGB", "RGBA"):
        raise _unsupported(path, f"it has the layout {im.mode}", "save it as an RGB image")
    array = np.asarray(im)
    if im.mode == "LA":
        return array[:, :, 0], array[:, :, 1], mode
    if im.mode == "RGBA":
        return array[:, :, :3], array[:, :, 3], mode
    return array, None, mode


def _decode_cv2(data, header, path):
    import cv2  # only 16-bit colour and float need it

    try:
        array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        raise _corrupt(path, f"OpenCV could not decode it: {str(exc).strip()}") from exc
    if array is None:
        raise _corrupt(path, "OpenCV could not decode it")
    expected = np.float32 if header.bit_depth == 32 else np.uint16
    if array.shape[:2] != (header.height, header.width) or array.dtype != expected:
        raise _corrupt(path, f"decoded as {array.shape} {array.dtype}, not as its header says")
    if array.ndim == 2:
        colour, alpha = array, None
    elif array.shape[2] == 3:
        colour, alpha = array[:, :, ::-1], None
    elif array.shape[2] == 4:
        colour, alpha = array[:, :, 2::-1], array[:, :, 3]
    else:
        raise _corrupt(path, f"decoded with {array.shape[2]} channels")
    if header.colour_key is not None and alpha is None:
        # OpenCV honours a 16-bit colour key for RGB but not for grey.
        key = np.array(header.colour_key, dtype=np.uint16)
        opaque = colour != key if colour.ndim == 2 else np.any(colour != key, axis=2)
        alpha = np.where(opaque, np.uint16(65535), np.uint16(0))
    if header.format == "TIFF":
        wants_alpha = header.alpha in ("straight", "premultiplied")
        if header.alpha == "drop":
            alpha = None
        elif wants_alpha != (alpha is not None):
            raise _unsupported(path, "its channel layout did not decode as expected",
                               "save it as an 8- or 16-bit RGB or RGBA TIFF or PNG")
    return colour, alpha, header.mode


# ---------------------------------------------------------------------------
# Reading: EXIF orientation


def _exif_orientation(exif):
    """Return (orientation, exif) with the orientation reset to 1 in a copy
    of the EXIF block. The block is patched in place (no re-encoding), so
    maker notes and offsets survive. Unreadable EXIF gives orientation 1."""
    if exif is None:
        return 1, None
    raw = bytes(exif)
    if not raw.startswith(b"Exif\x00\x00"):
        raw = b"Exif\x00\x00" + raw
    tiff = bytearray(raw[6:])
    try:
        order = {b"II": "<", b"MM": ">"}[bytes(tiff[:2])]
        (offset,) = struct.unpack(order + "I", tiff[4:8])
        (count,) = struct.unpack(order + "H", tiff[offset:offset + 2])
        for i in range(count):
            entry = offset + 2 + 12 * i
            tag, kind, n = struct.unpack(order + "HHI", tiff[entry:entry + 8])
            if tag == 0x0112 and kind == 3 and n == 1:
                (value,) = struct.unpack(order + "H", tiff[entry + 8:entry + 10])
                tiff[entry + 8:entry + 10] = struct.pack(order + "H", 1)
                return (value if 1 <= value <= 8 else 1), b"Exif\x00\x00" + bytes(tiff)
    except (KeyError, struct.error):
        pass
    return 1, raw


def _orient(array, orientation):
    """Turn stored pixels upright for an EXIF orientation (1-8).

    The tag says where the stored first row and column belong: 2 mirrors
    left-right, 3 rotates 180 degrees, 4 mirrors top-bottom, 5 transposes,
    6 rotates 90 degrees clockwise, 7 transposes across the other diagonal,
    8 rotates 90 degrees counter-clockwise.
    """
    if array is None or orientation == 1:
        return array
    if orientation == 2:
        return array[:, ::-1]
    if orientation == 3:
        return array[::-1, ::-1]
    if orientation == 4:
        return array[::-1]
    if orientation == 5:
        return array.swapaxes(0, 1)
    if orientation == 6:
        return np.rot90(array, -1)
    if orientation == 7:
        return array[::-1, ::-1].swapaxes(0, 1)
    if orientation == 8:
        return np.rot90(array, 1)
    return array


# ---------------------------------------------------------------------------
# Reading: the public function


def read_image(path, *, max_pixels=DEFAULT_MAX_PIXELS):
    """Read a JPEG, PNG, TIFF or WebP photo into the engine's dtype contract.

    Parameters
    ----------
    path : str or os.PathLike
        The file. Its format is recognised from its content.
    max_pixels : int or None, optional
        Refuse images with more pixels than this (width x height), before
        decoding anything. Default :data:`DEFAULT_MAX_PIXELS` (250 MP);
        None for no limit. 16-bit colour and float images are decoded by
        OpenCV, which has its own limit of 2**30 pixels unless the
        ``OPENCV_IO_MAX_IMAGE_PIXELS`` environment variable raises it.

    Returns
    -------
    LoadedImage
        ``rgb`` float32 (H, W, 3), ``alpha`` float32 (H, W) or None, and the
        source's bit depth, layout, ICC profile and EXIF. The EXIF or TIFF
        orientation has been applied, so (H, W) is the upright size.

    Raises
    ------
    ImageReadError
        If the file is missing, unreadable, empty, truncated, damaged, not a
        supported format or layout, or too large. The message names the
        file, the problem and what to do.
    ValueError
        If ``max_pixels`` is not a positive integer or None.

    Examples
    --------
    >>> image = read_image("ring.jpg")                # doctest: +SKIP
    >>> image.rgb.shape, image.bit_depth, image.alpha  # doctest: +SKIP
    ((4000, 6000, 3), 8, None)
    """
    if max_pixels is not None and (
        isinstance(max_pixels, bool) or not isinstance(max_pixels, (int, np.integer))
        or max_pixels <= 0
    ):
        raise ValueError(f"max_pixels must be a positive integer or None, got {max_pixels!r}")
    path = Path(os.fspath(path))
    data = _read_bytes(path)
    fmt = _sniff(data, path)
    parse = {"JPEG": _parse_jpeg, "PNG": _parse_png, "TIFF": _parse_tiff, "WEBP": _parse_webp}
    header = parse[fmt](data, path)
    if header.width <= 0 or header.height <= 0:
        raise _corrupt(path, f"its header gives the size {header.width} x {header.height}")
    pixels = header.width * header.height
    if max_pixels is not None and pixels > max_pixels:
        raise _read_error(
            path,
            f"it is {header.width} x {header.height} pixels ({pixels / 1e6:.1f} "
            f"megapixels), more than the limit of {max_pixels / 1e6:g} megapixels "
            f"(it would need about {pixels * 12 / 1e9:.1f} GB of memory)",
            "pass a larger max_pixels if you trust the file and have the memory, "
            "or reduce the image first",
        )
    if header.orientation_patch is not None:
        at, one = header.orientation_patch
        data = bytearray(data)  # both decoders accept a bytearray
        data[at:at + 2] = one
    if header.use_cv2:
        colour, alpha, mode = _decode_cv2(data, header, path)
    else:
        colour, alpha, mode = _decode_pillow(data, header, path)
    del data

    if fmt == "TIFF":
        orientation, exif = header.orientation, None
        if not 1 <= orientation <= 8:
            orientation = 1
    else:
        orientation, exif = _exif_orientation(header.exif)
    colour = _orient(colour, orientation)
    alpha = _orient(alpha, orientation)
    rgb, _ = as_float_image(colour)
    if alpha is not None:
        alpha = np.ascontiguousarray(_to_float32(alpha, "alpha"))
        if header.alpha == "premultiplied":
            covered = alpha > 0
            np.divide(rgb, alpha[:, :, np.newaxis], out=rgb, where=covered[:, :, np.newaxis])
            rgb[~covered] = 0.0
    return LoadedImage(
        rgb=rgb,
        alpha=alpha,
        bit_depth=header.bit_depth,
        mode=mode,
        icc_profile=header.icc_profile,
        exif=exif,
        path=path,
        format=fmt,
        orientation=orientation,
    )


def _read_bytes(path):
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise _read_error(path, "the file does not exist",
                          "check the name and the folder") from None
    except IsADirectoryError:
        raise _read_error(path, "it is a folder, not an image file",
                          "give the path of an image file") from None
    except PermissionError:
        if path.is_dir():  # what Windows says for a folder
            raise _read_error(path, "it is a folder, not an image file",
                              "give the path of an image file") from None
        raise _read_error(path, "permission denied",
                          "check that you are allowed to read the file") from None
    except OSError as exc:
        raise _read_error(path, f"the system could not read it ({exc.strerror or exc})",
                          "check the disk or network share and try again") from None
    if not data:
        raise _read_error(path, "the file is empty (0 bytes)",
                          "re-export it from your editor or copy it again")
    return data


# ---------------------------------------------------------------------------
# Writing


def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        real = os.path.realpath
        return os.path.normcase(real(a)) == os.path.normcase(real(b))


@contextlib.contextmanager
def atomic_write(path, *, protect=None):
    """Write a file all at once or not at all.

    Yields a temporary path in the same folder as `path` (a hidden name that
    ends with the same extension, so format-by-extension writers work).
    When the block finishes, the temporary file replaces `path` in one step
    (``os.replace``); when it raises, the temporary file is removed and
    `path` is left as it was.

    Parameters
    ----------
    path : str or os.PathLike
        The file to create or replace.
    protect : str or os.PathLike, optional
        A file that must not be overwritten (the input image); if `path` is
        that file, ImageWriteError is raised before anything is written.

    Yields
    ------
    pathlib.Path
        The temporary file to write to (it exists, empty).

    Raises
    ------
    ImageWriteError
        If `path` is `protect`, its folder does not exist or cannot be
        written, or the final rename fails.

    Examples
    --------
    >>> with atomic_write("mask.png") as tmp:    # doctest: +SKIP
    ...     tmp.write_bytes(png_bytes)
    """
    target = Path(os.fspath(path))
    if protect is not None and _same_file(target, os.fspath(protect)):
        raise ImageWriteError(
            f"cannot write {target}: it is the input image; choose another output "
            "name or folder so the original is kept")
    folder = target.parent
    if not folder.is_dir():
        raise ImageWriteError(
            f"cannot write {target}: the folder {folder} does not exist; create it first")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        temporary = folder / f".{target.stem}.{secrets.token_hex(4)}.tmp{target.suffix}"
        try:
            os.close(os.open(temporary, flags, 0o666))
            break
        except FileExistsError:
            continue
        except OSError as exc:
            raise ImageWriteError(
                f"cannot write {target}: {exc.strerror or exc}; check that the folder "
                "is writable and the disk is not full") from None
    try:
        yield temporary
    except BaseException:
        _discard(temporary)
        raise
    try:
        os.replace(temporary, target)
    except OSError as exc:
        _discard(temporary)
        raise ImageWriteError(
            f"cannot write {target}: {exc.strerror or exc}; check that it is not open "
            "in another program and that the folder is writable") from None


def _discard(temporary):
    with contextlib.suppress(OSError):
        os.unlink(temporary)


def _write_bytes(path, data, protect):
    target = Path(os.fspath(path))
    with atomic_write(target, protect=protect) as temporary:
        try:
            temporary.write_bytes(data)
        except OSError as exc:
            raise ImageWriteError(
                f"cannot write {target}: {exc.strerror or exc}; check the free disk space"
            ) from None
    return target


def _check_bits(bits):
    if isinstance(bits, bool) or bits not in (8, 16):
        raise ValueError(f"bits must be 8 or 16, got {bits!r}")
    return np.uint8 if bits == 8 else np.uint16


def _format_for(path, allowed, parameter="path"):
    suffix = Path(os.fspath(path)).suffix.lower()
    formats = {".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF", ".jpg": "JPEG", ".jpeg": "JPEG"}
    fmt = formats.get(suffix)
    if fmt not in allowed:
        endings = sorted(s for s, f in formats.items() if f in allowed)
        raise ValueError(f"{parameter} must end in {', '.join(endings)}, got {os.fspath(path)!r}")
    return fmt


def _check_icc(icc_profile):
    if icc_profile is None:
        return None
    if not isinstance(icc_profile, (bytes, bytearray, memoryview)) or not len(icc_profile):
        raise ValueError(f"icc_profile must be non-empty bytes or None, got {type(icc_profile).__name__}")
    return bytes(icc_profile)


def _pillow_encode(path, image, fmt, **options):
    out = BytesIO()
    try:
        image.save(out, format=fmt, **options)
    except (OSError, ValueError) as exc:  # e.g. a JPEG side above 65535 pixels
        raise ImageWriteError(f"cannot write {path}: the {fmt} encoder failed ({exc})") from exc
    return out.getvalue()


def _png_chunk(kind, body):
    return (struct.pack(">I", len(body)) + kind + body
            + struct.pack(">I", zlib.crc32(kind + body)))


def _png_with_icc(png, icc_profile):
    """Insert an iCCP chunk right after IHDR (which is 8 + 25 bytes in)."""
    body = b"ICC profile\x00\x00" + zlib.compress(icc_profile)
    return png[:33] + _png_chunk(b"iCCP", body) + png[33:]


def _tiff_encode(array, *, alpha=False, icc_profile=None):
    """Encode uint8/uint16 (H, W) or (H, W, C) as a little-endian TIFF:
    deflate with horizontal differencing, strips of about 256 KB, straight
    alpha (ExtraSamples = 2) when `alpha`, and the ICC profile if given."""
    height, width = array.shape[:2]
    channels = 1 if array.ndim == 2 else array.shape[2]
    samples = array.reshape(height, width, channels).astype(array.dtype.newbyteorder("<"))
    bits = samples.dtype.itemsize * 8
    difference = samples.copy()
    difference[:, 1:] -= samples[:, :-1]  # unsigned wrap-around, as the predictor expects
    rows = max(1, (256 * 1024) // (width * channels * samples.dtype.itemsize))
    out = bytearray(b"II*\x00\x00\x00\x00\x00")
    offsets, counts = [], []
    for r in range(0, height, rows):
        # Level 1: photos' noisy low bits hardly compress at any level, and
        # higher levels cost two to three times the time for 1-4 % smaller files.
        strip = zlib.compress(difference[r:r + rows].tobytes(), 1)
        offsets.append(len(out))
        counts.append(len(strip))
        out += strip
        if len(out) % 2:
            out += b"\x00"
    short, long_, undefined = 3, 4, 7
    entries = [
        (256, long_, [width]),
        (257, long_, [height]),
        (258, short, [bits] * channels),
        (259, short, [8]),  # Adobe deflate
        (262, short, [2 if channels >= 3 else 1]),
        (273, long_, offsets),
        (277, short, [channels]),
        (278, long_, [rows]),
        (279, long_, counts),
        (284, short, [1]),
        (317, short, [2]),  # horizontal differencing
    ]
    if alpha:
        entries.append((338, short, [2]))  # unassociated (straight) alpha
    if icc_profile:
        entries.append((34675, undefined, icc_profile))
    packed = []
    for tag, kind, values in entries:
        if kind == undefined:
            payload, count = bytes(values), len(values)
        else:
            payload = struct.pack("<%d%s" % (len(values), "H" if kind == short else "I"), *values)
            count = len(values)
        if len(payload) > 4:
            value = struct.pack("<I", len(out))
            out += payload
            if len(out) % 2:
                out += b"\x00"
        else:
            value = payload.ljust(4, b"\x00")
        packed.append(struct.pack("<HHI", tag, kind, count) + value)
    out[4:8] = struct.pack("<I", len(out))
    out += struct.pack("<H", len(packed)) + b"".join(packed) + b"\x00\x00\x00\x00"
    return bytes(out)


def write_mask(path, mask, *, bits=8, protect=None):
    """Write a mask as a single-channel greyscale PNG or TIFF.

    Parameters
    ----------
    path : str or os.PathLike
        Ends in ``.png``, ``.tif`` or ``.tiff`` (which picks the format).
    mask : ndarray, shape (H, W) or (H, W, 1)
        Any mask :func:`as_mask` accepts; float32 in [0, 1] normally.
        The file is (H, W): white where the mask is 1.
    bits : {8, 16}, optional
        Bits per sample in the file. Values are rounded to the nearest level.
    protect : str or os.PathLike, optional
        The input image: refuse to overwrite it.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    ValueError
        For a bad `mask`, `bits` or extension.
    ImageWriteError
        If the file cannot be written, or `path` is `protect`. Nothing
        half-written is left behind.
    """
    fmt = _format_for(path, ("PNG", "TIFF"))
    levels = mask_to_dtype(mask, _check_bits(bits))
    if fmt == "TIFF":
        data = _tiff_encode(levels)
    else:
        data = _pillow_encode(path, Image.fromarray(levels), "PNG")
    return _write_bytes(path, data, protect)


def write_cutout(path, rgb, alpha, *, bits=8, icc_profile=None, protect=None):
    """Write a cutout: colour plus the mask as straight alpha, RGBA PNG or TIFF.

    Parameters
    ----------
    path : str or os.PathLike
        Ends in ``.png``, ``.tif`` or ``.tiff``.
    rgb : ndarray, shape (H, W, 3) or (H, W)
        The colour, straight (not premultiplied); any dtype
        :func:`as_float_image` accepts. Float values outside [0, 1] are
        clipped, as an integer file cannot hold them.
    alpha : ndarray, shape (H, W)
        The mask; any mask :func:`as_mask` accepts.
    bits : {8, 16}, optional
        Bits per sample. 16-bit PNG is encoded by OpenCV (in its BGRA order,
        which is handled here).
    icc_profile : bytes, optional
        An ICC profile to embed (the input's, so colours stay as they were).
    protect : str or os.PathLike, optional
        The input image: refuse to overwrite it.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ValueError
        For a bad `rgb`, `alpha` (or shapes that differ), `bits`,
        `icc_profile` or extension.
    ImageWriteError
        If the file cannot be written, or `path` is `protect`.
    """
    fmt = _format_for(path, ("PNG", "TIFF"))
    dtype = _check_bits(bits)
    icc_profile = _check_icc(icc_profile)
    if np.ndim(rgb) == 3 and np.shape(rgb)[2] == 4:
        raise ValueError(f"rgb must have 1 or 3 channels, got shape {np.shape(rgb)}; "
                         "pass the transparency as alpha")
    colour, _ = as_float_image(rgb)
    coverage = as_mask(alpha)
    if coverage.shape != colour.shape[:2]:
        raise ValueError(f"alpha must have the shape of rgb, {colour.shape[:2]}, "
                         f"got {coverage.shape}")
    rgba = np.concatenate([quantize(colour, dtype), quantize(coverage, dtype)[:, :, np.newaxis]],
                          axis=2)
    if fmt == "TIFF":
        data = _tiff_encode(rgba, alpha=True, icc_profile=icc_profile)
    elif bits == 8:
        options = {"icc_profile": icc_profile} if icc_profile else {}
        data = _pillow_encode(path, Image.fromarray(rgba), "PNG", **options)
    else:
        import cv2

        try:
            ok, encoded = cv2.imencode(".png", np.ascontiguousarray(rgba[:, :, [2, 1, 0, 3]]))
        except cv2.error as exc:
            raise ImageWriteError(f"cannot write {path}: OpenCV could not encode the PNG "
                                  f"({str(exc).strip()})") from exc
        if not ok:
            raise ImageWriteError(f"cannot write {path}: OpenCV could not encode the PNG")
        data = encoded.tobytes()
        if icc_profile:
            data = _png_with_icc(data, icc_profile)
    return _write_bytes(path, data, protect)


_APP_MARKERS = tuple(range(0xE0, 0xF0)) + (0xFE,)


def _jpeg_insert(jpeg, segments):
    """Insert raw segments after the leading APP0/APP1/APP2 (JFIF, EXIF,
    XMP, ICC) segments of an encoded JPEG."""
    pos = 2
    while jpeg[pos] == 0xFF and 0xE0 <= jpeg[pos + 1] <= 0xE2:
        (length,) = struct.unpack(">H", jpeg[pos + 2:pos + 4])
        pos += 2 + length
    extra = b"".join(b"\xff" + bytes([marker]) + struct.pack(">H", len(payload) + 2) + payload
                     for marker, payload in segments)
    return jpeg[:pos] + extra + jpeg[pos:]


def write_jpeg(path, rgb, *, quality=95, icc_profile=None, exif=None, app_segments=(),
               protect=None):
    """Write an 8-bit RGB JPEG, with optional ICC profile, EXIF and raw segments.

    Parameters
    ----------
    path : str or os.PathLike
        Ends in ``.jpg`` or ``.jpeg``.
    rgb : ndarray, shape (H, W, 3) or (H, W)
        Any dtype :func:`as_float_image` accepts; no alpha (JPEG has none:
        flatten onto a background first). Float values outside [0, 1] are
        clipped. Greyscale is written as RGB.
    quality : int, optional
        1 to 100. Chroma is not subsampled (4:4:4), which keeps thin metal
        edges clean.
    icc_profile : bytes, optional
        Embedded as APP2 segments (split as needed).
    exif : bytes, optional
        An EXIF block, as in :attr:`LoadedImage.exif` (with or without the
        leading ``b"Exif\\0\\0"``), written as it is: make sure its
        orientation is 1 if the pixels are upright. At most 65527 bytes.
    app_segments : sequence of (int, bytes), optional
        Raw segments ``(marker, payload)`` inserted after the JFIF, EXIF and
        ICC segments, in order: ``marker`` is 0xE0-0xEF (APP0-APP15) or 0xFE
        (COM), ``payload`` the bytes after the length field, at most 65533
        bytes (split longer data over several segments, as Photoshop does
        for APP13 clipping paths).
    protect : str or os.PathLike, optional
        The input image: refuse to overwrite it.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ValueError
        For a bad `rgb`, `quality`, `icc_profile`, `exif`, `app_segments`
        or extension.
    ImageWriteError
        If the file cannot be written, or `path` is `protect`.
    """
    _format_for(path, ("JPEG",))
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) or not 1 <= quality <= 100:
        raise ValueError(f"quality must be an integer from 1 to 100, got {quality!r}")
    icc_profile = _check_icc(icc_profile)
    if np.ndim(rgb) == 3 and np.shape(rgb)[2] == 4:
        raise ValueError(f"rgb must have 1 or 3 channels, got shape {np.shape(rgb)}; "
                         "JPEG has no transparency: flatten it onto a background first")
    segments = []
    for item in app_segments:
        try:
            marker, payload = item
            payload = bytes(payload)
        except (TypeError, ValueError):
            raise ValueError(f"app_segments must hold (marker, bytes) pairs, got {item!r}") from None
        if isinstance(marker, bool) or marker not in _APP_MARKERS:
            raise ValueError(f"app_segments markers must be 0xE0-0xEF or 0xFE, got {marker!r}")
        if len(payload) > 65533:
            raise ValueError(f"app_segments payloads must be at most 65533 bytes, got "
                             f"{len(payload)}; split it over several segments")
        segments.append((int(marker), payload))
    options = {"quality": int(quality), "subsampling": 0}
    if icc_profile:
        options["icc_profile"] = icc_profile
    if exif is not None:
        if not isinstance(exif, (bytes, bytearray, memoryview)):
            raise ValueError(f"exif must be bytes or None, got {type(exif).__name__}")
        exif = bytes(exif)
        if not exif.startswith(b"Exif\x00\x00"):
            exif = b"Exif\x00\x00" + exif
        if len(exif) > 65533:
            raise ValueError(f"exif must be at most 65533 bytes with its header, got {len(exif)}")
        options["exif"] = exif
    colour, _ = as_float_image(rgb)
    data = _pillow_encode(path, Image.fromarray(quantize(colour, np.uint8)), "JPEG",
                          **options)
    if segments:
        data = _jpeg_insert(data, segments)
    return _write_bytes(path, data, protect)

"""Tests for jewelmask.io and jewelmask.dtypes: the dtype contract, reading,
writing and the errors a retoucher sees.

Every fixture file is generated in tmp_path: by Pillow and OpenCV where they
write the layout correctly, and by the tiny PNG and TIFF builders below
where neither can (16-bit grey+alpha PNG, premultiplied TIFF, TIFF
orientation on 16-bit data, thumbnail pages).
"""

import io
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms, ImageFile, ImageOps

from jewelmask.errors import ImageReadError, ImageWriteError
from jewelmask.io import (
    DEFAULT_MAX_PIXELS,
    LoadedImage,
    as_float_image,
    as_mask,
    atomic_write,
    mask_to_dtype,
    read_image,
    write_cutout,
    write_jpeg,
    write_mask,
)

RNG = np.random.default_rng(20240607)
H, W = 6, 10  # not square, so a transposed result cannot pass


def sample(shape, dtype):
    if np.dtype(dtype).kind == "f":
        return RNG.random(shape).astype(dtype)
    return RNG.integers(0, np.iinfo(dtype).max + 1, shape, dtype=dtype, endpoint=False)


@pytest.fixture(scope="module")
def srgb_profile():
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


# ---------------------------------------------------------------------------
# Fixture builders


def png_chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bytes(array, colour_type, *, chunks=()):
    """A minimal PNG (8 or 16 bit, no filtering) of any colour type."""
    height, width = array.shape[:2]
    depth = array.dtype.itemsize * 8
    rows = array.astype(array.dtype.newbyteorder(">")).reshape(height, -1).view(np.uint8)
    raw = np.concatenate([np.zeros((height, 1), np.uint8), rows], axis=1).tobytes()
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    out = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
    for kind, body in chunks:
        out += png_chunk(kind, body)
    return out + png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b"")


def png_insert(png, kind, body):
    """Insert a chunk right after IHDR."""
    return png[:33] + png_chunk(kind, body) + png[33:]


def tiff_bytes(pages, *, order="<"):
    """A minimal uncompressed TIFF. `pages` is a list of (array, extra_tags)
    with extra_tags {tag: (type, [values])} added to or overriding the
    defaults. Each directory comes before its values and pixels, so a cut
    file still has a readable directory."""
    out = bytearray((b"II*\x00" if order == "<" else b"MM\x00*") + bytes(4))
    link = 4  # where the offset of the next directory goes
    for array, extra in pages:
        height, width = array.shape[:2]
        channels = 1 if array.ndim == 2 else array.shape[2]
        kind = array.dtype
        tags = {
            256: (4, [width]), 257: (4, [height]),
            258: (3, [kind.itemsize * 8] * channels), 259: (3, [1]),
            262: (3, [2 if channels >= 3 else 1]), 273: (4, [0]),
            277: (3, [channels]), 278: (4, [height]),
            279: (4, [array.nbytes]), 284: (3, [1]),
            339: (3, [3 if kind.kind == "f" else 1] * channels),
        }
        tags.update(extra)
        payloads = {tag: struct.pack(f"{order}{len(values)}{ {3: 'H', 4: 'I', 7: 'B'}[ftype]}",
                                     *values) for tag, (ftype, values) in tags.items()}
        ifd = len(out)
        values_at = ifd + 2 + 12 * len(tags) + 4
        far = {}
        for tag in sorted(tags):
            if len(payloads[tag]) > 4:
                far[tag] = values_at
                values_at += len(payloads[tag]) + len(payloads[tag]) % 2
        payloads[273] = struct.pack(order + "I", values_at)  # the pixels follow the values
        out[link:link + 4] = struct.pack(order + "I", ifd)
        out += struct.pack(order + "H", len(tags))
        for tag in sorted(tags):
            ftype, values = tags[tag]
            value = (struct.pack(order + "I", far[tag]) if tag in far
                     else payloads[tag].ljust(4, b"\x00"))
            out += struct.pack(order + "HHI", tag, ftype, len(values)) + value
        link = len(out)
        out += bytes(4)
        for tag in sorted(far):
            out += payloads[tag] + b"\x00" * (len(payloads[tag]) % 2)
        out += array.astype(kind.newbyteorder(order)).tobytes()
        if len(out) % 2:
            out += b"\x00"
    return bytes(out)


def pillow_save(path, image, fmt, **options):
    image.save(path, format=fmt, **options)
    return path


def exif_block(orientation, make="Acme Optics"):
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = make
    return exif.tobytes()


def as_u8(values):
    return np.rint(np.asarray(values) * 255).astype(np.uint8)


def as_u16(values):
    return np.rint(np.asarray(values) * 65535).astype(np.uint16)


# ---------------------------------------------------------------------------
# The read grid: dtype x layout x format


def case_8bit(layout, fmt):
    """Returns (writer(path), expected rgb (float), expected alpha or None, mode)."""
    if layout == "L":
        grey = sample((H, W), np.uint8)
        image, rgb, alpha = Image.fromarray(grey), np.repeat(grey[..., None], 3, 2), None
    elif layout == "LA":
        la = sample((H, W, 2), np.uint8)
        image, rgb, alpha = Image.fromarray(la), np.repeat(la[..., :1], 3, 2), la[..., 1]
    elif layout == "RGB":
        px = sample((H, W, 3), np.uint8)
        image, rgb, alpha = Image.fromarray(px), px, None
    elif layout == "RGBA":
        px = sample((H, W, 4), np.uint8)
        image, rgb, alpha = Image.fromarray(px), px[..., :3], px[..., 3]
    else:  # "P" or "P+t"
        palette = sample((16, 3), np.uint8)
        index = RNG.integers(0, 16, (H, W), dtype=np.uint8)
        image = Image.fromarray(index)
        image.putpalette(palette.tobytes())
        rgb, alpha = palette[index], None
    options = {}
    if layout == "P+t":
        table = sample(16, np.uint8)
        options["transparency"] = table.tobytes()
        alpha = table[index]
    if fmt == "WEBP":
        options.update(lossless=True, exact=True)
    mode = "P" if layout.startswith("P") else layout

    def write(path):
        return pillow_save(path, image, fmt, **options)

    return write, rgb / 255.0, None if alpha is None else alpha / 255.0, mode


def case_16bit(layout, fmt):
    if layout == "L":
        grey = sample((H, W), np.uint16)
        rgb, alpha, mode = np.repeat(grey[..., None], 3, 2), None, "I;16"
        data = png_bytes(grey, 0) if fmt == "PNG" else cv2.imencode(".tif", grey)[1].tobytes()
    elif layout == "LA":
        la = sample((H, W, 2), np.uint16)
        rgb, alpha, mode = np.repeat(la[..., :1], 3, 2), la[..., 1], "LA;16"
        data = png_bytes(la, 4)
    elif layout == "RGB":
        px = sample((H, W, 3), np.uint16)
        rgb, alpha, mode = px, None, "RGB;16"
        data = cv2.imencode("." + fmt.lower()[:3], px[..., ::-1].copy())[1].tobytes()
    else:
        px = sample((H, W, 4), np.uint16)
        rgb, alpha, mode = px[..., :3], px[..., 3], "RGBA;16"
        bgra = px[..., [2, 1, 0, 3]].copy()
        data = cv2.imencode("." + fmt.lower()[:3], bgra)[1].tobytes()

    def write(path):
        path.write_bytes(data)
        return path

    return write, rgb / 65535.0, None if alpha is None else alpha / 65535.0, mode


def case_float(layout, fmt):
    scale = np.float32(1.5)  # floats above 1 must survive untouched
    if layout == "L":
        grey = sample((H, W), np.float32) * scale
        rgb, alpha, mode = np.repeat(grey[..., None], 3, 2), None, "F"
        data = None

        def write(path):
            return pillow_save(path, Image.fromarray(grey), "TIFF")
    else:
        channels = 3 if layout == "RGB" else 4
        px = sample((H, W, channels), np.float32) * scale
        rgb, alpha, mode = px[..., :3], (px[..., 3] if channels == 4 else None), layout + ";F"
        order = [2, 1, 0, 3][:channels]
        data = cv2.imencode(".tif", px[..., order].copy())[1].tobytes()

        def write(path):
            path.write_bytes(data)
            return path

    return write, rgb, alpha, mode


GRID = (
    [("u8", layout, "PNG") for layout in ("L", "LA", "RGB", "RGBA", "P", "P+t")]
    + [("u8", layout, "TIFF") for layout in ("L", "LA", "RGB", "RGBA", "P")]
    + [("u8", layout, "WEBP") for layout in ("RGB", "RGBA")]
    + [("u16", layout, "PNG") for layout in ("L", "LA", "RGB", "RGBA")]
    + [("u16", layout, "TIFF") for layout in ("L", "RGB", "RGBA")]
    + [("f32", layout, "TIFF") for layout in ("L", "RGB", "RGBA")]
)


@pytest.mark.parametrize("dtype, layout, fmt", GRID, ids=["-".join(c) for c in GRID])
def test_read_round_trip_is_exact(tmp_path, dtype, layout, fmt):
    make = {"u8": case_8bit, "u16": case_16bit, "f32": case_float}[dtype]
    write, rgb, alpha, mode = make(layout, fmt)
    path = write(tmp_path / f"image.{fmt.lower()}")
    loaded = read_image(path)

    assert isinstance(loaded, LoadedImage)
    assert loaded.format == fmt and loaded.mode == mode
    assert loaded.bit_depth == {"u8": 8, "u16": 16, "f32": 32}[dtype]
    assert loaded.path == path and loaded.shape == (H, W)
    assert loaded.rgb.dtype == np.float32 and loaded.rgb.shape == (H, W, 3)
    assert loaded.rgb.flags.c_contiguous
    np.testing.assert_allclose(loaded.rgb, rgb, rtol=0, atol=1e-7)
    if alpha is None:
        assert loaded.alpha is None
    else:
        assert loaded.alpha.dtype == np.float32 and loaded.alpha.shape == (H, W)
        np.testing.assert_allclose(loaded.alpha, alpha, rtol=0, atol=1e-7)


@pytest.mark.parametrize("fmt, layout", [("JPEG", "L"), ("JPEG", "RGB"), ("WEBP", "RGB")])
def test_read_lossy_formats(tmp_path, fmt, layout):
    r, c = np.mgrid[0:32, 0:48]
    smooth = np.stack([r * 7, c * 5, (r + c) * 3], axis=2).astype(np.uint8)
    pixels = smooth[..., 0] if layout == "L" else smooth
    path = pillow_save(tmp_path / "photo.img", Image.fromarray(pixels), fmt, quality=95)
    loaded = read_image(path)
    assert loaded.format == fmt and loaded.mode == layout and loaded.bit_depth == 8
    assert loaded.alpha is None and loaded.rgb.shape == (32, 48, 3)
    expected = np.repeat(pixels[..., None], 3, 2) if layout == "L" else pixels
    assert np.abs(loaded.rgb - expected / 255.0).mean() < 0.02


def test_read_palette_below_8_bits_and_bilevel(tmp_path):
    index = RNG.integers(0, 4, (H, W), dtype=np.uint8)
    palette = sample((4, 3), np.uint8)
    image = Image.fromarray(index)
    image.putpalette(palette.tobytes())
    path = pillow_save(tmp_path / "p2.png", image, "PNG", bits=2)
    loaded = read_image(path)
    assert loaded.mode == "P" and loaded.bit_depth == 8
    np.testing.assert_array_equal(as_u8(loaded.rgb), palette[index])

    bits = RNG.integers(0, 2, (H, W)).astype(bool)
    path = pillow_save(tmp_path / "bilevel.tif", Image.fromarray(bits), "TIFF")
    loaded = read_image(path)
    assert loaded.mode == "1"
    np.testing.assert_array_equal(loaded.rgb[..., 0], bits.astype(np.float32))


def test_read_grey_and_rgb_colour_key_transparency(tmp_path):
    grey = sample((H, W), np.uint8)
    grey[0, 0] = 7
    path = pillow_save(tmp_path / "key.png", Image.fromarray(grey), "PNG", transparency=7)
    loaded = read_image(path)
    assert loaded.mode == "L"
    assert loaded.alpha[0, 0] == 0 and np.all(loaded.alpha[grey != 7] == 1)


@pytest.mark.parametrize("colour_type", [0, 2])
def test_16bit_png_colour_key(tmp_path, colour_type):
    grey = np.arange(H * W, dtype=np.uint16).reshape(H, W) * 1000
    pixels = grey if colour_type == 0 else np.dstack([grey, grey, grey])
    key = struct.pack(">H", 3000) * (1 if colour_type == 0 else 3)
    path = _write(tmp_path / "key16.png", png_bytes(pixels, colour_type, chunks=[(b"tRNS", key)]))
    loaded = read_image(path)
    np.testing.assert_array_equal(loaded.alpha, (grey != 3000).astype(np.float32))
    np.testing.assert_array_equal(as_u16(loaded.rgb[..., 0]), grey)


def test_16bit_values_survive_exactly_where_pillow_truncates(tmp_path):
    # Values chosen so the low byte matters: an 8-bit path cannot produce them.
    px = np.array([[[0, 1, 255], [256, 257, 4097]], [[32767, 32768, 65534], [65535, 12345, 54321]]],
                  dtype=np.uint16)
    for ext in ("png", "tif"):
        path = tmp_path / f"deep.{ext}"
        cv2.imwrite(str(path), px[..., ::-1].copy())
        assert np.asarray(Image.open(path)).dtype == np.uint8  # Pillow's 8-bit truncation
        loaded = read_image(path)
        assert loaded.bit_depth == 16
        np.testing.assert_array_equal(as_u16(loaded.rgb), px)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_tiff_alpha_kinds(tmp_path, dtype):
    suffix = "" if dtype == np.uint8 else ";16"
    top = np.iinfo(dtype).max
    rgb = sample((H, W, 3), dtype)
    cover = sample((H, W), dtype)
    cover[0, :2] = (0, top)
    # Straight alpha, declared.
    straight = np.dstack([rgb, cover])
    loaded = read_image(_write(tmp_path / "straight.tif", tiff_bytes([(straight, {338: (3, [2])})])))
    assert loaded.mode == "RGBA" + suffix
    np.testing.assert_array_equal(loaded.rgb, rgb / np.float32(top))
    np.testing.assert_array_equal(loaded.alpha, cover / np.float32(top))
    # Premultiplied alpha comes back straight.
    colour = rgb / float(top)
    premultiplied = np.rint(colour * (cover / float(top))[..., None] * top).astype(dtype)
    data = tiff_bytes([(np.dstack([premultiplied, cover]), {338: (3, [1])})])
    loaded = read_image(_write(tmp_path / "premultiplied.tif", data))
    assert loaded.mode == "RGBA" + suffix
    covered = cover > top // 4  # where the colour is still precise after premultiplying
    np.testing.assert_allclose(loaded.rgb[covered], colour[covered], atol=0.03)
    assert np.all(loaded.rgb[cover == 0] == 0)
    np.testing.assert_array_equal(loaded.alpha, cover / np.float32(top))
    # An unspecified extra channel (a saved selection) is not transparency.
    data = tiff_bytes([(np.dstack([rgb, cover]), {338: (3, [0])})])
    loaded = read_image(_write(tmp_path / "selection.tif", data))
    assert loaded.alpha is None and loaded.mode == "RGB" + suffix
    np.testing.assert_array_equal(loaded.rgb, rgb / np.float32(top))


def test_big_endian_tiff(tmp_path):
    px = sample((H, W, 3), np.uint16)
    loaded = read_image(_write(tmp_path / "mm.tif", tiff_bytes([(px, {})], order=">")))
    np.testing.assert_array_equal(as_u16(loaded.rgb), px)


def test_tiff_thumbnail_page_is_ignored(tmp_path):
    px = sample((H, W, 3), np.uint8)
    thumb = sample((2, 3, 3), np.uint8)
    data = tiff_bytes([(px, {}), (thumb, {254: (4, [1])})])
    loaded = read_image(_write(tmp_path / "with-thumbnail.tif", data))
    np.testing.assert_array_equal(as_u8(loaded.rgb), px)


def test_format_comes_from_content_not_extension(tmp_path):
    path = pillow_save(tmp_path / "actually-a-png.jpg", Image.fromarray(sample((H, W, 3), np.uint8)),
                       "PNG")
    assert read_image(str(path)).format == "PNG"


def _write(path, data):
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------------------
# EXIF orientation
#
# The tag says where the stored first row and first column belong. These two
# corners pin down each of the eight orientations (from the EXIF spec, not
# from Pillow): where the stored top-left and top-right pixels end up.

CORNERS = {
    1: ("top-left", "top-right"),
    2: ("top-right", "top-left"),
    3: ("bottom-right", "bottom-left"),
    4: ("bottom-left", "bottom-right"),
    5: ("top-left", "bottom-left"),
    6: ("top-right", "bottom-right"),
    7: ("bottom-right", "top-right"),
    8: ("bottom-left", "top-left"),
}


def corner(array, name, size=1):
    rows = slice(0, size) if name.startswith("top") else slice(-size, None)
    cols = slice(0, size) if name.endswith("left") else slice(-size, None)
    return array[rows, cols]


def check_upright(loaded, stored_shape, orientation, first, second, size=1, atol=0.0):
    h, w = stored_shape
    assert loaded.shape == ((w, h) if orientation >= 5 else (h, w))
    assert loaded.orientation == orientation
    where_first, where_second = CORNERS[orientation]
    np.testing.assert_allclose(corner(loaded.rgb, where_first, size).mean(axis=(0, 1)), first,
                               atol=atol)
    np.testing.assert_allclose(corner(loaded.rgb, where_second, size).mean(axis=(0, 1)), second,
                               atol=atol)


def marked(shape, dtype, size=1):
    """Grey pixels with red at the top-left and green at the top-right."""
    top = np.iinfo(dtype).max
    array = np.full(shape + (3,), top // 2, dtype=dtype)
    array[:size, :size] = (top, 0, 0)
    array[:size, -size:] = (0, top, 0)
    return array


RED, GREEN = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0)


def check_exif_reset(loaded):
    exif = Image.Exif()
    exif.load(loaded.exif)
    assert loaded.exif.startswith(b"Exif\x00\x00")
    assert exif[0x0112] == 1 and exif[0x010F] == "Acme Optics"


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_png_matches_spec_and_pillow(tmp_path, orientation):
    stored = marked((3, 5), np.uint8)
    path = pillow_save(tmp_path / "o.png", Image.fromarray(stored), "PNG",
                       exif=exif_block(orientation))
    loaded = read_image(path)
    check_upright(loaded, (3, 5), orientation, RED, GREEN)
    check_exif_reset(loaded)
    with Image.open(path) as im:
        upright = np.asarray(ImageOps.exif_transpose(im))
    np.testing.assert_array_equal(as_u8(loaded.rgb), upright)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_jpeg(tmp_path, orientation):
    stored = marked((16, 40), np.uint8, size=8)
    path = pillow_save(tmp_path / "o.jpg", Image.fromarray(stored), "JPEG", quality=95,
                       exif=exif_block(orientation))
    loaded = read_image(path)
    check_upright(loaded, (16, 40), orientation, RED, GREEN, size=4, atol=0.08)
    check_exif_reset(loaded)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_16bit_png_read_by_opencv(tmp_path, orientation):
    stored = marked((3, 5), np.uint16)
    body = exif_block(orientation)[6:]  # the eXIf chunk holds the TIFF structure only
    path = _write(tmp_path / "o16.png", png_bytes(stored, 2, chunks=[(b"eXIf", body)]))
    loaded = read_image(path)
    assert loaded.bit_depth == 16
    check_upright(loaded, (3, 5), orientation, RED, GREEN)
    check_exif_reset(loaded)


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_orientation_tiff_tag(tmp_path, orientation, dtype):
    stored = marked((3, 5), dtype)
    path = _write(tmp_path / "o.tif", tiff_bytes([(stored, {274: (3, [orientation])})]))
    loaded = read_image(path)
    check_upright(loaded, (3, 5), orientation, RED, GREEN)
    assert loaded.exif is None


def test_orientation_webp(tmp_path):
    stored = marked((3, 5), np.uint8)
    path = pillow_save(tmp_path / "o.webp", Image.fromarray(stored), "WEBP", lossless=True,
                       exif=exif_block(6))
    loaded = read_image(path)
    check_upright(loaded, (3, 5), 6, RED, GREEN)
    check_exif_reset(loaded)


def test_no_exif_means_upright_and_none(tmp_path):
    path = pillow_save(tmp_path / "plain.png", Image.fromarray(marked((3, 5), np.uint8)), "PNG")
    loaded = read_image(path)
    assert loaded.exif is None and loaded.orientation == 1


# ---------------------------------------------------------------------------
# ICC profiles


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "TIFF", "WEBP"])
def test_icc_profile_is_read(tmp_path, fmt, srgb_profile):
    path = pillow_save(tmp_path / "icc.img", Image.fromarray(sample((H, W, 3), np.uint8)), fmt,
                       icc_profile=srgb_profile)
    assert read_image(path).icc_profile == srgb_profile


def test_icc_profile_is_read_from_16bit_tiff(tmp_path, srgb_profile):
    px = sample((H, W, 3), np.uint16)
    data = tiff_bytes([(px, {34675: (7, list(srgb_profile))})])
    assert read_image(_write(tmp_path / "icc16.tif", data)).icc_profile == srgb_profile


def test_no_icc_profile_is_none(tmp_path):
    path = pillow_save(tmp_path / "plain.png", Image.fromarray(sample((H, W, 3), np.uint8)), "PNG")
    assert read_image(path).icc_profile is None


# ---------------------------------------------------------------------------
# Errors a retoucher sees


def read_fails(path, *words):
    with pytest.raises(ImageReadError) as caught:
        read_image(path)
    message = str(caught.value)
    assert str(path) in message
    for word in words:
        assert word in message, message
    assert caught.value.__class__ is ImageReadError
    return message


def encoded(fmt, array, **options):
    path_like = io.BytesIO()
    Image.fromarray(array).save(path_like, format=fmt, **options)
    return path_like.getvalue()


def test_missing_folder_empty_and_non_image(tmp_path):
    read_fails(tmp_path / "nope.jpg", "does not exist")
    read_fails(tmp_path, "folder")
    read_fails(_write(tmp_path / "empty.png", b""), "empty")
    read_fails(_write(tmp_path / "notes.jpg", b"just some text, not a picture\n"), "not a JPEG")
    read_fails(_write(tmp_path / "tiny.png", b"\x89PN"), "truncated")
    read_fails(_write(tmp_path / "tiny.tif", b"II*\x00\x08"), "truncated")
    read_fails(_write(tmp_path / "tiny.webp", b"RIFF\x10\x00\x00\x00WEBPVP8"), "truncated")


@pytest.mark.parametrize("fmt, what", [("GIF", "GIF"), ("BMP", "BMP")])
def test_other_image_formats_are_named(tmp_path, fmt, what):
    data = encoded(fmt, sample((H, W, 3), np.uint8))
    read_fails(_write(tmp_path / "other.img", data), what, "PNG, TIFF or JPEG")


def truncations(data):
    return sorted({len(data) - 1, len(data) - 2, len(data) - 12, len(data) * 2 // 3,
                   len(data) // 2, 40})


TRUNCATED_SOURCES = {
    "jpeg": lambda: encoded("JPEG", sample((32, 48, 3), np.uint8), quality=90),
    "progressive-jpeg": lambda: encoded("JPEG", sample((32, 48, 3), np.uint8), progressive=True),
    "png8": lambda: encoded("PNG", sample((32, 48, 3), np.uint8)),
    "png16": lambda: cv2.imencode(".png", sample((32, 48, 3), np.uint16))[1].tobytes(),
    "tiff8": lambda: encoded("TIFF", sample((32, 48, 3), np.uint8)),
    "tiff8-deflate": lambda: encoded("TIFF", sample((32, 48, 3), np.uint8),
                                     compression="tiff_adobe_deflate"),
    "tiff16": lambda: cv2.imencode(".tif", sample((32, 48, 3), np.uint16))[1].tobytes(),
    # Directory before the pixels, so a cut file still has a readable directory.
    "tiff16-directory-first": lambda: tiff_bytes([(sample((32, 48, 3), np.uint16), {})]),
    "webp": lambda: encoded("WEBP", sample((32, 48, 3), np.uint8), lossless=True),
}


@pytest.mark.parametrize("name", sorted(TRUNCATED_SOURCES))
def test_truncated_files_are_reported_as_truncated(tmp_path, name):
    data = TRUNCATED_SOURCES[name]()
    assert read_image(_write(tmp_path / "whole.img", data)) is not None
    for cut in truncations(data):
        path = _write(tmp_path / f"cut-{cut}.img", data[:cut])
        message = read_fails(path, "truncated")
        assert "re-export" in message


def test_damaged_png_is_reported(tmp_path):
    data = bytearray(encoded("PNG", sample((32, 48, 3), np.uint8)))
    data[len(data) // 2] ^= 0xFF
    read_fails(_write(tmp_path / "flipped.png", bytes(data)), "damaged", "checksum")


def test_damaged_deflate_stream_with_valid_checksums_is_reported(tmp_path):
    raw = zlib.compress(b"\x00" + b"\x10" * 30)[:-6] + b"\xff\xff\xff\xff\xff\xff"
    ihdr = struct.pack(">IIBBBBB", 10, 1, 8, 2, 0, 0, 0)
    data = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", raw)
            + png_chunk(b"IEND", b""))
    read_fails(_write(tmp_path / "bad-zlib.png", data), "damaged")


def test_damaged_jpeg_header_is_reported(tmp_path):
    data = bytearray(encoded("JPEG", sample((32, 48, 3), np.uint8)))
    data[2:4] = b"\x00\x00"  # no marker where the first segment should be
    read_fails(_write(tmp_path / "broken.jpg", bytes(data)), "damaged")


def test_damaged_tiff_directory_is_reported(tmp_path):
    data = bytearray(encoded("TIFF", sample((H, W, 3), np.uint8)))
    data[4:8] = struct.pack("<I", len(data) + 1000)  # directory beyond the end
    read_fails(_write(tmp_path / "broken.tif", bytes(data)), "truncated")


@pytest.mark.parametrize("case", ["cmyk-jpeg", "cmyk-tiff", "lab-tiff"])
def test_print_colour_spaces_are_refused(tmp_path, case):
    pixels = sample((H, W, 4), np.uint8)
    if case == "cmyk-jpeg":
        data = _as_cmyk_jpeg(pixels)
        read_fails(_write(tmp_path / "print.jpg", data), "CMYK", "convert it to RGB")
    elif case == "cmyk-tiff":
        data = tiff_bytes([(pixels, {262: (3, [5])})])
        read_fails(_write(tmp_path / "print.tif", data), "CMYK")
    else:
        data = tiff_bytes([(pixels[..., :3], {262: (3, [8])})])
        read_fails(_write(tmp_path / "lab.tif", data), "Lab")


def _as_cmyk_jpeg(pixels):
    image = Image.frombytes("CMYK", (pixels.shape[1], pixels.shape[0]), pixels.tobytes())
    out = io.BytesIO()
    image.save(out, format="JPEG")
    return out.getvalue()


def test_animated_and_multi_page_files_are_refused(tmp_path):
    frames = [Image.new("RGB", (W, H), colour) for colour in ("red", "blue")]
    for fmt, word in (("WEBP", "animated WebP"), ("PNG", "animated PNG"), ("TIFF", "2 pages")):
        path = tmp_path / f"frames.{fmt.lower()}"
        frames[0].save(path, format=fmt, save_all=True, append_images=frames[1:])
        read_fails(path, word)


def test_unsupported_tiff_layouts_are_refused(tmp_path):
    grey_alpha = sample((H, W, 2), np.uint16)
    read_fails(_write(tmp_path / "la16.tif", tiff_bytes([(grey_alpha, {338: (3, [2])})])),
               "greyscale TIFF with transparency", "PNG")
    spots = sample((H, W, 5), np.uint16)
    read_fails(_write(tmp_path / "spots.tif", tiff_bytes([(spots, {338: (3, [2, 0])})])),
               "5 channels")
    ints = sample((H, W), np.uint32)
    read_fails(_write(tmp_path / "int32.tif", tiff_bytes([(ints, {})])), "32-bit integer")
    signed = sample((H, W), np.uint16)
    read_fails(_write(tmp_path / "signed.tif", tiff_bytes([(signed, {339: (3, [2])})])), "signed")
    half = sample((H, W), np.float16)
    read_fails(_write(tmp_path / "half.tif", tiff_bytes([(half, {})])), "16-bit float")


def test_pixel_limit(tmp_path):
    path = pillow_save(tmp_path / "big.png", Image.fromarray(sample((40, 50, 3), np.uint8)), "PNG")
    with pytest.raises(ImageReadError, match="megapixels") as caught:
        read_image(path, max_pixels=1999)
    assert str(path) in str(caught.value) and "max_pixels" in str(caught.value)
    assert read_image(path, max_pixels=2000).shape == (40, 50)
    assert read_image(path, max_pixels=None).shape == (40, 50)
    assert DEFAULT_MAX_PIXELS == 250_000_000
    for bad in (0, -5, 1.5, True, "100"):
        with pytest.raises(ValueError, match="max_pixels"):
            read_image(path, max_pixels=bad)


def test_pixel_limit_is_checked_before_decoding_a_header_bomb(tmp_path):
    # Claims 30000 x 30000 (900 MP) but holds almost nothing: refused from the header.
    ihdr = struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)
    data = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
            + png_chunk(b"IDAT", zlib.compress(b"")) + png_chunk(b"IEND", b""))
    read_fails(_write(tmp_path / "bomb.png", data), "900.0 megapixels")


@pytest.mark.parametrize("fmt", ["PNG", "TIFF", "WEBP", "JPEG"])
def test_pillow_bomb_limit_does_not_leak(tmp_path, monkeypatch, fmt):
    # Pillow warns above MAX_IMAGE_PIXELS and raises above twice that; our own
    # max_pixels decides instead, and Pillow's setting is restored afterwards.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 50)
    path = pillow_save(tmp_path / "ok.img", Image.fromarray(sample((20, 20, 3), np.uint8)), fmt)
    assert read_image(path).shape == (20, 20)  # 400 pixels, no warning (they are errors here)
    assert Image.MAX_IMAGE_PIXELS == 50
    with pytest.raises(ImageReadError, match="megapixels"):
        read_image(path, max_pixels=399)


def test_truncated_loading_stays_off(tmp_path):
    data = encoded("JPEG", sample((32, 48, 3), np.uint8))
    with pytest.raises(ImageReadError):
        read_image(_write(tmp_path / "cut.jpg", data[: len(data) // 2]))
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


# ---------------------------------------------------------------------------
# atomic_write


def leftovers(folder):
    return sorted(p.name for p in Path(folder).iterdir() if ".tmp" in p.name)


def test_atomic_write_replaces_on_success(tmp_path):
    target = tmp_path / "out.png"
    target.write_bytes(b"old")
    with atomic_write(target) as temporary:
        assert temporary.parent == tmp_path and temporary.suffix == ".png"
        assert temporary.exists() and temporary != target
        temporary.write_bytes(b"new")
        assert target.read_bytes() == b"old"  # not replaced until the block ends
    assert target.read_bytes() == b"new" and leftovers(tmp_path) == []


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_atomic_write_leaves_nothing_when_the_writer_raises(tmp_path, error):
    target = tmp_path / "out.png"
    target.write_bytes(b"old")
    with pytest.raises(error):
        with atomic_write(target) as temporary:
            temporary.write_bytes(b"half a fi")
            raise error("encoder blew up")
    assert target.read_bytes() == b"old" and leftovers(tmp_path) == []
    fresh = tmp_path / "fresh.png"
    with pytest.raises(RuntimeError):
        with atomic_write(fresh) as temporary:
            temporary.write_bytes(b"half")
            raise RuntimeError
    assert not fresh.exists() and leftovers(tmp_path) == []


def test_atomic_write_refuses_the_protected_input(tmp_path):
    source = tmp_path / "ring.png"
    source.write_bytes(b"original")
    for target in (source, tmp_path / "." / "ring.png"):
        with pytest.raises(ImageWriteError, match="input image"):
            with atomic_write(target, protect=source):
                pass  # pragma: no cover
    link = tmp_path / "link.png"
    try:
        link.symlink_to(source)
    except OSError:
        link = None
    if link is not None:
        with pytest.raises(ImageWriteError):
            with atomic_write(link, protect=source):
                pass  # pragma: no cover
    assert source.read_bytes() == b"original" and leftovers(tmp_path) == []
    with atomic_write(tmp_path / "ring-mask.png", protect=source) as temporary:
        temporary.write_bytes(b"mask")


def test_atomic_write_missing_folder(tmp_path):
    with pytest.raises(ImageWriteError, match="does not exist"):
        with atomic_write(tmp_path / "no" / "such" / "out.png"):
            pass  # pragma: no cover


def test_writer_failing_midway_leaves_nothing(tmp_path, monkeypatch):
    target = tmp_path / "mask.png"

    def disk_full(self, data):
        with open(self, "wb") as handle:
            handle.write(data[:10])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", disk_full)
    with pytest.raises(ImageWriteError, match="No space left") as caught:
        write_mask(target, np.zeros((H, W), np.float32))
    assert str(target) in str(caught.value)
    assert not target.exists() and leftovers(tmp_path) == []


# ---------------------------------------------------------------------------
# Writers


@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("ext", ["png", "tif", "tiff"])
def test_write_mask_round_trip(tmp_path, bits, ext):
    mask = sample((H, W), np.float32)
    mask[0, :3] = (0.0, 1.0, 0.5)
    path = write_mask(tmp_path / f"mask.{ext}", mask, bits=bits)
    assert path == tmp_path / f"mask.{ext}"
    dtype = np.uint8 if bits == 8 else np.uint16
    stored = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)  # an independent reader
    assert stored.dtype == dtype and stored.shape == (H, W)
    np.testing.assert_array_equal(stored, mask_to_dtype(mask, dtype))
    with Image.open(path) as im:
        assert im.mode == ("L" if bits == 8 else "I;16") and im.size == (W, H)
    loaded = read_image(path)
    assert loaded.bit_depth == bits and loaded.alpha is None
    np.testing.assert_array_equal(mask_to_dtype(loaded.rgb[..., 0], dtype), stored)


def test_write_mask_accepts_integer_and_bool_masks(tmp_path):
    levels = sample((H, W), np.uint8)
    path = write_mask(tmp_path / "levels.png", levels)
    np.testing.assert_array_equal(np.asarray(Image.open(path)), levels)
    hard = levels > 128
    path = write_mask(tmp_path / "hard.png", hard[..., None])
    np.testing.assert_array_equal(np.asarray(Image.open(path)), hard * np.uint8(255))


def test_write_mask_rejects_bad_arguments(tmp_path):
    mask = np.zeros((H, W), np.float32)
    with pytest.raises(ValueError, match="path must end in"):
        write_mask(tmp_path / "mask.jpg", mask)
    with pytest.raises(ValueError, match="bits must be 8 or 16, got 12"):
        write_mask(tmp_path / "mask.png", mask, bits=12)
    with pytest.raises(ValueError, match="mask values must lie in"):
        write_mask(tmp_path / "mask.png", mask + 2)
    with pytest.raises(ImageWriteError, match="input image"):
        source = pillow_save(tmp_path / "in.png", Image.fromarray(sample((H, W), np.uint8)), "PNG")
        before = source.read_bytes()
        write_mask(source, mask, protect=source)
    assert source.read_bytes() == before
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("ext", ["png", "tif"])
def test_write_cutout_round_trip_and_channel_order(tmp_path, bits, ext, srgb_profile):
    rgb = sample((H, W, 3), np.float32)
    rgb[0, 0] = (1.0, 0.0, 0.0)  # pure red stays red: BGRA order handled
    alpha = sample((H, W), np.float32)
    path = write_cutout(tmp_path / f"cut.{ext}", rgb, alpha, bits=bits, icc_profile=srgb_profile)
    dtype = np.uint8 if bits == 8 else np.uint16
    top = np.iinfo(dtype).max
    if (bits, ext) == (8, "tif"):
        # OpenCV reads 8-bit RGBA TIFF through libtiff's RGBA interface, which
        # premultiplies; Pillow reads it as stored.
        stored = np.asarray(Image.open(path))[..., [2, 1, 0, 3]]
    else:
        stored = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)  # independent reader, BGRA
    assert stored.dtype == dtype and stored.shape == (H, W, 4)
    np.testing.assert_array_equal(stored[0, 0, :3], (0, 0, top))
    np.testing.assert_array_equal(stored[..., 2::-1], mask_to_dtype(rgb.reshape(H, -1), dtype)
                                  .reshape(H, W, 3))
    np.testing.assert_array_equal(stored[..., 3], mask_to_dtype(alpha, dtype))
    with Image.open(path) as im:  # another independent reader, for the profile
        assert im.info.get("icc_profile") == srgb_profile
    loaded = read_image(path)
    assert loaded.icc_profile == srgb_profile and loaded.bit_depth == bits
    assert loaded.mode == ("RGBA" if bits == 8 else "RGBA;16")
    np.testing.assert_allclose(loaded.rgb, rgb, atol=0.5 / top + 1e-7)
    np.testing.assert_allclose(loaded.alpha, alpha, atol=0.5 / top + 1e-7)


def test_write_cutout_without_profile_and_with_integer_input(tmp_path):
    rgb = sample((H, W, 3), np.uint16)
    alpha = sample((H, W), np.uint8)
    path = write_cutout(tmp_path / "cut.png", rgb, alpha, bits=16)
    loaded = read_image(path)
    assert loaded.icc_profile is None
    np.testing.assert_array_equal(as_u16(loaded.rgb), rgb)
    np.testing.assert_array_equal(as_u8(loaded.alpha), alpha)


def test_write_cutout_clips_float_overshoot(tmp_path):
    rgb = np.full((H, W, 3), 1.7, np.float32)
    rgb[0, 0] = -0.3
    path = write_cutout(tmp_path / "cut.png", rgb, np.ones((H, W), np.float32))
    stored = np.asarray(Image.open(path))
    assert stored[0, 0, 0] == 0 and stored[1, 1, 0] == 255


def test_write_cutout_rejects_bad_arguments(tmp_path):
    rgb, alpha = np.zeros((H, W, 3), np.float32), np.zeros((H, W), np.float32)
    with pytest.raises(ValueError, match="alpha must have the shape"):
        write_cutout(tmp_path / "c.png", rgb, alpha[:-1])
    with pytest.raises(ValueError, match="rgb must have 1 or 3 channels"):
        write_cutout(tmp_path / "c.png", np.zeros((H, W, 4)), alpha)
    with pytest.raises(ValueError, match="icc_profile"):
        write_cutout(tmp_path / "c.png", rgb, alpha, icc_profile="sRGB")
    with pytest.raises(ValueError, match="path must end in"):
        write_cutout(tmp_path / "c.webp", rgb, alpha)
    assert list(tmp_path.iterdir()) == []


def jpeg_markers(data):
    markers, pos = [], 2
    while data[pos + 1] != 0xDA:
        marker = data[pos + 1]
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        markers.append((marker, data[pos + 4:pos + 2 + length]))
        pos += 2 + length
    return markers


def test_write_jpeg_with_profile_exif_and_app13(tmp_path, srgb_profile):
    rgb = marked((16, 24), np.uint8, size=8)
    exif = exif_block(1)
    app13 = b"Photoshop 3.0\x008BIM\x07\xd0" + bytes(range(256)) * 3
    comment = b"made by jewelmask tests"
    path = write_jpeg(tmp_path / "out.jpg", rgb, quality=90, icc_profile=srgb_profile, exif=exif,
                      app_segments=[(0xED, app13), (0xFE, comment)])
    data = path.read_bytes()
    markers = jpeg_markers(data)
    names = [m for m, _ in markers]
    # JFIF, EXIF and ICC first, then ours in order, then the tables.
    assert names[:3] == [0xE0, 0xE1, 0xE2] and names[3:5] == [0xED, 0xFE]
    assert markers[3][1] == app13 and markers[4][1] == comment
    assert all(m not in (0xE0, 0xE1, 0xE2) for m in names[5:])
    loaded = read_image(path)
    assert loaded.icc_profile == srgb_profile
    check_exif_reset(loaded)
    with Image.open(path) as im:
        assert ("APP13", app13) in im.applist
    assert np.abs(as_u8(loaded.rgb).astype(int) - rgb).mean() < 3


def test_write_jpeg_large_profile_and_greyscale_input(tmp_path, srgb_profile):
    big = srgb_profile + bytes(150_000)  # needs several APP2 segments
    grey = sample((H, W), np.uint8)
    path = write_jpeg(tmp_path / "grey.jpeg", grey, icc_profile=big)
    loaded = read_image(path)
    assert loaded.icc_profile == big and loaded.mode == "RGB"


def test_write_jpeg_rejects_bad_arguments(tmp_path):
    rgb = np.zeros((H, W, 3), np.float32)
    target = tmp_path / "o.jpg"
    for bad in (0, 101, 95.0, True):
        with pytest.raises(ValueError, match="quality"):
            write_jpeg(target, rgb, quality=bad)
    with pytest.raises(ValueError, match="app_segments markers"):
        write_jpeg(target, rgb, app_segments=[(0xC0, b"x")])
    with pytest.raises(ValueError, match="65533"):
        write_jpeg(target, rgb, app_segments=[(0xED, bytes(65534))])
    with pytest.raises(ValueError, match="pairs"):
        write_jpeg(target, rgb, app_segments=[b"\xed"])
    with pytest.raises(ValueError, match="JPEG has no transparency"):
        write_jpeg(target, np.zeros((H, W, 4), np.float32))
    with pytest.raises(ValueError, match="exif"):
        write_jpeg(target, rgb, exif="Exif")
    with pytest.raises(ValueError, match="path must end in"):
        write_jpeg(tmp_path / "o.png", rgb)
    assert list(tmp_path.iterdir()) == []


def test_encoder_failures_are_write_errors(tmp_path):
    too_wide = np.zeros((1, 70000, 3), np.uint8)  # JPEG sides stop at 65535
    with pytest.raises(ImageWriteError, match="JPEG encoder failed") as caught:
        write_jpeg(tmp_path / "wide.jpg", too_wide)
    assert str(tmp_path / "wide.jpg") in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_loaded_image_repr_is_short(tmp_path):
    path = pillow_save(tmp_path / "r.png", Image.fromarray(sample((H, W, 3), np.uint8)), "PNG")
    text = repr(read_image(path))
    assert "format='PNG'" in text and "array" not in text and len(text) < 300


def test_write_jpeg_accepts_exif_without_header_and_protects_input(tmp_path):
    rgb = np.zeros((H, W, 3), np.float32)
    path = write_jpeg(tmp_path / "o.jpg", rgb, exif=exif_block(1)[6:])
    check_exif_reset(read_image(path))
    with pytest.raises(ImageWriteError, match="input image"):
        write_jpeg(path, rgb, protect=str(path))


def test_exif_round_trip_from_read_to_write(tmp_path):
    stored = marked((16, 40), np.uint8, size=8)
    source = pillow_save(tmp_path / "in.jpg", Image.fromarray(stored), "JPEG", quality=95,
                         exif=exif_block(6))
    loaded = read_image(source)
    out = write_jpeg(tmp_path / "out.jpg", loaded.rgb, exif=loaded.exif, protect=source)
    again = read_image(out)  # written upright with orientation 1: not rotated twice
    assert again.orientation == 1 and again.shape == loaded.shape == (40, 16)


# ---------------------------------------------------------------------------
# The dtype contract

DTYPES = [np.uint8, np.uint16, np.float16, np.float32, np.float64]
SHAPES = [(H, W), (H, W, 1), (H, W, 3), (H, W, 4)]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_as_float_image_grid(dtype, shape):
    image = sample(shape, dtype)
    rgb, alpha = as_float_image(image)
    assert rgb.dtype == np.float32 and rgb.shape == (H, W, 3) and rgb.flags.c_contiguous
    assert not np.shares_memory(rgb, image)
    scale = {np.uint8: 255.0, np.uint16: 65535.0}.get(dtype, 1.0)
    values = image.astype(np.float64) / scale
    channels = 1 if len(shape) == 2 else shape[2]
    colour = values.reshape(H, W, channels)[..., :3]
    np.testing.assert_allclose(rgb, np.broadcast_to(colour, (H, W, 3)), rtol=1e-6, atol=1e-7)
    if channels == 4:
        assert alpha.dtype == np.float32 and alpha.shape == (H, W)
        np.testing.assert_allclose(alpha, values[..., 3], rtol=1e-6, atol=1e-7)
    else:
        assert alpha is None


def test_as_float_image_keeps_float_values_outside_0_1():
    image = np.array([[[-0.25, 1.0, 3.5]]], dtype=np.float64)
    rgb, _ = as_float_image(image)
    np.testing.assert_array_equal(rgb, image.astype(np.float32))


@pytest.mark.parametrize("bad, words", [
    (np.zeros((H, W), bool), ["bool", "as_mask"]),
    (np.zeros((H, W, 3), np.int32), ["int32"]),
    (np.zeros((H, W, 3), np.int64), ["int64"]),
    (np.zeros((H, W, 3), np.uint32), ["uint32"]),
    (np.zeros((H, W, 3), np.complex64), ["complex64"]),
    (np.array([["a"]]), ["<U1"]),
    (np.zeros(W, np.uint8), ["(10,)"]),
    (np.zeros((H, W, 2), np.uint8), ["(6, 10, 2)"]),
    (np.zeros((H, W, 5), np.uint8), ["(6, 10, 5)"]),
    (np.zeros((1, H, W, 3), np.uint8), ["(1, 6, 10, 3)"]),
    (np.zeros((0, W, 3), np.uint8), ["empty", "(0, 10, 3)"]),
])
def test_as_float_image_errors_name_parameter_and_value(bad, words):
    with pytest.raises(ValueError) as caught:
        as_float_image(bad)
    message = str(caught.value)
    assert message.startswith("image ")
    for word in words:
        assert word in message, message


@pytest.mark.parametrize("dtype", [bool, np.uint8, np.uint16, np.float16, np.float32, np.float64],
                         ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", [(H, W), (H, W, 1)], ids=["HxW", "HxWx1"])
def test_as_mask_grid(dtype, shape):
    mask = sample(shape, np.uint8) > 100 if dtype is bool else sample(shape, dtype)
    out = as_mask(mask)
    assert out.dtype == np.float32 and out.shape == (H, W) and out.flags.c_contiguous
    assert not np.shares_memory(out, mask)
    scale = {np.uint8: 255.0, np.uint16: 65535.0}.get(dtype, 1.0)
    np.testing.assert_allclose(out, mask.reshape(H, W).astype(np.float64) / scale,
                               rtol=1e-6, atol=1e-7)
    assert 0.0 <= out.min() and out.max() <= 1.0


@pytest.mark.parametrize("bad, words", [
    (np.full((H, W), 1.01, np.float32), ["[0, 1]", "max 1.01", "np.clip"]),
    (np.full((H, W), -0.5, np.float64), ["min -0.5"]),
    (np.full((H, W), np.nan, np.float32), ["NaN"]),
    (np.zeros((H, W, 3), np.float32), ["(6, 10, 3)"]),
    (np.zeros(W, np.float32), ["(10,)"]),
    (np.zeros((H, 0), np.float32), ["empty"]),
    (np.zeros((H, W), np.int16), ["int16"]),
])
def test_as_mask_errors(bad, words):
    with pytest.raises(ValueError) as caught:
        as_mask(bad)
    message = str(caught.value)
    assert message.startswith("mask ")
    for word in words:
        assert word in message, message


def test_as_mask_clips_only_rounding_noise():
    noisy = np.array([[-1e-7, 0.5, 1.0000001]], np.float32)
    np.testing.assert_array_equal(as_mask(noisy), [[0.0, 0.5, 1.0]])
    with pytest.raises(ValueError, match="max 1.0001"):
        as_mask(np.array([[1.0001]], np.float32))


def test_mask_to_dtype_is_exact_and_rounds():
    every8 = np.arange(256, dtype=np.uint8).reshape(16, 16)
    np.testing.assert_array_equal(mask_to_dtype(as_mask(every8), np.uint8), every8)
    every16 = np.arange(65536, dtype=np.uint32).astype(np.uint16).reshape(256, 256)
    np.testing.assert_array_equal(mask_to_dtype(as_mask(every16), np.uint16), every16)
    halves = np.array([[0.0, 0.1 / 255, 0.6 / 255, 0.5, 1.0]], np.float32)
    np.testing.assert_array_equal(mask_to_dtype(halves, np.uint8), [[0, 0, 1, 128, 255]])
    np.testing.assert_array_equal(mask_to_dtype(halves, "uint16"), [[0, 26, 154, 32768, 65535]])
    same = mask_to_dtype(halves, np.float32)
    assert same.dtype == np.float32 and same.shape == (1, 5)
    for bad in (np.int8, np.float64, "rgb", None):
        with pytest.raises(ValueError, match="dtype must be"):
            mask_to_dtype(halves, bad)


def test_io_module_stays_editor_free():
    import jewelmask.dtypes
    import jewelmask.io

    for module in (jewelmask.io, jewelmask.dtypes):
        source = Path(module.__file__).read_text()
        assert "print(" not in source
        for editor in ("gi.repository", "import krita", "PyQt", "PySide"):
            assert editor not in source
    assert "cv2" not in Path(jewelmask.dtypes.__file__).read_text()

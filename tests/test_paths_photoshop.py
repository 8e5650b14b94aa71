"""Photoshop path resources: byte layouts, JPEG APP13, TIFF 34377, bad data."""

import struct
from io import BytesIO

import numpy as np
import pytest
from PIL import Image

from jewelmask.errors import ImageReadError, PathDataError
from jewelmask.paths import (
    Path,
    Subpath,
    embed_paths_jpeg,
    list_paths,
    path_to_mask,
    polygon_path,
    read_paths,
    tiff_with_paths,
    write_demo_files,
)
from jewelmask.paths.photoshop import (
    PHOTOSHOP_APP13_HEADER,
    ImageResource,
    build_image_resources,
    decode_path_resource,
    encode_clipping_name,
    encode_path_resource,
    parse_image_resources,
    photoshop_app13_payloads,
)

W, H = 200, 100  # not square, so a swapped x/y shows


# ----------------------------------------------------------------------------- hand-built bytes


def fx(v):
    return struct.pack(">i", int(round(v * (1 << 24))))


def rec(sel, payload=b""):
    return struct.pack(">H", sel) + payload.ljust(24, b"\x00")


def knot(sel, pts):
    """pts: three (v, h) pairs relative to height, width (vertical first)."""
    return struct.pack(">H", sel) + b"".join(fx(v) + fx(h) for v, h in pts)


def length(sel, n):
    return rec(sel, struct.pack(">H", n))


def block(rid, name, data):
    pn = bytes([len(name)]) + name
    pn += b"\x00" * (len(pn) % 2)
    return b"8BIM" + struct.pack(">H", rid) + pn + struct.pack(">I", len(data)) + data + \
        b"\x00" * (len(data) % 2)


def square_records(sel_len=0, sel_knot=2):
    # square from (x, y) = (20, 10) to (60, 50) in a 200 x 100 image, corner knots
    corners = [(10, 20), (10, 60), (50, 60), (50, 20)]  # (y, x)
    recs = rec(6) + rec(8) + length(sel_len, 4)
    for y, x in corners:
        p = (y / H, x / W)
        recs += knot(sel_knot, [p, p, p])
    return recs


def tiny_jpeg(w=W, h=H, **save):
    buf = BytesIO()
    Image.new("RGB", (w, h), (200, 100, 50)).save(buf, format="JPEG", **save)
    return buf.getvalue()


def with_app13(jpeg, payloads):
    segs = b"".join(b"\xff\xed" + struct.pack(">H", len(p) + 2) + p for p in payloads)
    return jpeg[:2] + segs + jpeg[2:]


def app13_segments(data):
    out, pos = [], 2
    while data[pos] == 0xFF and data[pos + 1] != 0xDA:
        (n,) = struct.unpack_from(">H", data, pos + 2)
        if data[pos + 1] == 0xED:
            out.append(data[pos + 4:pos + 2 + n])
        pos += 2 + n
    return out


# ----------------------------------------------------------------------------- decoding


def test_decode_hand_built_square_vertical_first():
    p = decode_path_resource(square_records(), W, H, name="Sq")
    assert len(p) == 1 and p[0].closed
    np.testing.assert_allclose(p[0].anchors, [[20, 10], [60, 10], [60, 50], [20, 50]], atol=1e-5)
    assert p.fill_rule == "evenodd" and not p.inverted
    assert path_to_mask(p, (H, W)).sum() == pytest.approx(1600, abs=1e-2)


def test_open_subpath_and_initial_fill():
    data = rec(6) + rec(8, struct.pack(">H", 1)) + length(3, 2) + \
        knot(4, [(0.1, 0.1)] * 3) + knot(5, [(0.5, 0.5)] * 3)
    p = decode_path_resource(data, W, H)
    assert not p[0].closed and p.inverted


def test_encoder_writes_the_exact_layout():
    nodes = np.array([[20, 10], [60, 10], [60, 50], [20, 50]], float)
    path = Path((Subpath(np.repeat(nodes[:, None], 3, axis=1), True),), name="Sq")
    assert encode_path_resource(path, W, H) == square_records()
    open_path = Path((Subpath(np.repeat(nodes[:, None], 3, axis=1), False),))
    assert encode_path_resource(open_path, W, H) == square_records(3, 5)


def test_smooth_knots_are_linked():
    nodes = np.array([[[10, 20], [20, 20], [30, 20]], [[40, 30], [40, 40], [40, 50]],
                      [[30, 60], [20, 60], [20, 60]]], float)
    data = encode_path_resource(Path((Subpath(nodes, True),)), W, H)
    sels = [struct.unpack_from(">H", data, 26 * k)[0] for k in range(len(data) // 26)]
    assert sels == [6, 8, 0, 1, 1, 2]


def test_clipping_name_layout():
    assert encode_clipping_name("Path 1") == b"\x06Path 1\x00" + b"\x00" * 6
    assert encode_clipping_name("Ring") == b"\x04Ring\x00" + b"\x00" * 6
    assert encode_clipping_name("Ring", 2.5)[6:10] == struct.pack(">i", 0x28000)


def test_resource_block_layout_and_padding():
    r = ImageResource(2000, b"Ab", b"xyz")
    assert build_image_resources([r]) == b"8BIM\x07\xd0\x02Ab\x00\x00\x00\x00\x03xyz\x00"
    assert parse_image_resources(build_image_resources([r, r])) == [r, r]


# ----------------------------------------------------------------------------- JPEG


def test_read_jpeg_with_resources_split_over_two_app13_segments():
    blocks = block(1005, b"", b"\x00" * 16) + block(2000, b"Square", square_records()) + \
        block(2001, b"cut: hole", square_records()) + block(2999, b"", encode_clipping_name("Square"))
    cut = 40  # in the middle of a block
    data = with_app13(tiny_jpeg(), [PHOTOSHOP_APP13_HEADER + blocks[:cut],
                                    PHOTOSHOP_APP13_HEADER + blocks[cut:]])
    emb = read_paths(data)
    assert emb.shape == (H, W)
    assert [p.name for p in emb.paths] == ["Square", "cut: hole"]
    assert emb.resource_ids == (2000, 2001)
    assert emb.clipping_name == "Square" and emb.clipping_path is emb.paths[0]
    assert [p.role for p in emb.paths] == ["add", "cut"]
    infos = list_paths(data)
    assert [(i.name, i.subpaths, i.nodes, i.clipping) for i in infos] == \
        [("Square", 1, 4, True), ("cut: hole", 1, 4, False)]


def test_embed_keeps_other_segments_and_resources(tmp_path):
    ex = Image.Exif()
    ex[0x010F] = "TestCam"
    base = tiny_jpeg(exif=ex.tobytes())
    iptc = block(1028, b"", b"\x1c\x02\x00\x00\x02\x00\x04")
    data = with_app13(base, [PHOTOSHOP_APP13_HEADER + iptc + block(2000, b"Old", square_records())])
    new = embed_paths_jpeg(data, [polygon_path([[1, 1], [9, 1], [9, 9]], name="Tri")], "Tri")
    # pixel data untouched, EXIF kept
    sos = data.index(b"\xff\xda")
    assert new.endswith(data[sos:])
    assert b"TestCam" in new
    res = parse_image_resources(b"".join(s[len(PHOTOSHOP_APP13_HEADER):] for s in app13_segments(new)))
    assert [r.id for r in res] == [1028, 2000, 2999]
    assert res[0].data == b"\x1c\x02\x00\x00\x02\x00\x04"
    assert res[1].name == b"Tri"
    np.testing.assert_array_equal(np.asarray(Image.open(BytesIO(new))),
                                  np.asarray(Image.open(BytesIO(data))))
    # add instead of replace
    more = embed_paths_jpeg(new, [polygon_path([[2, 2], [5, 2], [5, 5]], name="Two")],
                            replace_paths=False)
    emb = read_paths(more)
    assert [p.name for p in emb.paths] == ["Tri", "Two"] and emb.resource_ids == (2000, 2001)
    assert emb.clipping_name == "Tri"


def test_embed_into_plain_jpeg_goes_after_jfif():
    base = tiny_jpeg()
    new = embed_paths_jpeg(base, [polygon_path([[1, 1], [9, 1], [9, 9]], name="T")])
    assert new[2:4] == b"\xff\xe0"  # JFIF stays first
    (n,) = struct.unpack_from(">H", new, 4)
    assert new[4 + n:6 + n] == b"\xff\xed"
    assert read_paths(new).clipping_name is None


def test_large_paths_split_into_several_app13_segments():
    th = np.linspace(0, 2 * np.pi, 3000, endpoint=False)
    pts = np.stack([100 + 80 * np.cos(th), 50 + 40 * np.sin(th)], 1)
    big = [polygon_path(pts, name=f"P{i}") for i in range(2)]  # 2 x 78 kB
    new = embed_paths_jpeg(tiny_jpeg(), big, "P1")
    segs = app13_segments(new)
    assert len(segs) >= 3
    assert all(len(s) <= 65533 and s.startswith(PHOTOSHOP_APP13_HEADER) for s in segs)
    emb = read_paths(new)
    assert [p.n_nodes for p in emb.paths] == [3000, 3000]
    np.testing.assert_allclose(emb.paths[1][0].anchors, pts, atol=2e-5)
    Image.open(BytesIO(new)).load()


def test_payload_packing_keeps_small_blocks_whole():
    res = build_image_resources([ImageResource(2000 + i, b"p", b"\x00" * 30000) for i in range(3)])
    payloads = photoshop_app13_payloads(res)
    assert len(payloads) == 2
    for p in payloads:  # each segment parses on its own
        parse_image_resources(p[len(PHOTOSHOP_APP13_HEADER):])


def test_round_trip_precision():
    rng = np.random.default_rng(1)
    nodes = rng.uniform(-50, 250, size=(20, 3, 2))
    p = Path((Subpath(nodes, True), Subpath(nodes[:5], False)), name="Räder ✓")
    back = read_paths(embed_paths_jpeg(tiny_jpeg(), [p], "Räder ✓"))
    assert back.paths[0].name == "Räder ✓" and back.clipping_name == "Räder ✓"
    np.testing.assert_allclose(back.paths[0][0].nodes, nodes, atol=W / 2**24)
    assert not back.paths[0][1].closed


# ----------------------------------------------------------------------------- TIFF


def test_tiff_tag_read_by_us_and_by_pillow(tmp_path):
    img = np.zeros((H, W, 3), np.uint8)
    paths = [polygon_path([[20, 10], [60, 10], [60, 50], [20, 50]], name="Square"),
             polygon_path([[1, 1], [9, 1], [9, 9]], name="Tri")]
    data = tiff_with_paths(img, paths, "Square")
    emb = read_paths(data)
    assert [p.name for p in emb.paths] == ["Square", "Tri"] and emb.clipping_name == "Square"
    im = Image.open(BytesIO(data))
    raw = im.tag_v2[34377]
    assert im.tag_v2.tagtype[34377] == 1  # BYTE, as libtiff declares TIFFTAG_PHOTOSHOP
    res = parse_image_resources(raw)
    assert [r.id for r in res] == [2000, 2001, 2999]
    assert res[0].data == encode_path_resource(paths[0], W, H) == square_records()
    # a hand-made big-endian ("MM") TIFF directory with the same tag reads the same
    entries = [(256, 3, 1, struct.pack(">HH", W, 0)), (257, 3, 1, struct.pack(">HH", H, 0)),
               (34377, 1, len(raw), struct.pack(">I", 8 + 2 + 12 * 3 + 4))]
    ifd = struct.pack(">H", 3) + b"".join(struct.pack(">HHI", t, ty, n) + v for t, ty, n, v in entries)
    mm = b"MM\x00*" + struct.pack(">I", 8) + ifd + b"\x00" * 4 + raw
    emb = read_paths(mm)
    assert emb.shape == (H, W) and emb.paths[0].n_nodes == 4 and emb.clipping_name == "Square"


def test_demo_files(tmp_path):
    out = write_demo_files(tmp_path)
    for key in ("jpeg", "tiff"):
        infos = list_paths(out[key])
        assert [(i.name, i.subpaths, i.nodes, i.clipping) for i in infos] == \
            [("Ring outline", 2, 32, True), ("Stone", 1, 8, False)]
        emb = read_paths(out[key])
        for got, want in zip(emb.paths, out["paths"]):
            for a, b in zip(got, want):
                np.testing.assert_allclose(a.nodes, b.nodes, atol=1e-3)


# ----------------------------------------------------------------------------- bad data


def _jpeg_with_path(records, rid=2000, name=b"Bad"):
    return with_app13(tiny_jpeg(), [PHOTOSHOP_APP13_HEADER + block(rid, name, records)])


@pytest.mark.parametrize("records, message", [
    (square_records()[:-5], "not a whole number of 26-byte records"),
    (rec(6) + length(0, 4) + knot(2, [(0.1, 0.1)] * 3) * 3 + length(0, 1) + knot(2, [(0.1, 0.1)] * 3),
     "declares 4 knots but only 3"),
    (rec(6) + length(0, 5) + knot(2, [(0.1, 0.1)] * 3) * 4, "declares 5 knots but only 4"),
    (rec(6) + knot(1, [(0.1, 0.1)] * 3), "not preceded by a subpath length record"),
    (rec(6) + rec(9), "unknown selector 9"),
    (rec(6) + length(0, 1) + struct.pack(">H", 2) + b"\x10\x00\x00\x00" + b"\x00" * 20,
     r"outside the \[-16, 16\) range"),
    (rec(6) + length(3, 2) + knot(4, [(0.1, 0.1)] * 3) + knot(2, [(0.1, 0.1)] * 3),
     "open subpath at record 1 declares 2 knots but only 1"),
    (rec(6) + rec(8, struct.pack(">H", 7)), "initial fill rule record 1 holds 7"),
])
def test_bad_path_data_raises_naming_the_resource(records, message):
    data = _jpeg_with_path(records)
    with pytest.raises(PathDataError, match=message) as info:
        read_paths(data)
    assert "path resource 2000 'Bad'" in str(info.value)
    with pytest.raises(PathDataError):
        list_paths(data)


def test_truncated_resource_block():
    good = block(2000, b"P", square_records())
    data = with_app13(tiny_jpeg(), [PHOTOSHOP_APP13_HEADER + good[:-30]])
    with pytest.raises(PathDataError, match="truncated"):
        read_paths(data)
    data = with_app13(tiny_jpeg(), [PHOTOSHOP_APP13_HEADER + b"8BIX" + good[4:]])
    with pytest.raises(PathDataError, match="signature"):
        read_paths(data)
    data = with_app13(tiny_jpeg(), [PHOTOSHOP_APP13_HEADER + block(2999, b"", b"\x09Ab")])
    with pytest.raises(PathDataError, match="clipping path name resource 2999"):
        read_paths(data)


def test_embed_refuses_to_drop_damaged_resources():
    data = with_app13(tiny_jpeg(), [PHOTOSHOP_APP13_HEADER + b"8BIM\x04\x04\x00"])
    with pytest.raises(PathDataError):
        embed_paths_jpeg(data, [])


def test_bad_inputs():
    with pytest.raises(ValueError, match="jpeg_bytes"):
        embed_paths_jpeg(b"PNG....", [])
    with pytest.raises(ValueError, match="clipping_name"):
        embed_paths_jpeg(tiny_jpeg(), [polygon_path([[1, 1], [2, 2], [1, 2]], name="A")], "B")
    far = polygon_path([[0, 0], [W * 17, 0], [0, 5]], name="far")
    with pytest.raises(ValueError, match="16 image sizes"):
        embed_paths_jpeg(tiny_jpeg(), [far])
    with pytest.raises(ImageReadError):
        read_paths(b"GIF89a....")
    with pytest.raises(ImageReadError):
        read_paths(tiny_jpeg()[:200])


def test_working_path_is_listed_after_saved_paths():
    blocks = block(2000, b"Saved", square_records()) + block(1025, b"", square_records())
    data = with_app13(tiny_jpeg(), [PHOTOSHOP_APP13_HEADER + blocks])
    emb = read_paths(data)
    assert [p.name for p in emb.paths] == ["Saved"] and emb.working_path.name == "Work Path"
    assert [i.resource_id for i in list_paths(data)] == [2000, 1025]


def test_mac_roman_names_are_read():
    data = _jpeg_with_path(square_records(), name="Pfad Ä".encode("mac_roman"))
    assert read_paths(data).paths[0].name == "Pfad Ä"

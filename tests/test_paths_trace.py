"""Mask to clipping path: accuracy, holes, specks, round trip through a JPEG."""

from io import BytesIO

import numpy as np
import pytest
from PIL import Image
from skimage.measure import find_contours

from jewelmask.paths import (
    Path,
    ellipse_path,
    embed_paths_jpeg,
    path_to_mask,
    polygons_to_mask,
    read_paths,
    trace_mask,
)


def iou(a, b):
    return (a & b).sum() / (a | b).sum()


def _seg_dist(pts, poly):
    a = poly
    b = np.roll(poly, -1, axis=0)
    ab = b - a
    ll = np.maximum((ab ** 2).sum(1), 1e-12)
    t = np.clip(((pts[:, None] - a[None]) * ab[None]).sum(-1) / ll[None], 0, 1)
    proj = a[None] + t[..., None] * ab[None]
    return np.sqrt(((pts[:, None] - proj) ** 2).sum(-1)).min(1)


def max_contour_distance(mask, path):
    """Largest distance from the mask's 0.5 contour points to the traced curve."""
    rings = path.flatten(0.005)
    worst = 0.0
    for c in find_contours(np.pad(np.asarray(mask, float), 1), 0.5):
        pts = c[:, ::-1] - 0.5
        d = np.min([_seg_dist(pts, r) for r in rings], axis=0)
        worst = max(worst, float(d.max()))
    return worst


def _star(cx, cy, r_out, r_in, shape):
    ang = -np.pi / 2 + 2 * np.pi * np.arange(10) / 10
    rad = np.where(np.arange(10) % 2 == 0, r_out, r_in)
    return polygons_to_mask([np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], 1)], shape)


SHAPE = (140, 150)
RING = Path(ellipse_path(75, 70, 50).subpaths + ellipse_path(75, 70, 30, clockwise=False).subpaths)
SHAPES = {
    "disc": lambda: path_to_mask(ellipse_path(75.3, 70.2, 45), SHAPE),
    "ring": lambda: path_to_mask(RING, SHAPE),
    "binary ring": lambda: path_to_mask(RING, SHAPE) > 0.5,
    "binary star": lambda: _star(75, 70, 60, 25, SHAPE) > 0.5,
}


@pytest.mark.parametrize("name", list(SHAPES))
def test_traced_path_reproduces_the_silhouette(name):
    mask = SHAPES[name]()
    path = trace_mask(mask, tolerance=0.5)
    back = path_to_mask(path, SHAPE)
    assert iou(back > 0.5, np.asarray(mask, float) > 0.5) > 0.99
    assert max_contour_distance(mask, path) <= 0.5 + 0.01
    assert all(s.closed for s in path)


def test_sharp_star_with_finer_tolerance():
    mask = _star(75, 70, 60, 25, SHAPE)
    path = trace_mask(mask, tolerance=0.25)
    assert iou(path_to_mask(path, SHAPE) > 0.5, mask > 0.5) > 0.99
    assert max_contour_distance(mask, path) <= 0.25 + 0.01
    # the ten corners of the star are nodes
    assert path.n_nodes >= 10


def test_smooth_shapes_need_few_nodes():
    path = trace_mask(SHAPES["disc"]())
    assert len(path) == 1 and path.n_nodes <= 8


def test_holes_are_kept_and_work_with_both_fill_rules():
    mask = SHAPES["ring"]()
    path = trace_mask(mask)
    assert len(path) == 2
    nz = path_to_mask(path, SHAPE, fill_rule="nonzero")
    eo = path_to_mask(path, SHAPE, fill_rule="evenodd")
    assert np.abs(nz - eo).max() < 1e-6
    assert nz[70, 75] == 0  # the hole


def test_specks_below_min_area_are_dropped():
    mask = np.zeros((60, 60), np.uint8)
    mask[10:40, 10:40] = 255
    mask[20:22, 20:21] = 0  # pin hole of 2 px
    mask[50, 50] = 255  # speck of 1 px
    mask[45:49, 5:9] = 255  # 4 x 4 island
    path = trace_mask(mask, min_area=4.0)
    assert len(path) == 2  # the square and the island
    assert len(trace_mask(mask, min_area=0)) == 4
    assert len(trace_mask(mask, min_area=100)) == 1


def test_dtypes_and_validation():
    m = np.zeros((20, 20), bool)
    m[5:15, 5:15] = True
    for arr in (m, m.astype(np.uint8) * 255, m.astype(np.uint16) * 65535, m.astype(np.float64)):
        p = trace_mask(arr)
        assert path_to_mask(p, (20, 20)).sum() == pytest.approx(100, abs=2)
    assert len(trace_mask(np.zeros((5, 5)))) == 0
    with pytest.raises(ValueError, match="tolerance"):
        trace_mask(m, tolerance=0)
    with pytest.raises(ValueError, match="mask"):
        trace_mask(np.zeros((3, 3, 3)))
    with pytest.raises(ValueError, match="min_area"):
        trace_mask(m, min_area=-1)
    with pytest.raises(ValueError, match="mask"):
        trace_mask(np.zeros((3, 3), np.int32))


def test_shape_touching_the_border_is_closed():
    mask = np.zeros((30, 30), np.float32)
    mask[:, :12] = 1
    p = trace_mask(mask)
    assert iou(path_to_mask(p, (30, 30)) > 0.5, mask > 0.5) > 0.99


def test_traced_clipping_path_survives_a_jpeg_round_trip():
    mask = SHAPES["ring"]()
    path = trace_mask(mask).replace(name="Clip")
    buf = BytesIO()
    Image.fromarray(np.full(SHAPE + (3,), 255, np.uint8)).save(buf, format="JPEG")
    emb = read_paths(embed_paths_jpeg(buf.getvalue(), [path], "Clip"))
    back = path_to_mask(emb.clipping_path, SHAPE)
    assert np.abs(back - path_to_mask(path, SHAPE)).max() < 1e-3

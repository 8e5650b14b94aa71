"""Exact-area rasteriser: analytic references, fill rules, edge cases."""

import numpy as np
import pytest

from jewelmask.paths import (
    Path,
    Subpath,
    ellipse_path,
    path_to_mask,
    polygon_path,
    polygons_to_mask,
    rectangle_path,
)

ONE_LEVEL = 1.0 / 255.0


# ----------------------------------------------------------------------------- references


def _coverage_from_intervals(intervals_at, shape, n_sub=128):
    """Pixel coverage of a region given, for each vertical line x, its y intervals.

    Exact along y (interval overlap with each pixel row), midpoint rule with
    ``n_sub`` lines per pixel along x.
    """
    h, w = shape
    xs = (np.arange(w * n_sub) + 0.5) / n_sub
    rows = np.arange(h)[None, :]
    cov = np.zeros((w * n_sub, h))
    for a, b in intervals_at(xs):
        a = a[:, None]
        b = b[:, None]
        cov += np.clip(b, rows, rows + 1) - np.clip(a, rows, rows + 1)
    return cov.reshape(w, n_sub, h).mean(axis=1).T


def _disc_intervals(cx, cy, r):
    def f(xs):
        s = np.sqrt(np.clip(r * r - (xs - cx) ** 2, 0, None))
        return [(cy - s, cy + s)]

    return f


def _polygon_intervals(pts, fill_rule):
    """Inside intervals of a polygon along vertical lines (any fill rule)."""
    p = np.asarray(pts, float)
    q = np.roll(p, -1, axis=0)

    def f(xs):
        x0, y0, x1, y1 = p[:, 0], p[:, 1], q[:, 0], q[:, 1]
        X = xs[:, None]
        lo, hi = np.minimum(x0, x1), np.maximum(x0, x1)
        crosses = (X >= lo) & (X < hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            y = y0 + (X - x0) * (y1 - y0) / (x1 - x0)
        y = np.where(crosses, y, np.inf)
        d = np.where(crosses, np.where(x1 > x0, 1, -1), 0)
        order = np.argsort(y, axis=1)
        y = np.take_along_axis(y, order, 1)
        d = np.take_along_axis(d, order, 1)
        wnd = np.cumsum(d, axis=1)
        inside = (wnd != 0) if fill_rule == "nonzero" else (wnd % 2 != 0)
        out = []
        for k in range(y.shape[1] - 1):
            a, b = y[:, k], y[:, k + 1]
            ok = inside[:, k] & np.isfinite(b)
            out.append((np.where(ok, a, 0.0), np.where(ok, b, 0.0)))
        return out

    return f


def _shoelace(p):
    p = np.asarray(p, float)
    q = np.roll(p, -1, axis=0)
    return 0.5 * abs(np.sum(p[:, 0] * q[:, 1] - q[:, 0] * p[:, 1]))


def _star(cx, cy, r):
    ang = -np.pi / 2 + 2 * np.pi * np.arange(5) / 5
    outer = np.stack([cx + r * np.cos(ang), cy + r * np.sin(ang)], 1)
    return outer[[0, 2, 4, 1, 3]], outer


def _errors(ours, ref):
    # edge pixels: partly covered in the reference, or visibly partial in ours
    edge = ((ref > 1e-6) & (ref < 1 - 1e-6)) | ((ours > 1e-4) & (ours < 1 - 1e-4))
    err = np.abs(ours.astype(np.float64) - ref)
    return err[edge].mean(), err.max()


# ----------------------------------------------------------------------------- analytic shapes


@pytest.mark.parametrize("clockwise", [True, False])
@pytest.mark.parametrize("fill_rule", ["nonzero", "evenodd"])
def test_disc_matches_analytic_coverage(clockwise, fill_rule):
    cx, cy, r = 50.37, 48.81, 40.3
    m = path_to_mask(ellipse_path(cx, cy, r, clockwise=clockwise), (100, 100), fill_rule=fill_rule)
    assert m.dtype == np.float32 and m.shape == (100, 100)
    ref = _coverage_from_intervals(_disc_intervals(cx, cy, r), (100, 100))
    mean_err, max_err = _errors(m, ref)
    assert mean_err <= ONE_LEVEL / 4
    assert max_err <= ONE_LEVEL
    area = np.pi * r * r
    assert abs(m.sum(dtype=np.float64) - area) / area <= 0.0005


@pytest.mark.parametrize("fill_rule", ["nonzero", "evenodd"])
def test_thin_ring_is_exact_even_where_both_circles_share_pixels(fill_rule):
    cx, cy, r_out = 40.6, 41.3, 30.2
    r_in = r_out - 1.5
    outer = ellipse_path(cx, cy, r_out, clockwise=True)
    # the hole runs the other way for nonzero, the same way for even-odd
    inner = ellipse_path(cx, cy, r_in, clockwise=(fill_rule == "evenodd"))
    ring = Path(outer.subpaths + inner.subpaths, fill_rule=fill_rule)
    m = path_to_mask(ring, (82, 84))
    ref = _coverage_from_intervals(_disc_intervals(cx, cy, r_out), (82, 84)) - \
        _coverage_from_intervals(_disc_intervals(cx, cy, r_in), (82, 84))
    mean_err, max_err = _errors(m, ref)
    assert mean_err <= ONE_LEVEL / 4
    assert max_err <= ONE_LEVEL
    area = np.pi * (r_out**2 - r_in**2)
    assert abs(m.sum(dtype=np.float64) - area) / area <= 0.0005


def test_ring_with_same_direction_hole_under_nonzero_is_a_full_disc():
    cx, cy = 30.2, 30.7
    both = Path(ellipse_path(cx, cy, 20).subpaths + ellipse_path(cx, cy, 18.8).subpaths)
    m = path_to_mask(both, (61, 61), fill_rule="nonzero")
    ref = _coverage_from_intervals(_disc_intervals(cx, cy, 20), (61, 61))
    assert np.abs(m - ref).max() <= ONE_LEVEL


@pytest.mark.parametrize("fill_rule", ["evenodd", "nonzero"])
def test_self_crossing_star_is_exact_at_the_crossings(fill_rule):
    star, outer = _star(50.3, 52.1, 45.7)
    m = path_to_mask(polygon_path(star), (100, 100), fill_rule=fill_rule)
    ref = _coverage_from_intervals(_polygon_intervals(star, fill_rule), (100, 100), n_sub=256)
    mean_err, max_err = _errors(m, ref)
    assert mean_err <= ONE_LEVEL / 4
    assert max_err <= ONE_LEVEL
    # analytic area: the star outline (10-gon) minus, for even-odd, the pentagon
    ang = -np.pi / 2 + 2 * np.pi * np.arange(10) / 10
    r_in = 45.7 * np.cos(2 * np.pi / 5) / np.cos(np.pi / 5)
    rad = np.where(np.arange(10) % 2 == 0, 45.7, r_in)
    outline = np.stack([50.3 + rad * np.cos(ang), 52.1 + rad * np.sin(ang)], 1)
    area = _shoelace(outline)
    if fill_rule == "evenodd":
        area -= _shoelace(outline[1::2])
    assert abs(m.sum(dtype=np.float64) - area) / area <= 0.0005


def test_overlapping_subpaths_union_and_xor():
    a = rectangle_path(2.25, 2.5, 12.75, 10.5)
    b = rectangle_path(6.5, 5.25, 16.5, 14.75)
    both = Path(a.subpaths + b.subpaths)
    nz = path_to_mask(both, (18, 20), fill_rule="nonzero")
    eo = path_to_mask(both, (18, 20), fill_rule="evenodd")
    ma = path_to_mask(a, (18, 20))
    mb = path_to_mask(b, (18, 20))
    inter = (12.75 - 6.5) * (10.5 - 5.25)
    assert nz.sum() == pytest.approx(ma.sum() + mb.sum() - inter, abs=1e-3)
    assert eo.sum() == pytest.approx(ma.sum() + mb.sum() - 2 * inter, abs=1e-3)
    # the pixel straddling both corners: exact area by hand
    # pixel (10, 12) covers [12, 13] x [10, 11]: a covers [12, 12.75] x [10, 10.5]
    # (0.375), b covers [12, 13] x [10, 11] fully: union 1, xor 0.625
    assert nz[10, 12] == pytest.approx(1.0, abs=1e-5)
    assert eo[10, 12] == pytest.approx(0.625, abs=1e-5)


# ----------------------------------------------------------------------------- conventions


def test_no_half_pixel_shift():
    m = path_to_mask(rectangle_path(2, 3, 5, 4), (6, 7))
    expected = np.zeros((6, 7), np.float32)
    expected[3, 2:5] = 1
    np.testing.assert_array_equal(m, expected)
    m = path_to_mask(rectangle_path(2.5, 3, 5, 4.25), (6, 7))
    assert m[3].tolist() == [0, 0, 0.5, 1, 1, 0, 0]
    assert m[4].tolist() == [0, 0, 0.125, 0.25, 0.25, 0, 0]


def test_open_subpath_is_closed_with_a_straight_line():
    tri = np.array([[1, 1], [9, 1], [9, 9]], float)
    nodes = np.repeat(tri[:, None], 3, axis=1)
    closed = path_to_mask(Path((Subpath(nodes, True),)), (10, 10))
    opened = path_to_mask(Path((Subpath(nodes, False),)), (10, 10))
    np.testing.assert_array_equal(closed, opened)
    assert closed.sum() == pytest.approx(32.0, abs=1e-4)


def test_path_partly_outside_the_image():
    m = path_to_mask(rectangle_path(-5.5, -2, 3.5, 2.5), (4, 6))
    assert m[0].tolist() == [1, 1, 1, 0.5, 0, 0]
    assert m[2].tolist() == [0.5, 0.5, 0.5, 0.25, 0, 0]
    assert m[3].sum() == 0
    big = path_to_mask(rectangle_path(-100, -100, 100, 100), (5, 7))
    np.testing.assert_array_equal(big, np.ones((5, 7), np.float32))
    assert path_to_mask(rectangle_path(10, 10, 20, 20), (5, 7)).sum() == 0
    assert path_to_mask(rectangle_path(-20, 1, -10, 3), (5, 7)).sum() == 0


def test_empty_and_degenerate_paths_give_empty_masks():
    assert path_to_mask(Path(), (3, 4)).sum() == 0
    line = polygon_path([[0, 0], [3, 3]])
    assert path_to_mask(line, (4, 4)).sum() == 0
    point = polygon_path([[1, 1]])
    assert path_to_mask(point, (4, 4)).sum() == 0


def test_inverted_path_covers_the_outside():
    p = rectangle_path(1, 1, 3, 3).replace(inverted=True)
    m = path_to_mask(p, (4, 4))
    assert m.sum() == 12 and m[1:3, 1:3].sum() == 0


def test_shape_accepts_image_shapes_and_validates():
    m = path_to_mask(rectangle_path(0, 0, 2, 2), (3, 4, 3))
    assert m.shape == (3, 4)
    with pytest.raises(ValueError, match="shape"):
        path_to_mask(rectangle_path(0, 0, 2, 2), (0, 4))
    with pytest.raises(ValueError, match="fill_rule"):
        path_to_mask(rectangle_path(0, 0, 2, 2), (3, 4), fill_rule="winding")
    with pytest.raises(ValueError, match="path"):
        path_to_mask([[0, 0], [1, 1]], (3, 4))


def test_random_polygons_match_reference_for_both_rules():
    rng = np.random.default_rng(7)
    for _ in range(4):
        pts = rng.uniform(2, 38, size=(9, 2))
        for rule in ("nonzero", "evenodd"):
            m = polygons_to_mask([pts], (40, 40), fill_rule=rule)
            ref = _coverage_from_intervals(_polygon_intervals(pts, rule), (40, 40), n_sub=256)
            mean_err, max_err = _errors(m, ref)
            assert mean_err <= ONE_LEVEL / 4, rule
            assert max_err <= 2 * ONE_LEVEL, rule


def test_tall_image_spans_several_bands():
    # the integral image works in bands of rows; a shape crossing them
    m = path_to_mask(rectangle_path(1.5, 3.25, 4.5, 1000.75), (1003, 6))
    assert m.sum() == pytest.approx(3 * 997.5, abs=1e-2)
    assert m[500].tolist() == [0, 0.5, 1, 1, 0.5, 0]

"""The speed helpers give exactly the dense result they replace."""

import time

import cv2
import numpy as np
import pytest

from conftest import ring_scene
from jewelmask.backdrop import backdrop_difference, backdrop_plate, rgb01
from jewelmask.fastops import components, median_blur_u8, pimap, pmap, tile_any, tile_boxes, tile_max, tiles


@pytest.mark.parametrize("shape,size,halo", [((300, 410), 128, 9), ((64, 64), 64, 0), ((5, 700), 256, 3), ((1, 1), 8, 2)])
def test_tiles_cover_once_and_filters_match_dense(shape, size, halo):
    rng = np.random.default_rng(0)
    img = rng.random(shape, dtype=np.float32)
    dense = cv2.GaussianBlur(img, (0, 0), 1.0)  # radius 4
    count = np.zeros(shape, int)
    out = np.full(shape, np.nan, np.float32)
    for t in tiles(shape, size, halo):
        count[t.inner] += 1
        assert t.outer[0].start <= t.inner[0].start and t.outer[1].stop >= t.inner[1].stop
        out[t.inner] = cv2.GaussianBlur(np.ascontiguousarray(img[t.outer]), (0, 0), 1.0)[t.crop]
    assert (count == 1).all()
    if halo >= 4:  # equal up to float rounding (OpenCV's SIMD body and scalar tail round differently)
        np.testing.assert_allclose(out, dense, rtol=0, atol=1e-6)


@pytest.mark.parametrize("grow", [0, 1, 2, 16, 64])
def test_tile_any_grow_equals_dilating_the_mask(grow):
    rng = np.random.default_rng(grow)
    for shape in [(300, 410), (64, 64), (5, 700), (257, 256)]:
        mask = rng.random(shape) < 0.0015
        mask[0, 0] = mask[-1, -1] = True  # corners reach the diagonal neighbours
        dense = cv2.dilate(mask.astype(np.uint8), np.ones((2 * grow + 1, 2 * grow + 1), np.uint8)) > 0
        gh, gw = -(-shape[0] // 64), -(-shape[1] // 64)
        padded = np.zeros((gh * 64, gw * 64), bool)
        padded[:shape[0], :shape[1]] = dense
        np.testing.assert_array_equal(tile_any(mask, 64, grow), padded.reshape(gh, 64, gw, 64).any(axis=(1, 3)))
    with pytest.raises(ValueError, match="grow"):
        tile_any(mask, 64, 65)


def test_tile_max():
    v = np.random.default_rng(0).random((300, 410)).astype(np.float32)
    got = tile_max(v, 128)
    assert got.shape == (3, 4)
    assert got[2, 3] == v[256:, 384:].max() and got[0, 1] == v[:128, 128:256].max()


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_pmap_keeps_order_and_raises(threads):
    assert pmap(lambda x: x * x, range(20), threads=threads) == [x * x for x in range(20)]
    assert pmap(lambda x: x, [], threads=threads) == []

    def boom(x):
        if x == 7:
            raise RuntimeError("tile 7")
        return x

    with pytest.raises(RuntimeError, match="tile 7"):
        pmap(boom, range(10), threads=threads)


@pytest.mark.parametrize("threads", [1, 2])
def test_pimap_yields_in_order_and_stops_when_closed(threads):
    done = []

    def square(x):
        time.sleep(0.01)
        done.append(x)
        return x * x

    gen = pimap(square, range(50), threads=threads)
    assert [next(gen) for _ in range(3)] == [0, 1, 4]
    gen.close()
    assert len(done) < 50  # the calls not started were cancelled


def test_tile_boxes():
    grid = tile_boxes(np.array([[0, 0, 1, 1], [130, 250, 260, 258], [5, 5, 5, 9]]), (300, 410), 128)
    assert grid.shape == (3, 4)
    assert sorted(zip(*np.nonzero(grid))) == [(0, 0), (1, 1), (1, 2), (2, 1), (2, 2)]


def test_tiles_mask_and_tile_any():
    mask = np.zeros((300, 410), bool)
    mask[10, 260] = True
    grid = tile_any(mask, 128)
    assert grid.shape == (3, 4) and grid.sum() == 1 and grid[0, 2]
    grown = tile_any(mask, 128, grow=30)
    assert grown[0, 1] and grown[0, 2] and not grown[1, 2]
    sel = tiles(mask.shape, 128, 4, mask=grid)
    assert len(sel) == 1 and sel[0].inner == (slice(0, 128), slice(256, 384)) and sel[0].index == (0, 2)


@pytest.mark.parametrize("ksize", [3, 5, 11, 17])
@pytest.mark.parametrize("kind", ["dark", "mixed", "bright", "zeros"])
def test_median_blur_u8_equals_opencv(ksize, kind):
    rng = np.random.default_rng(ksize)
    shape = (150, 210)
    if kind == "dark":  # mostly 0-2, a patch of deep shadow
        img = np.minimum(rng.poisson(0.7, shape), 255).astype(np.uint8)
        img[40:90, 100:180] += rng.integers(5, 60, (50, 80)).astype(np.uint8)
    elif kind == "mixed":
        img = rng.integers(0, 256, shape).astype(np.uint8)
        img[:, :100] //= 40
    elif kind == "bright":
        img = rng.integers(100, 256, shape).astype(np.uint8)
    else:
        img = np.zeros(shape, np.uint8)
    np.testing.assert_array_equal(median_blur_u8(img, ksize), cv2.medianBlur(img, ksize))
    np.testing.assert_array_equal(median_blur_u8(img, ksize, levels=1, block=32), cv2.medianBlur(img, ksize))


def test_median_blur_u8_validates():
    with pytest.raises(ValueError, match="ksize"):
        median_blur_u8(np.zeros((9, 9), np.uint8), 4)
    with pytest.raises(ValueError, match="uint8"):
        median_blur_u8(np.zeros((9, 9), np.float32), 3)


def _keep_connected_dense(candidate, anchor, min_area=0, min_extent=0):
    """The original definition, with OpenCV's statistics."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(candidate.astype(np.uint8), connectivity=8)
    touching = np.zeros(n, bool)
    touching[np.unique(labels[anchor & candidate])] = True
    if min_area > 0 or min_extent > 0:
        area = stats[:, cv2.CC_STAT_AREA]
        extent = np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
        touching |= (area >= max(min_area, 1)) & (extent >= max(min_extent, 1))
    touching[0] = False
    return touching[labels]


@pytest.mark.parametrize("min_area,min_extent", [(0, 0), (30, 0), (0, 12), (30, 12)])
def test_components_touching_equals_dense_keep_connected(min_area, min_extent):
    rng = np.random.default_rng(3)
    cand = cv2.GaussianBlur(rng.random((200, 260)).astype(np.float32), (0, 0), 2.0) > 0.52
    anchor = np.zeros_like(cand)
    anchor[90:110, 120:140] = True
    comp = components(cand)
    keep = comp.touching(anchor, min_area=min_area, min_extent=min_extent)
    np.testing.assert_array_equal(keep[comp.labels], _keep_connected_dense(cand, anchor, min_area, min_extent))
    touched = np.zeros(comp.n, bool)
    touched[np.unique(comp.labels[anchor & cand])] = True  # gathered elsewhere, e.g. tile by tile
    np.testing.assert_array_equal(comp.keep(touched, min_area=min_area, min_extent=min_extent), keep)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(cand.astype(np.uint8), connectivity=8)
    np.testing.assert_array_equal(comp.labels, labels)
    np.testing.assert_array_equal(comp.area[1:], stats[1:, cv2.CC_STAT_AREA])
    box = comp.bbox()
    np.testing.assert_array_equal(box[1:, 0], stats[1:, cv2.CC_STAT_TOP])
    np.testing.assert_array_equal(box[1:, 3] - box[1:, 1], stats[1:, cv2.CC_STAT_WIDTH])


def test_components_four_connectivity_and_empty():
    cand = np.eye(5, dtype=bool)
    assert components(cand, 4).n == 6 and components(cand, 8).n == 2
    empty = components(np.zeros((4, 4), bool))
    assert empty.n == 1 and not empty.touching(np.ones((4, 4), bool), min_area=1).any()
    with pytest.raises(ValueError, match="connectivity"):
        components(cand, 6)


def _difference_dense(rgb, plate, box, sharp_sigma=2.0, shadow_size=11):
    """The original whole-box computation (before tiling), as the reference."""
    from jewelmask.backdrop import norm3, to_lab

    r0, c0, r1, c1 = box
    lab = to_lab(rgb[r0:r1, c0:c1])
    pl = plate.lab(box)
    d = lab - pl
    total = norm3(d)
    sharp = norm3(d - cv2.GaussianBlur(d, (0, 0), sharp_sigma))
    k = np.clip(lab[..., 0] / np.maximum(pl[..., 0], 1.0), 0.0, 1.0)
    da = lab[..., 1] - k * pl[..., 1]
    db = lab[..., 2] - k * pl[..., 2]
    chroma = np.sqrt(da * da + db * db)
    dl = d[..., 0]
    darker = np.maximum(-dl, 0.0)
    q = np.clip(darker * 4.0, 0, 255).astype(np.uint8)
    shade = cv2.medianBlur(q, shadow_size).astype(np.float32) / 4.0
    lightness = np.maximum(np.maximum(dl, 0.0), darker - shade)
    effective = np.sqrt(chroma * chroma + lightness * lightness)
    step = max(1, int(np.sqrt(sharp.size / 250_000)))
    grain = 1.25 * float(np.median(sharp[::step, ::step]))
    noise = np.maximum(plate.noise(box), grain)
    return dict(total=total, effective=effective, chroma=chroma, lightness=lightness, sharp=sharp, noise=noise)


@pytest.mark.parametrize("box", [None, (37, 51, 590, 770)])
def test_tiled_backdrop_difference_equals_dense(box):
    img, alpha = ring_scene((600, 800))
    rgb = rgb01(img)
    plate = backdrop_plate(rgb, alpha)
    box_ = box or (0, 0, 600, 800)
    ref = _difference_dense(rgb, plate, box_)
    got = backdrop_difference(img, plate, box=box)
    for name, want in ref.items():
        np.testing.assert_allclose(getattr(got, name), want, rtol=0, atol=1e-4, err_msg=name)
    part = backdrop_difference(img, plate, box=box, fields=("effective", "noise"))
    assert part.total is None and part.sharp is None
    np.testing.assert_array_equal(part.effective, got.effective)
    np.testing.assert_array_equal(part.noise, got.noise)
    with pytest.raises(ValueError, match="fields"):
        backdrop_difference(img, plate, fields=("nope",))

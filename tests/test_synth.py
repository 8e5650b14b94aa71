"""The benchmark's scene generator (bench/synth.py), on small frames."""

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import synth as S  # noqa: E402

W, H = 360, 270


@pytest.fixture(scope="module")
def scenes():
    specs = [
        dict(seed=11, kind="necklace-hanging", backdrop="white", metal=S.GOLD),
        dict(seed=12, kind="chain-lying", backdrop="grey", metal=S.SILVER, wire=(0.7, 1.2)),
        dict(seed=13, kind="ring-standing", backdrop="glossy-white", metal=S.ROSE),
        dict(seed=14, kind="studs", backdrop="marble", metal=S.WHITE_GOLD),
    ]
    return [S.render_scene(width=W, height=H, **sp) for sp in specs]


def test_same_seed_same_pixels():
    a = S.render_scene(7, W, H, kind="bracelet-lying", backdrop="linen")
    b = S.render_scene(7, W, H, kind="bracelet-lying", backdrop="linen")
    assert np.array_equal(a.image, b.image)
    assert np.array_equal(a.alpha, b.alpha)
    assert a.description == b.description
    c = S.render_scene(8, W, H, kind="bracelet-lying", backdrop="linen")
    assert not np.array_equal(a.alpha, c.alpha)


def test_shapes_and_dtypes(scenes):
    for sc in scenes:
        assert sc.image.shape == (H, W, 3) and sc.image.dtype == np.uint8
        assert sc.alpha.shape == (H, W) and sc.alpha.dtype == np.float32
        assert sc.fg.shape == (H, W, 3) and sc.fg.dtype == np.float32
        assert sc.bg.shape == (H, W, 3) and sc.bg.dtype == np.float32
        for lab in (sc.thin, sc.prong, sc.gap, sc.shadow, sc.reflection):
            assert lab.shape == (H, W) and lab.dtype == bool
        assert sc.description and isinstance(sc.seed, int)
        assert sc.jpeg[:2] == b"\xff\xd8"


def test_alpha_is_fractional_coverage(scenes):
    for sc in scenes:
        a = sc.alpha
        assert a.min() >= 0.0 and a.max() <= 1.0
        assert np.count_nonzero(a == 0) > 0.5 * a.size  # mostly background
        assert np.count_nonzero((a > 0.02) & (a < 0.98)) > 50  # soft edges
        assert np.count_nonzero(a >= 0.5) > 50


def test_labels_are_consistent_with_alpha(scenes):
    for sc in scenes:
        assert np.all(sc.alpha[sc.thin] >= 0.5)
        assert np.all(sc.alpha[sc.prong] >= 0.5)
        assert np.all(sc.alpha[sc.gap] == 0)
        assert np.all(sc.alpha[sc.shadow] == 0)
        assert np.all(sc.alpha[sc.reflection] == 0)
        assert np.all(sc.fg[sc.alpha == 0] == 0)
    necklace, chain, ring, studs = scenes
    assert chain.thin.any() and chain.shadow.any()
    assert ring.reflection.any() and ring.gap.any() and ring.prong.any()
    assert studs.prong.any()
    assert necklace.thin.any()


def test_image_is_the_composite_of_fg_and_bg(scenes):
    for sc in scenes:
        comp = sc.alpha[..., None] * sc.fg + (1 - sc.alpha[..., None]) * sc.bg
        err = np.abs(sc.image.astype(np.float32) / 255.0 - comp)
        # noise, chromatic aberration, sharpening and JPEG are all that differ
        assert float(err.mean()) < 0.02, sc.description
        assert float(np.median(err)) < 0.012


def test_thin_label_is_about_width():
    dl = S.DisplayList()
    dl.tube([(20, 40), (220, 40)], 1.5, mat=S.GOLD)  # 3 px wire
    dl.tube([(20, 120), (220, 120)], 5.0, mat=S.GOLD)  # 10 px bar
    ras = S.rasterize(dl, 160, 240)
    z = np.zeros_like(ras.alpha)
    thin, *_ = S._labels(ras.alpha, z, z, z)
    assert thin[35:46, 40:200].sum() >= 0.9 * (ras.alpha[35:46, 40:200] >= 0.5).sum()
    assert thin[110:131, 40:200].sum() == 0


@pytest.mark.parametrize("r", [6.3, 17.8, 42.5])
def test_disc_coverage_matches_its_exact_area(r):
    dl = S.DisplayList()
    dl.disc((60.37, 58.61), r, (1, 1, 1))
    ras = S.rasterize(dl, 120, 120)
    assert ras.alpha.sum() == pytest.approx(math.pi * r * r, rel=0.012)
    assert 0 < np.count_nonzero((ras.alpha > 0) & (ras.alpha < 1))


def test_polygon_and_wire_coverage_match_exact_area():
    quad = np.array([(10.3, 10.6), (110.9, 12.2), (108.1, 90.4), (12.5, 85.5)])
    area = 0.5 * abs(np.sum(quad[:, 0] * np.roll(quad[:, 1], -1) - np.roll(quad[:, 0], -1) * quad[:, 1]))
    dl = S.DisplayList()
    dl.poly(quad, (1, 0, 0))
    assert S.rasterize(dl, 120, 130).alpha.sum() == pytest.approx(area, rel=0.01)
    dl = S.DisplayList()
    p0, p1, w = np.array([20.2, 30.3]), np.array([250.7, 180.1]), 3.0
    dl.tube([p0, p1], w / 2, mat=S.SILVER)
    exact = w * np.linalg.norm(p1 - p0) + math.pi * (w / 2) ** 2
    assert S.rasterize(dl, 220, 280).alpha.sum() == pytest.approx(exact, rel=0.03)


def test_cache_round_trip(tmp_path, scenes):
    sc = scenes[2]
    path = tmp_path / "x.npz"
    S.save_scene(sc, path)
    back = S.load_scene(path)
    assert np.array_equal(back.image, sc.image)
    assert np.array_equal(back.alpha, sc.alpha)
    for k in ("thin", "prong", "gap", "shadow", "reflection"):
        assert np.array_equal(getattr(back, k), getattr(sc, k)), k
    assert np.abs(back.fg - sc.fg).max() <= 1 / 65535 + 1e-7
    assert np.abs(back.bg - sc.bg).max() <= 1 / 65535 + 1e-7
    assert back.description == sc.description and back.seed == sc.seed
    assert np.array_equal(S.load_scene(path, image_only=True), sc.image)


def test_set_plans():
    assert S.SETS["1600"][:2] == (1600, 1200) and len(S._PLAN_1600) == S.SETS["1600"][2] == 40
    assert S.SETS["6000"][:2] == (6000, 4000) and len(S._PLAN_6000) == S.SETS["6000"][2] == 3
    assert any(k.startswith("chain") and m == S.SILVER and b == "grey" for k, m, b, _ in S._PLAN_1600)
    assert {k for k, *_ in S._PLAN_1600} == set(S.KINDS)
    seeds = {S.scene_spec("1600", i)["seed"] for i in range(40)}
    assert len(seeds) == 40
    with pytest.raises(ValueError, match="index"):
        S.scene_spec("1600", 40)
    with pytest.raises(ValueError, match="name"):
        S.make_set("123")


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="kind"):
        S.render_scene(1, W, H, kind="tiara")
    with pytest.raises(ValueError, match="backdrop"):
        S.render_scene(1, W, H, backdrop="velvet")
    with pytest.raises(ValueError, match="width and height"):
        S.render_scene(1, 10, 10)

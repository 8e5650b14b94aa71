"""The decontamination benchmark's reference: bench.synth's camera record and Scene.fg_on_black.

The cutout composited on black is compared with the jewelry as the synthetic
camera records it on black: ``alpha * fg`` through the frame's chromatic
aberration and sharpening. These tests check that this reference is what
the photo is made of, and that cached scenes get the camera record without
a pixel changing.
"""

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import synth as S  # noqa: E402

W, H = 360, 270


@pytest.fixture(scope="module")
def scenes():
    # a chain on white (sharpened or not, depending on the seed) and a thin silver chain on grey
    # sharpened, not sharpened, sharpened
    return [S.render_scene(seed, W, H, kind=kind, backdrop=bd, metal=m)
            for seed, kind, bd, m in ((11, "necklace-hanging", "white", S.GOLD), (12, "chain-lying", "grey", S.SILVER),
                                      (22, "drops", "warm", S.GOLD))]


def test_camera_is_recorded(scenes):
    for sc in scenes:
        cam = sc.camera
        assert isinstance(cam, S.Camera)
        assert 0.15 <= cam.ca <= 0.6 and 0.3 <= cam.defocus <= 0.7 and 85 <= cam.jpeg_quality <= 95
        assert cam.sharpen == 0 or 0.15 <= cam.sharpen <= 0.45
        assert f"CA {cam.ca:.2f} px" in sc.description and f"JPEG q{cam.jpeg_quality}" in sc.description
        assert S.Camera.from_json(cam.to_json()) == cam
    assert any(sc.camera.sharpen > 0 for sc in scenes) and any(sc.camera.sharpen == 0 for sc in scenes)


def test_fg_on_black_is_the_premultiplied_foreground_through_the_optics(scenes):
    for sc in scenes:
        P = sc.fg_on_black
        assert P.shape == sc.fg.shape and P.dtype == np.float32
        assert P.min() >= 0 and P.max() <= 1
        want = np.clip(S.apply_optics(sc.alpha[..., None] * sc.fg, sc.camera), 0, 1)
        np.testing.assert_allclose(P, want, atol=1e-6)
        # without aberration and sharpening it is alpha * fg
        flat = dataclasses.replace(sc.camera, ca=0.0, sharpen=0.0)
        np.testing.assert_allclose(S.apply_optics(sc.alpha[..., None] * sc.fg, flat), sc.alpha[..., None] * sc.fg,
                                   atol=1e-6)


def test_the_photo_is_fg_on_black_plus_the_backdrop_through_the_optics(scenes):
    """Where the camera's optics move the luma of soft pixels, the photo follows the jewelry
    on black plus the backdrop's share through the same optics, not alpha * fg + (1 - alpha) * bg.

    Luma, because the JPEG keeps it at full resolution; its 4:2:0 chroma
    smooths most of the aberration's colour fringes on thin wires away."""
    luma = np.array([0.299, 0.587, 0.114], np.float32)
    for sc in scenes:
        a = sc.alpha[..., None]
        soft = (sc.alpha >= 0.05) & (sc.alpha <= 0.95)
        img = (sc.image.astype(np.float32) / 255) @ luma
        plain = (a * sc.fg + (1 - a) * sc.bg) @ luma
        optics = (S.apply_optics(a * sc.fg, sc.camera) + S.apply_optics((1 - a) * sc.bg, sc.camera)) @ luma
        moved = soft & (np.abs(optics - plain) > 0.02)
        assert moved.sum() >= 30, sc.description
        e_optics = float(np.abs(img - optics)[moved].mean())
        e_plain = float(np.abs(img - plain)[moved].mean())
        assert e_optics < 0.7 * e_plain, (sc.description, e_optics, e_plain)


def test_scene_without_camera_has_no_reference(scenes):
    sc = dataclasses.replace(scenes[0], camera=None)
    with pytest.raises(ValueError, match="camera"):
        sc.fg_on_black


def test_save_load_keeps_the_camera(scenes, tmp_path):
    sc = scenes[1]
    S.save_scene(sc, tmp_path / "s.npz")
    back = S.load_scene(tmp_path / "s.npz")
    assert back.camera == sc.camera
    np.testing.assert_allclose(back.fg_on_black, sc.fg_on_black, atol=1e-4)


def test_make_set_adds_the_camera_to_an_old_cache_without_changing_it(tmp_path, monkeypatch):
    monkeypatch.setenv("JEWELMASK_BENCH_OUT", str(tmp_path))
    ss = S.make_set("1600", limit=1)
    path = ss.path(0)
    with np.load(path) as z:
        stored = {k: z[k] for k in z.files}
    assert "camera" in stored
    # a file written before the camera was recorded
    old = {k: v for k, v in stored.items() if k != "camera"}
    np.savez_compressed(path, **old)
    assert S.load_scene(path).camera is None
    S.make_set("1600", limit=1)
    with np.load(path) as z:
        again = {k: z[k] for k in z.files}
    assert set(again) == set(stored)
    for k in stored:
        assert np.array_equal(again[k], stored[k]), k
    # a cache the generator no longer reproduces is an error, not a silent relabel
    bad = dict(old, alpha=old["alpha"] * np.float32(0.5))
    np.savez_compressed(path, **bad)
    with pytest.raises(RuntimeError, match="GENERATOR_VERSION"):
        S.make_set("1600", limit=1)

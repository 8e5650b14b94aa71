import numpy as np
import pytest

from jewelmask.ai import AISettings, ai_alpha, global_alpha, plan_tiles


def test_settings_validate():
    with pytest.raises(ValueError, match="tile_budget"):
        AISettings(tile_budget=-1)
    with pytest.raises(ValueError, match="overlap"):
        AISettings(overlap=0.9)
    with pytest.raises(ValueError, match="model"):
        AISettings(model="nope")


@pytest.mark.parametrize("budget", [1, 4, 12, 30])
def test_plan_respects_budget_and_covers_found_region(budget):
    found = np.zeros((80, 120), bool)
    found[20:60, 30:100] = True
    plan = plan_tiles(found, (4000, 6000), size=320, settings=AISettings(tile_budget=budget))
    assert plan is not None
    assert 1 <= len(plan.tiles) <= max(budget, 1)
    r0, c0, r1, c1 = plan.box
    # the box contains everything that was found (found box is rows 1000-3000, cols 1500-5000)
    assert r0 <= 1000 and r1 >= 3000 and c0 <= 1500 and c1 >= 5000
    assert plan.scale <= 1.0


def test_plan_prefers_native_scale_for_small_pieces():
    found = np.zeros((100, 100), bool)
    found[45:55, 45:55] = True
    plan = plan_tiles(found, (1000, 1000), size=320, settings=AISettings(tile_budget=12, find_margin=0.01))
    assert plan.scale == 1.0


def test_plan_skips_crops_with_nothing_found():
    found = np.zeros((100, 100), bool)
    found[5:10, 5:10] = True
    found[90:95, 90:95] = True  # two small pieces in opposite corners
    plan = plan_tiles(found, (3200, 3200), size=320,
                      settings=AISettings(tile_budget=400, find_margin=0.0))
    n_all = len({t[0] for t in plan.tiles}) * len({t[1] for t in plan.tiles})
    assert len(plan.tiles) < n_all


def test_nothing_found_or_zero_budget_plans_nothing():
    found = np.zeros((10, 10), bool)
    assert plan_tiles(found, (100, 100), size=320, settings=AISettings()) is None
    found[5, 5] = True
    assert plan_tiles(found, (100, 100), size=320, settings=AISettings(tile_budget=0)) is None


def _thin_recall(pred, alpha):
    thin = alpha > 0.5
    return float((pred[thin] >= 0.5).mean())


@pytest.mark.model
def test_full_detail_keeps_more_of_a_thin_chain_than_one_shrunken_pass(have_model):
    from conftest import ring_scene

    img, alpha = ring_scene((1200, 1600), wire=2.5)
    plain = global_alpha(img)
    full = ai_alpha(img, settings=AISettings(tile_budget=12))
    assert full.shape == alpha.shape and full.dtype == np.float32
    assert 0 <= full.min() and full.max() <= 1
    assert _thin_recall(full, alpha) > _thin_recall(plain, alpha) + 0.1


@pytest.mark.model
def test_zero_budget_is_the_plain_pass_and_progress_reaches_one(have_model):
    from conftest import ring_scene

    img, _ = ring_scene((300, 400))
    seen = []
    a = ai_alpha(img, settings=AISettings(tile_budget=0), progress=seen.append)
    np.testing.assert_allclose(a, global_alpha(img), atol=1e-6)
    assert seen and seen[-1] == 1.0


@pytest.mark.model
def test_progress_can_cancel(have_model):
    from conftest import ring_scene

    img, _ = ring_scene((300, 400))

    class Cancelled(Exception):
        pass

    def cancel(f):
        if f > 0.1:
            raise Cancelled

    with pytest.raises(Cancelled):
        ai_alpha(img, progress=cancel)


@pytest.mark.model
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_accepts_editor_dtypes(have_model, dtype):
    from conftest import ring_scene

    img, _ = ring_scene((240, 320))
    if dtype == np.uint16:
        img = img.astype(np.uint16) * 257
    elif dtype == np.float32:
        img = img.astype(np.float32) / 255
    ref = ai_alpha(ring_scene((240, 320))[0], settings=AISettings(tile_budget=2))
    out = ai_alpha(img, settings=AISettings(tile_budget=2))
    assert np.abs(out - ref).max() < 0.02

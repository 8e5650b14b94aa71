"""Detail recovery on scenes whose answer is known by construction."""

import cv2
import numpy as np
import pytest

from conftest import ring_scene
from jewelmask.backdrop import BackdropDifference, backdrop_difference, backdrop_plate, to_lab
from jewelmask.detail import (
    ChannelSettings,
    ColourSettings,
    channel_mask,
    colour_range_mask,
    keep_connected,
    mirror_reflection,
    open_gaps,
    plate_alpha,
    stone_regions,
)


def sweep(shape=(300, 400), shadow=True, seed=0):
    """A light sweep with a vertical gradient, vignette and a soft neutral shadow."""
    H, W = shape
    rr, cc = np.mgrid[0:H, 0:W].astype(np.float32)
    base = 0.94 - 0.1 * rr / H - 0.05 * (((rr - H / 2) / H) ** 2 + ((cc - W / 2) / W) ** 2)
    if shadow:
        sh = np.exp(-(((rr - 0.7 * H) / (0.08 * H)) ** 2 + ((cc - 0.5 * W) / (0.2 * W)) ** 2))
        base = base * (1 - 0.25 * sh)
    rgb = np.stack([base, base * 0.985, base * 0.96], -1)
    rgb += np.random.default_rng(seed).normal(0, 0.003, rgb.shape)
    return np.clip(rgb, 0, 1).astype(np.float32)


def test_plate_follows_gradient_and_ignores_the_jewelry():
    bg = sweep(shadow=False)
    img, alpha = ring_scene((300, 400))
    img = img / 255.0
    comp = alpha[..., None] * img + (1 - alpha[..., None]) * bg
    plate = backdrop_plate(comp, alpha)
    err = np.linalg.norm(plate.lab() - to_lab(bg), axis=2)
    assert np.median(err) < 1.0
    assert np.percentile(err[alpha > 0.5], 95) < 3.0  # not bent towards the gold


def test_shadow_is_neutral_darkening_not_chroma():
    img = sweep(shadow=True)
    plate = backdrop_plate(img, work_size=64, smoothness=0.2)  # too loose to follow the shadow
    d = backdrop_difference(img, plate)
    H, W = img.shape[:2]
    core = (slice(int(0.68 * H), int(0.72 * H)), slice(int(0.45 * W), int(0.55 * W)))
    assert d.total[core].mean() > 5  # the shadow is there
    assert d.chroma[core].mean() < 1.5  # and has the backdrop's hue
    assert d.effective[core].mean() < 1.5  # and is soft: taken out as shadow


def test_plate_alpha_gives_fractional_coverage():
    H, W = 100, 100
    bg = np.full((H, W, 3), 0.9, np.float32)
    fg = np.array([0.6, 0.45, 0.15], np.float32)
    alpha = np.zeros((H, W), np.float32)
    alpha[:, 50] = 1.0
    alpha[:, 51] = 0.5
    img = alpha[..., None] * fg + (1 - alpha[..., None]) * bg
    plate = backdrop_plate(img, alpha)
    pa = plate_alpha(backdrop_difference(img, plate))
    assert abs(pa[50, 51] - 0.5) < 0.12
    assert pa[50, 50] > 0.9
    assert pa[50, 20] < 0.05


def test_evidence_ignores_colour_bled_beside_the_metal():
    # a 2 px gold wire on a light sweep, saved as a 4:2:0 JPEG: its colour
    # spreads into the sweep beside it, its lightness does not
    H, W = 80, 120
    bg = np.full((H, W, 3), 0.92, np.float32)
    fg = np.array([0.78, 0.6, 0.25], np.float32)
    alpha = np.zeros((H, W), np.float32)
    alpha[:, 61:63] = 1.0  # across two chroma blocks
    img = alpha[..., None] * fg + (1 - alpha[..., None]) * bg
    ok, buf = cv2.imencode(".jpg", (img[..., ::-1] * 255).round().astype(np.uint8),
                           [cv2.IMWRITE_JPEG_QUALITY, 95, cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
                            cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420])
    assert ok
    photo = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
    d = backdrop_difference(photo, backdrop_plate(photo, alpha))
    rows = slice(20, 60)
    beside = np.r_[59:61, 63:65]  # 1-2 px from the wire
    assert np.median(d.effective[rows][:, beside]) > 3.0  # the colour did bleed
    assert np.percentile(d.evidence[rows][:, beside], 90) < 2.0  # and is not taken for metal
    # the wire still is, by its lightness
    assert d.evidence[rows, 61:63].min() > 10 * np.percentile(d.evidence[rows][:, beside], 90)


def test_keep_connected_drops_specks_keeps_long_chains():
    cand = np.zeros((100, 100), bool)
    anchor = np.zeros_like(cand)
    anchor[40:60, 40:60] = True
    cand[45:55, 45:80] = True  # touches the anchor
    cand[5:7, 5:7] = True  # a speck
    cand[90, 10:90] = True  # a long chain apart
    out = keep_connected(cand, anchor, min_area=40, min_extent=40)
    assert out[50, 70] and not out[5, 5] and out[90, 50]
    assert not keep_connected(cand, anchor)[90, 50]


def test_open_gaps_reopens_filled_ring_interior():
    img, alpha = ring_scene((300, 400))
    rgb = img / 255.0
    filled = alpha.copy()
    cv2.circle(filled, (200, 150), 66, 1.0, -1)  # the AI fills the ring up to the wire
    plate = backdrop_plate(rgb, filled)
    diff = backdrop_difference(rgb, plate)
    out = open_gaps(filled, diff, coverage=plate_alpha(diff))
    interior = np.zeros_like(alpha, bool)
    cv2.circle(interior.view(np.uint8), (200, 150), 50, 1, -1)
    interior &= alpha == 0
    assert out[interior].mean() < 0.02
    assert (out[alpha > 0.9] > 0.9).mean() > 0.98  # the metal stays


def test_open_gaps_leaves_no_grain_in_an_opened_ring_on_linen():
    """On a grained backdrop the plate reads a little coverage at random
    pixels; a ring interior judged backdrop is opened clean, not speckled
    with that grain (which would also give refine an edge band all over it)."""
    img, alpha = ring_scene((300, 400))
    rng = np.random.default_rng(3)
    grain = cv2.GaussianBlur(rng.normal(0, 1, (300, 400)).astype(np.float32), (0, 0), 0.7)
    rgb = img / 255.0 * (1 + 0.03 * grain[..., None] * (1 - alpha[..., None]))
    filled = alpha.copy()
    cv2.circle(filled, (200, 150), 66, 1.0, -1)  # the AI fills the ring up to the wire
    plate = backdrop_plate(rgb, filled)
    diff = backdrop_difference(rgb, plate)
    coverage = plate_alpha(diff)
    interior = np.zeros_like(alpha, bool)
    cv2.circle(interior.view(np.uint8), (200, 150), 50, 1, -1)
    interior &= alpha == 0
    assert (coverage[interior] > 0.05).sum() > 50  # the grain reads as coverage
    out = open_gaps(filled, diff, coverage=coverage, k_noise=4.0)
    assert (out[interior] > 0.02).sum() < 5
    assert (out[alpha > 0.9] > 0.9).mean() > 0.98  # the metal stays


def test_open_gaps_reopens_a_hoop_behind_a_faint_fat_wire():
    """Silver hoop on a grey sweep: the wire is too faint to count as solid
    jewelry all round, so only the backdrop's own grain inside tells the hole."""
    H, W = 300, 300
    rng = np.random.default_rng(1)
    rgb = np.full((H, W, 3), 0.78, np.float32) * np.array([1.0, 0.99, 1.0], np.float32)
    wire = np.zeros((H, W), np.float32)
    cv2.circle(wire, (150, 150), 100, 1.0, 9)
    rgb = rgb * (1 - wire[..., None] * np.array([0.14, 0.11, 0.06], np.float32))  # cool, darker
    rgb += rng.normal(0, 0.004, rgb.shape).astype(np.float32)
    filled = np.zeros((H, W), np.float32)
    cv2.circle(filled, (150, 150), 112, 1.0, -1)  # the AI's disc
    plate = backdrop_plate(rgb, filled)
    diff = backdrop_difference(rgb, plate)
    faint = np.clip(plate_alpha(diff), 0, 0.45)  # coverage: the wire never solid
    out = open_gaps(filled, diff, coverage=faint)
    interior = np.zeros((H, W), np.uint8)
    cv2.circle(interior, (150, 150), 85, 1, -1)
    assert out[interior > 0].mean() < 0.05
    assert out[wire > 0.5].mean() > 0.9  # the wire is not the hole
    closed = open_gaps(filled, diff, coverage=faint, plain_area=10**9)  # without the grain rule
    assert closed[interior > 0].mean() > 0.9


def test_open_gaps_keeps_a_faceted_white_stone():
    """A brilliant on a white sweep: facets in many light tones, none a hole."""
    H, W = 200, 200
    rng = np.random.default_rng(0)
    rgb = np.full((H, W, 3), 0.95, np.float32)
    stone = np.zeros((H, W), np.float32)
    cv2.circle(stone, (100, 100), 40, 1.0, -1)
    facets = np.zeros((H, W), np.int32)
    rr, cc = np.mgrid[0:H, 0:W]
    ang = np.arctan2(rr - 100, cc - 100)
    rad = np.hypot(rr - 100, cc - 100)
    facets = (((ang + np.pi) / (2 * np.pi) * 16).astype(int) * 3 + (rad > 22) + (rad > 32))
    tones = rng.uniform(0.55, 1.0, (facets.max() + 1, 1)) * np.array([[1.0, 1.0, 1.03]])
    stone_rgb = np.clip(tones[facets], 0, 1).astype(np.float32)
    rgb = np.where(stone[..., None] > 0, stone_rgb, rgb)
    rgb += rng.normal(0, 0.003, rgb.shape).astype(np.float32)
    plate = backdrop_plate(rgb, stone)
    diff = backdrop_difference(rgb, plate)
    out = open_gaps(stone, diff, coverage=plate_alpha(diff))
    assert out[stone > 0].mean() > 0.9


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_channel_mask_picks_blue_for_gold_and_is_near_binary(dtype):
    img, alpha = ring_scene((240, 320))
    if dtype == np.uint16:
        img = img.astype(np.uint16) * 257
    elif dtype == np.float32:
        img = img.astype(np.float32) / 255
    out, info = channel_mask(img, return_info=True)
    assert info["channel"] in ("blue", "yellow-blue", "saturation")
    assert out.dtype == np.float32 and out.shape == alpha.shape
    assert ((out >= 0.5) == (alpha >= 0.5)).mean() > 0.995
    # near-binary: solid inside, soft only where the coverage itself is partial
    assert (out[alpha >= 0.99] > 0.95).mean() > 0.97
    soft = (out > 0.05) & (out < 0.95)
    partial = cv2.dilate(((alpha > 0.01) & (alpha < 0.99)).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    assert (soft & ~partial).mean() < 1e-3


def test_channel_mask_honours_manual_levels_and_region():
    img, alpha = ring_scene((240, 320))
    region = np.zeros(alpha.shape, np.float32)
    region[:, :160] = 1
    out = channel_mask(img, region, settings=ChannelSettings(channel="blue", black=0.1, white=0.3))
    assert out[:, 160:].max() == 0
    assert out[:, :160].max() == 1
    with pytest.raises(ValueError, match="white"):
        ChannelSettings(black=0.5, white=0.4)


def test_colour_range_gold_ignores_shadow_and_specks():
    bg = sweep(shadow=True)
    img, alpha = ring_scene((300, 400))
    comp = alpha[..., None] * (img / 255.0) + (1 - alpha[..., None]) * bg
    comp[20:23, 380:383] = (0.75, 0.6, 0.3)  # a gold-coloured speck of dust far away
    out = colour_range_mask(comp, settings=ColourSettings(metal="yellow-gold"), anchor=alpha > 0.5)
    assert (out[alpha > 0.9] > 0.5).mean() > 0.95
    assert out[alpha == 0].max() < 0.5 or (out[alpha == 0] > 0.5).mean() < 1e-4
    assert out[20:23, 380:383].max() == 0


def test_colour_range_sampled_colour_and_validation():
    img, alpha = ring_scene((240, 320))
    out = colour_range_mask(img, settings=ColourSettings(metal="sampled", samples=((200, 160, 70),)))
    assert (out[alpha > 0.9] > 0.5).mean() > 0.9
    blue = colour_range_mask(img, settings=ColourSettings(metal="sampled", samples=((30, 60, 200),)))
    assert (blue[alpha > 0.9] > 0.5).mean() < 0.05
    with pytest.raises(ValueError, match="samples"):
        ColourSettings(metal="sampled")
    with pytest.raises(ValueError, match="tolerance"):
        ColourSettings(tolerance=0)


def test_flat_or_empty_images_give_empty_masks():
    flat = np.full((8, 8, 3), 0.5, np.float32)
    out, info = channel_mask(flat, return_info=True)
    assert out.shape == (8, 8) and out.max() == 0 and info["channel"] is None
    assert colour_range_mask(flat).max() == 0


def test_colour_range_sparse_plate_lookup_matches_full_plate():
    from jewelmask.detail import _plate_at

    img, _ = ring_scene((240, 320))
    plate = backdrop_plate(img)
    rr = np.array([0, 10, 239, 120]); cc = np.array([0, 300, 319, 5])
    np.testing.assert_allclose(_plate_at(plate, rr, cc), plate.lab()[rr, cc], atol=1e-3)


def test_plate_rgb_matches_the_full_resolution_conversion():
    bg = sweep((240, 320))
    plate = backdrop_plate(bg)
    want = np.clip(cv2.cvtColor(plate.lab(), cv2.COLOR_Lab2RGB), 0, 1)
    assert np.abs(plate.rgb() - want).max() < 2e-3
    box = (10, 20, 200, 150)
    assert np.abs(plate.rgb(box) - want[10:200, 20:150]).max() < 2e-3
    assert np.abs(plate.rgb() - bg).mean() < 0.01  # and it is the sweep


def _stone_and_chain(facets=True, strands=False, seed=0):
    """An AI pass over a pendant: a round stone it sees mottled (its light
    facets look like the sweep) hanging from a chain, and the strong evidence."""
    H, W = 400, 600
    rng = np.random.default_rng(seed)
    ai = np.zeros((H, W), np.float32)
    cv2.circle(ai, (300, 250), 60, 1.0, -1)
    ai *= np.where(rng.random((H, W)) < 0.3, 0.2, 0.8).astype(np.float32)  # light facets
    ai = cv2.GaussianBlur(ai, (0, 0), 2.0)
    cv2.line(ai, (0, 60), (300, 190), 0.9, 5)  # the chain
    cv2.line(ai, (300, 190), (600, 60), 0.9, 5)
    strong = np.zeros((H, W), np.uint8)
    if facets:  # dark and coloured facets all over the stone, 16 px across
        for yy in range(196, 300, 28):
            for xx in range(246, 350, 28):
                if np.hypot(yy + 8 - 250, xx + 8 - 300) < 50:
                    strong[yy:yy + 16, xx:xx + 16] = 1
    if strands:  # a chain crossing a place the AI filled
        for dy in range(-50, 51, 8):
            cv2.line(strong, (230, 250 + dy), (370, 250 + dy), 1, 2)
    cv2.line(strong, (0, 60), (300, 190), 1, 2)
    cv2.line(strong, (300, 190), (600, 60), 1, 2)
    return ai, strong.astype(bool)


def test_stone_regions_keeps_a_faceted_stone_whole():
    ai, strong = _stone_and_chain()
    stone = stone_regions(ai, strong)
    rr, cc = np.mgrid[0:400, 0:600]
    d = np.hypot(rr - 250, cc - 300)
    assert stone[d < 40].all()  # its light facets too
    assert not stone[d > 62].any()  # not beyond it, not the chain


def test_stone_regions_leaves_places_without_facets():
    ai, strong = _stone_and_chain(facets=False)  # a hoop's inside the AI filled
    assert not stone_regions(ai, strong).any()
    ai, strong = _stone_and_chain(facets=False, strands=True)  # strands crossing it
    assert not stone_regions(ai, strong).any()
    long_ai = np.zeros((400, 600), np.float32)
    cv2.ellipse(long_ai, (300, 200), (250, 40), 0, 0, 360, 0.9, -1)  # not compact
    assert not stone_regions(long_ai, long_ai > 0.5).any()


def _basket():
    """A stone in an open basket as open_gaps sees it (maps by construction).

    The AI's disc (alpha 1 out to r = 50) covers a stone (r <= 40: solid
    inside, a soft rim of partial coverage from r = 36.5 out), the sweep
    between it and a thin basket wire (r 40-47, agreeing with the backdrop)
    and the wire (r = 49; silver on grey, never solid: coverage 0.45 along
    its middle, 0.3 on its rims). Eight prongs (coverage 0.6) cut the sweep
    into arcs of about 220 px.
    """
    H = W = 140
    rr, cc = np.mgrid[0:H, 0:W]
    rad = np.hypot(rr - 70, cc - 70)
    ang = np.arctan2(rr - 70, cc - 70)
    alpha = (rad <= 50).astype(np.float32)
    cover = np.zeros((H, W), np.float32)
    cover[rad <= 40] = 1.0
    cover[(rad > 36.5) & (rad <= 40)] = 0.3  # the stone's soft rim
    cover[(rad > 47) & (rad < 51)] = 0.3  # the wire's soft rims
    cover[np.abs(rad - 49) <= 0.5] = 0.45  # the wire's middle
    for k in range(8):
        a = 2 * np.pi * k / 8
        prong = (np.abs((cc - 70) * np.sin(a) - (rr - 70) * np.cos(a)) <= 1.0) & (np.cos(ang - a) > 0) & (rad > 38) & (rad < 50)
        cover[prong] = 0.6
    sweep = (cover < 0.25) & (rad > 40) & (rad < 48)
    effective = np.where(sweep, 0.5, 20.0).astype(np.float32)
    sharp = np.full((H, W), 0.5, np.float32)
    diff = BackdropDifference(None, effective, None, None, sharp, np.full((H, W), 1.0, np.float32), None)
    return alpha, diff, cover, sweep, rad


def test_open_gaps_opens_the_sweep_between_a_stone_and_a_thin_basket_wire():
    """The 2-3 px ring around an arc of sweep lies on soft rims (the stone's
    and the wire's): not enclosed. Out to 7 px are the stone, the wire and
    the backdrop beyond it; a light facet deep inside a stone has other
    facets there."""
    alpha, diff, cover, sweep, rad = _basket()
    out = open_gaps(alpha, diff, coverage=cover)
    assert out[sweep].mean() < 0.1
    assert (out[cover >= 0.5] == 1).all()
    # a light facet of that size inside the stone, among soft light facets: kept
    H, W = alpha.shape
    rr, cc = np.mgrid[0:H, 0:W]
    facet = (np.abs(rr - 70) < 7) & (np.abs(cc - 70) < 7)
    soft = (np.abs(rr - 70) < 12) & (np.abs(cc - 70) < 12) & ~facet
    cover2 = np.where(soft, 0.3, np.where(facet, 0.05, cover)).astype(np.float32)
    eff2 = np.where(facet, 0.5, diff.effective).astype(np.float32)
    diff2 = BackdropDifference(None, eff2, None, None, diff.sharp, diff.noise, None)
    out2 = open_gaps(alpha, diff2, coverage=cover2)
    assert out2[facet].mean() == 1.0
    assert out2[sweep].mean() < 0.1


def _between_strands():
    """A band of sweep 20 px wide that the AI filled between two strands (maps by construction).

    The strands are solid; the sweep agrees with the backdrop, and the
    sharp part of the difference (a high-pass at sigma 2 px) carries the
    strands' edges 3-4 px into it (8 and 4 times the scatter), beyond
    that only the grain (0.5). The AI's fill ends 2 px past the strands'
    ends, where the sweep outside the mask begins.
    """
    H, W = 60, 100
    alpha = np.zeros((H, W), np.float32)
    alpha[10:50, 10:90] = 1.0
    cover = np.zeros((H, W), np.float32)
    cover[10:20, 10:90] = 1.0  # a strand
    cover[40:50, 10:90] = 1.0  # the other
    place = np.zeros((H, W), bool)
    place[20:40, 12:88] = True
    effective = np.where(place, 0.5, 20.0).astype(np.float32)
    rows = np.arange(H)
    d = np.minimum(np.abs(rows - 19), np.abs(rows - 40))  # rows from the nearer strand
    leak = np.select([d == 1, d == 2, d == 3, d == 4], [12.0, 10.0, 8.0, 4.0], 0.5).astype(np.float32)
    sharp = np.repeat(leak[:, None], W, axis=1)
    diff = BackdropDifference(None, effective, None, None, sharp, np.ones((H, W), np.float32), None)
    return alpha, diff, cover, place


def test_open_gaps_measures_texture_beyond_the_reach_of_the_rims():
    alpha, diff, cover, place = _between_strands()
    out = open_gaps(alpha, diff, coverage=cover, outside_texture=0.5)
    assert out[place].mean() < 0.05
    assert (out[cover >= 0.5] == 1).all()
    # texture all through (a stone's facets): kept
    rough = BackdropDifference(None, diff.effective, None, None, np.full(alpha.shape, 3.0, np.float32), diff.noise, None)
    assert open_gaps(alpha, rough, coverage=cover, outside_texture=0.5)[place].mean() == 1.0


def _standing_ring(fade=0.25, shape=(360, 300)):
    """A gold ring standing on a glossy sweep at row 220, and its mirror image
    below (upside down, `fade` as strong, a little blurred), with a mask that
    took the mirror image for part of the piece (as an AI mask does).
    Returns (image, mask, true alpha, mirror strength)."""
    H, W = shape
    s = 4
    big = np.zeros((H * s, W * s), np.uint8)
    cv2.ellipse(big, (150 * s, 150 * s), (55 * s, 70 * s), 0, 0, 360, 255, thickness=7 * s)
    cv2.circle(big, (150 * s, 72 * s), 14 * s, 255, -1)  # the stone on top
    alpha = cv2.resize(big.astype(np.float32) / 255, (W, H), interpolation=cv2.INTER_AREA)
    alpha[221:] = 0.0  # it stands on the floor at row 220
    rr, cc = np.mgrid[0:H, 0:W].astype(np.float32)
    gold = np.stack([0.78 + 0 * cc, 0.6 + 0 * cc, 0.25 + 0 * cc], -1) * (0.8 + 0.2 * np.sin(cc / 6.0))[..., None]
    bg = np.stack([0.8 - 0.05 * rr / H] * 3, -1) * np.array([1.0, 0.99, 0.97])
    flip = np.zeros_like(alpha)
    flip[221:] = alpha[220 - (np.arange(221, H) - 221)][:H - 221]
    prem = cv2.GaussianBlur((flip[..., None] * gold).astype(np.float32), (0, 0), 1.5)
    r = cv2.GaussianBlur(flip, (0, 0), 1.5) * fade
    bgr = bg * (1 - r[..., None]) + prem * fade * 0.9
    img = alpha[..., None] * gold + (1 - alpha[..., None]) * bgr
    img += np.random.default_rng(3).normal(0, 0.004, img.shape)
    mask = np.maximum(alpha, (r > 0.02 * fade).astype(np.float32))
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8), mask, alpha, r


def test_the_mirror_image_in_a_glossy_floor_is_found_and_the_piece_kept():
    img, mask, alpha, r = _standing_ring()
    plate = backdrop_plate(img, exclude=mask > 0.1)
    found = mirror_reflection(img, mask, plate)
    mirror = (r > 0.3 * 0.25) & (np.arange(img.shape[0])[:, None] >= 223)
    assert found[mirror].mean() > 0.9
    assert not (found & (alpha > 0)).any()


def test_a_twin_as_strong_as_the_piece_is_not_a_reflection():
    # the same shape mirrored at full strength is a second piece, not a mirror image
    img, mask, alpha, _ = _standing_ring(fade=1.0)
    plate = backdrop_plate(img, exclude=mask > 0.1)
    assert not mirror_reflection(img, mask, plate).any()


def test_auto_clears_the_mirror_image_unless_reflections_are_kept():
    from jewelmask.recipes import RecipeSettings, auto_stages

    img, mask, alpha, r = _standing_ring()
    mirror = (r > 0.3 * 0.25) & (np.arange(img.shape[0])[:, None] >= 223)
    cleared = auto_stages(img, ai=mask, settings=RecipeSettings(refine=None))["alpha"]
    kept = auto_stages(img, ai=mask, settings=RecipeSettings(refine=None, overrides={"keep_shadows": True}))["alpha"]
    assert cleared[mirror].mean() < 0.1
    assert kept[mirror].mean() > 0.5
    assert cleared[alpha > 0.9].mean() > 0.9

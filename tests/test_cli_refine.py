"""``jewelmask cutout`` and ``jewelmask batch`` with --refine, --refine-brush,
--decontaminate and the edge controls, end to end on a small synthetic photo
(recipe channel: no AI model needed). Each output is compared with the
engine's own answer for the same settings."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import ring_scene
from jewelmask import batch, cli
from jewelmask.backdrop import backdrop_plate
from jewelmask.decontaminate import decontaminate
from jewelmask.dtypes import quantize
from jewelmask.edge import adjust_edge
from jewelmask.recipes import RecipeSettings, run_recipe
from jewelmask.refine import RefineSettings, refine_band

BOX = (slice(25, 85), slice(15, 50))  # over the chain, away from the ring


# --- jewelmask cutout ---------------------------------------------------------------


def _photo(path):
    img, alpha = ring_scene((240, 320))
    Image.fromarray(img).save(path)
    return alpha


def _mask(path):
    with Image.open(path) as im:
        return np.asarray(im)


def _run(*argv):
    return cli.main([str(a) for a in argv])


def _expected(src, *flags, brush=None):
    """The engine's own answer for `jewelmask cutout SRC --recipe channel FLAGS`."""
    from jewelmask import io

    args = cli.build_parser().parse_args(["cutout", str(src), "--out", "x", "--recipe", "channel",
                                          *map(str, flags)])
    rgb = io.read_image(src).rgb
    alpha = run_recipe(rgb, recipe="channel", settings=cli._settings(args), brush=brush)
    return rgb, adjust_edge(alpha, **cli.edge_values(args))


def test_cli_refine_and_brush_end_to_end(tmp_path):
    src = tmp_path / "ring.png"
    _photo(src)
    assert _run("cutout", src, "--out", tmp_path / "plain", "--recipe", "channel", "--no-refine") == 0
    assert _run("cutout", src, "--out", tmp_path / "refined", "--recipe", "channel", "--refine") == 0
    plain = _mask(tmp_path / "plain" / "ring.png").astype(np.float32) / 255
    refined = _mask(tmp_path / "refined" / "ring.png").astype(np.float32) / 255
    _, want = _expected(src, "--refine")
    np.testing.assert_array_equal(refined, quantize(want, np.uint8) / np.float32(255))
    changed = refined != plain
    assert changed.any()
    near = cv2.dilate(refine_band(plain).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    assert not (changed & ~near).any()  # only around the edge
    # a 16-bit greyscale brush file implies --refine and goes to refine_edge
    brush = np.zeros((240, 320), np.uint16)
    brush[BOX] = 65535
    cv2.imwrite(str(tmp_path / "brush.png"), brush)
    out = tmp_path / "brushed"
    assert _run("cutout", src, "--out", out, "--recipe", "channel", "--refine-brush",
                tmp_path / "brush.png", "--refine-radius", "3") == 0
    _, want = _expected(src, "--refine-radius", "3", brush=brush / np.float32(65535))
    np.testing.assert_array_equal(_mask(out / "ring.png"), quantize(want, np.uint8))
    _, no_brush = _expected(src, "--refine-radius", "3")
    assert (quantize(no_brush, np.uint8) != quantize(want, np.uint8))[BOX].any()


def test_cli_edge_controls_end_to_end(tmp_path):
    src = tmp_path / "ring.png"
    _photo(src)
    flags = ("--smooth", "20", "--feather", "1.5", "--contrast", "30", "--shift-edge", "-0.5")
    assert _run("cutout", src, "--out", tmp_path / "o", "--recipe", "channel", *flags) == 0
    _, want = _expected(src, *flags)
    np.testing.assert_array_equal(_mask(tmp_path / "o" / "ring.png"), quantize(want, np.uint8))
    _, plain = _expected(src)
    assert np.abs(want - plain).max() > 0.2


def test_cli_decontaminate_goes_into_the_cutout_only(tmp_path, capsys):
    src = tmp_path / "ring.png"
    _photo(src)
    assert _run("cutout", src, "--out", tmp_path / "a", "--recipe", "channel", "--save", "both") == 0
    assert _run("cutout", src, "--out", tmp_path / "b", "--recipe", "channel", "--save", "both",
                "--decontaminate") == 0
    mask = _mask(tmp_path / "b" / "ring.mask.png")
    np.testing.assert_array_equal(mask, _mask(tmp_path / "a" / "ring.mask.png"))  # the mask as it was
    cut, orig = _mask(tmp_path / "b" / "ring.png"), _mask(src)
    np.testing.assert_array_equal(cut[..., 3], mask)
    rgb, alpha = _expected(src)
    hard = (alpha == 0) | (alpha == 1)
    np.testing.assert_array_equal(cut[..., :3][hard], orig[hard])
    assert np.abs(cut[..., :3].astype(int) - orig).max() > 10  # the glow is gone somewhere
    want = decontaminate(rgb, alpha, background=backdrop_plate(rgb, alpha).rgb())
    assert np.abs(cut[..., :3].astype(int) - quantize(want, np.uint8)).max() <= 1
    # a mask-only output has no colours to clean: a clear refusal, nothing written
    for save in ("mask", "tiff"):
        assert _run("cutout", src, "--out", tmp_path / save, "--recipe", "channel", "--save", save,
                    "--decontaminate") == 1
        assert f"--save {save}" in capsys.readouterr().err
        assert not (tmp_path / save).exists() or not any((tmp_path / save).iterdir())


def test_cli_bad_brush_and_contradictions(tmp_path, capsys):
    src = tmp_path / "ring.png"
    _photo(src)
    Image.fromarray(np.zeros((100, 320), np.uint8)).save(tmp_path / "small.png")
    assert _run("cutout", src, "--out", tmp_path / "o", "--recipe", "channel",
                "--refine-brush", tmp_path / "small.png") == 1
    err = capsys.readouterr().err
    assert "320 x 100" in err and "320 x 240" in err and "small.png" in err
    (tmp_path / "junk.png").write_bytes(b"not a picture")
    assert _run("cutout", src, "--out", tmp_path / "o", "--refine-brush", tmp_path / "junk.png") == 1
    assert "refine brush" in capsys.readouterr().err
    assert _run("cutout", src, "--out", tmp_path / "o", "--no-refine", "--refine-radius", "3") == 1
    assert "--no-refine contradicts --refine-radius" in capsys.readouterr().err
    for bad in (("--smooth", "101"), ("--feather", "-1"), ("--shift-edge", "30"),
                ("--refine-radius", "40"), ("--contrast", "x")):
        with pytest.raises(SystemExit) as e:
            _run("cutout", src, "--out", tmp_path / "o", *bad)
        assert e.value.code == 2
        assert bad[0].lstrip("-").replace("-", "_") in capsys.readouterr().err
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_refine_flags_build_the_settings():
    parse = cli.build_parser().parse_args

    def settings(*flags):
        return cli._settings(parse(["cutout", "x.png", "--out", "o", *flags])).refine

    default = RecipeSettings().refine  # the recipe's own default: on or off (None)
    base = default or RefineSettings()
    assert settings() == default
    assert settings("--refine") == base
    assert settings("--no-refine") is None
    assert settings("--smart-radius") == replace(base, smart_radius=True)
    assert settings("--refine-radius", "12") == replace(base, radius=12.0,
                                                         max_radius=max(12.0, base.max_radius))
    assert settings("--max-radius", "16", "--smart-radius") == replace(base, smart_radius=True,
                                                                       max_radius=16.0)


# --- the batch ------------------------------------------------------------------------


def test_batch_takes_the_same_settings(tmp_path):
    src = tmp_path / "in"
    (src / "clean").mkdir(parents=True)
    (src / "bad").mkdir()
    _photo(src / "clean" / "ring.png")
    _photo(src / "bad" / "ring.png")
    (src / "clean" / "jewelmask.toml").write_text(
        'save = "cutout"\nrefine = true\nrefine_radius = 3\ndecontaminate = true\nshift_edge = -0.5\n')
    (src / "bad" / "jewelmask.toml").write_text('decontaminate = true\n')  # with save = mask
    out = tmp_path / "out"
    assert cli.main(["batch", str(src), str(out), "--recipe", "channel", "--jobs", "1"]) == 1
    assert _run("cutout", src / "clean" / "ring.png", "--out", tmp_path / "one", "--recipe", "channel",
                "--save", "cutout", "--refine", "--refine-radius", "3", "--decontaminate",
                "--shift-edge", "-0.5") == 0
    assert (out / "clean" / "ring.png").read_bytes() == (tmp_path / "one" / "ring.png").read_bytes()
    rep = {f["input"]: f for f in json.loads((out / "report.json").read_text())["files"]}
    assert rep["bad/ring.png"]["status"] == "failed"
    assert "settings of bad" in rep["bad/ring.png"]["error"] and "--save mask" in rep["bad/ring.png"]["error"]
    assert not (out / "bad" / "ring.png").exists()


def test_batch_checks_the_values_and_keeps_old_hashes(tmp_path):
    for text, match in (("smooth = 300\n", "smooth must be <= 100"), ('feather = "x"\n', "feather"),
                        ("refine = 1\n", "refine must be true or false")):
        (tmp_path / "jewelmask.toml").write_text(text)
        with pytest.raises(batch.BatchError, match=match):
            batch.folder_options(tmp_path, Path("."), dict(batch.OPTION_DEFAULTS), {})
    # a run started before these settings existed resumes without redoing its photos
    old = {k: v for k, v in batch.OPTION_DEFAULTS.items() if k not in batch._NEWER_OPTIONS}
    assert batch.settings_hash(dict(batch.OPTION_DEFAULTS)) == batch.settings_hash(old)
    assert batch.settings_hash(dict(batch.OPTION_DEFAULTS, refine=True)) != batch.settings_hash(old)


def test_detail_switches_change_the_preset_auto_chooses():
    parse = cli.build_parser().parse_args

    def settings(*flags):
        return cli._settings(parse(["cutout", "x.png", "--out", "o", *flags]))

    assert settings().overrides == {}
    s = settings("--keep-shadows", "--no-open-gaps", "--no-keep-stones")
    # the preset is still chosen from the photo (it used to become white-sweep)
    assert s.preset == "auto" and s.detail is None
    assert s.overrides == {"keep_shadows": True, "open_gaps": False, "keep_stones": False}
    assert settings("--preset", "grey-sweep", "--no-keep-stones").preset == "grey-sweep"


def test_overrides_apply_to_the_chosen_preset_and_are_checked():
    import cv2

    from jewelmask.recipes import PRESETS, AutoSettings, RecipeSettings, auto_stages

    rng = np.random.default_rng(0)
    img = np.full((240, 320, 3), 0.55, np.float32) + rng.normal(0, 0.004, (240, 320, 3)).astype(np.float32)
    ai = np.zeros((240, 320), np.float32)
    cv2.circle(ai, (160, 120), 40, 1.0, 12)  # a hoop, its inside the backdrop
    img[ai > 0.5] = (0.8, 0.62, 0.25)
    ai = cv2.GaussianBlur(cv2.circle(ai.copy(), (160, 120), 40, 1.0, -1), (0, 0), 2.0)  # the AI filled it
    st = auto_stages(img, ai=ai, settings=RecipeSettings(refine=None))
    chosen = PRESETS[st["preset"]]
    from dataclasses import replace

    by_override = auto_stages(img, ai=ai, settings=RecipeSettings(refine=None, overrides={"open_gaps": False}))
    by_detail = auto_stages(img, ai=ai, settings=RecipeSettings(refine=None, detail=replace(chosen, open_gaps=False)))
    np.testing.assert_array_equal(by_override["alpha"], by_detail["alpha"])
    assert (by_override["alpha"][120, 160] >= 0.5) and (st["alpha"][120, 160] < 0.5)  # the switch acts
    with pytest.raises(ValueError, match="overrides"):
        RecipeSettings(overrides={"keep_stone": False})
    assert AutoSettings().keep_stones

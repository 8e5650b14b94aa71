"""The command line, end to end, on small files."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import ring_scene
from jewelmask import cli


def _photo(path, shape=(240, 320), mode="RGB"):
    img, alpha = ring_scene(shape)
    Image.fromarray(img).convert(mode).save(path)
    return alpha


def _open(path):
    """(mode, size, array) of an image file, closed again."""
    with Image.open(path) as im:
        return im.mode, im.size, np.asarray(im)


def _run(*argv):
    return cli.main([str(a) for a in argv])


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as e:
        _run("--help")
    assert e.value.code == 0
    out = capsys.readouterr().out
    for word in ("cutout", "demo", "models"):
        assert word in out


@pytest.mark.model
@pytest.mark.parametrize("recipe", ["auto", "ai", "channel", "colour"])
def test_cutout_mask_is_single_channel_and_input_sized(tmp_path, have_model, recipe):
    src = tmp_path / "ring.jpg"
    alpha = _photo(src)
    assert _run("cutout", src, "--out", tmp_path / "out", "--recipe", recipe, "--tiles", "1") == 0
    mode, size, m = _open(tmp_path / "out" / "ring.png")
    assert mode == "L" and size == (320, 240)
    m = m / 255.0
    assert ((m >= 0.5) == (alpha >= 0.5)).mean() > 0.9


@pytest.mark.model
def test_save_both_and_cutout(tmp_path, have_model):
    src = tmp_path / "ring.png"
    _photo(src)
    assert _run("cutout", src, "--out", tmp_path / "o", "--save", "both", "--tiles", "0") == 0
    cmode, _, cut = _open(tmp_path / "o" / "ring.png")
    mmode, _, mask = _open(tmp_path / "o" / "ring.mask.png")
    assert cmode == "RGBA" and mmode == "L"
    # the cutout carries the original pixels, untouched, and the mask as alpha
    np.testing.assert_array_equal(cut[..., :3], _open(src)[2][..., :3])
    np.testing.assert_array_equal(cut[..., 3], mask)


@pytest.mark.model
def test_sixteen_bit_photo_gives_sixteen_bit_mask(tmp_path, have_model):
    import cv2

    img, _ = ring_scene((240, 320))
    src = tmp_path / "deep.png"
    cv2.imwrite(str(src), (img[..., ::-1].astype(np.uint16) * 257))
    assert _run("cutout", src, "--out", tmp_path / "o", "--tiles", "0") == 0
    m = cv2.imread(str(tmp_path / "o" / "deep.png"), cv2.IMREAD_UNCHANGED)
    assert m.dtype == np.uint16 and m.ndim == 2


def test_never_overwrites_the_input_or_existing_results(tmp_path, capsys):
    src = tmp_path / "ring.png"
    _photo(src)
    before = src.read_bytes()
    assert _run("cutout", src, "--out", tmp_path, "--recipe", "channel") == 1
    assert src.read_bytes() == before
    assert "never overwrites" in capsys.readouterr().err
    out = tmp_path / "o"
    out.mkdir()
    (out / "ring.png").write_bytes(b"earlier result")
    assert _run("cutout", src, "--out", out, "--recipe", "channel") == 1
    assert (out / "ring.png").read_bytes() == b"earlier result"
    assert "--overwrite" in capsys.readouterr().err
    assert _run("cutout", src, "--out", out, "--recipe", "channel", "--overwrite") == 0
    assert _open(out / "ring.png")[0] == "L"


def test_broken_file_is_reported_and_the_others_are_done(tmp_path, capsys):
    good = tmp_path / "good.png"
    _photo(good)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(good.read_bytes()[:200])
    missing = tmp_path / "missing.png"
    code = _run("cutout", bad, good, missing, "--out", tmp_path / "o", "--recipe", "channel")
    err = capsys.readouterr().err
    assert code == 1
    assert "bad.jpg" in err and "missing.png" in err and "2 of 3 images failed" in err
    assert (tmp_path / "o" / "good.png").exists()
    assert not (tmp_path / "o" / "bad.png").exists()


def test_missing_model_message_says_what_to_run(tmp_path, monkeypatch, capsys):
    from jewelmask import models

    monkeypatch.setenv("U2NET_HOME", str(tmp_path / "empty"))
    monkeypatch.setattr(models, "_SESSIONS", {})
    src = tmp_path / "ring.png"
    _photo(src)
    assert _run("cutout", src, "--out", tmp_path / "o", "--recipe", "ai") == 1
    assert "jewelmask models fetch u2netp" in capsys.readouterr().err
    # methods that need no model keep working
    assert _run("cutout", src, "--out", tmp_path / "o", "--recipe", "channel") == 0


def test_bad_option_values_are_rejected(tmp_path, capsys):
    src = tmp_path / "ring.png"
    _photo(src)
    with pytest.raises(SystemExit):
        _run("cutout", src, "--out", tmp_path / "o", "--sample", "300,0,0")
    assert _run("cutout", src, "--out", tmp_path / "o", "--recipe", "colour", "--tolerance", "500") == 1
    assert "tolerance" in capsys.readouterr().err


@pytest.mark.model
def test_demo_runs_as_a_module(tmp_path, have_model):
    out = tmp_path / "new" / "folder"
    proc = subprocess.run([sys.executable, "-m", "jewelmask", "demo", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "cutout:" in proc.stdout
    assert (out / "sample.png").exists() and (out / "sample.mask.png").exists()


def test_models_list(capsys):
    assert _run("models", "list") == 0
    out = capsys.readouterr().out
    assert "u2netp" in out and "(default)" in out


def test_path_recipe_from_embedded_photoshop_paths(tmp_path):
    from jewelmask.paths import paths_to_mask, write_demo_files

    demo = write_demo_files(tmp_path)
    src = demo["jpeg"]
    assert _run("cutout", src, "--out", tmp_path / "o", "--recipe", "path", "--paths", "embedded") == 0
    _, _, m = _open(tmp_path / "o" / (Path(src).stem + ".png"))
    expected = paths_to_mask(demo["paths"], m.shape)[0]
    assert np.abs(m / 255.0 - expected).max() <= 1 / 255 + 1e-6


def test_path_recipe_without_paths_is_a_clear_error(tmp_path, capsys):
    src = tmp_path / "ring.png"
    _photo(src)
    assert _run("cutout", src, "--out", tmp_path / "o", "--recipe", "path") == 1
    assert "--paths" in capsys.readouterr().err


@pytest.mark.parametrize("save,ext", [("clipped-jpeg", ".jpg"), ("tiff", ".tif")])
def test_clipping_path_output_round_trips(tmp_path, save, ext):
    from jewelmask.paths import path_to_mask, read_paths

    src = tmp_path / "ring.png"
    alpha = _photo(src)
    assert _run("cutout", src, "--out", tmp_path / "o", "--recipe", "channel", "--save", save) == 0
    out = tmp_path / "o" / ("ring" + ext)
    emb = read_paths(out)
    assert emb.clipping_name == cli.CLIP_NAME
    clip = path_to_mask(emb.clipping_path, alpha.shape)
    inter = ((clip >= 0.5) & (alpha >= 0.5)).sum()
    union = ((clip >= 0.5) | (alpha >= 0.5)).sum()
    assert inter / union > 0.85

"""Roles (add / cut), paths_to_mask, and the `jewelmask paths` command."""

import argparse
import json

import numpy as np
import pytest

from jewelmask import cli_paths
from jewelmask.errors import ImageReadError, PathDataError
from jewelmask.paths import (
    apply_path_roles,
    paths_to_mask,
    rectangle_path,
    role_from_name,
    write_demo_files,
)


@pytest.mark.parametrize("name, role", [
    ("cut: hole", "cut"), ("CUT:hole", "cut"), ("  cut gap", "cut"), ("-gap", "cut"),
    ("add: prong", "add"), ("+stone", "add"), ("Path 1", "add"), ("", "add"),
    ("cutter", "add"), ("Cut-out", "add"),
])
def test_role_from_name(name, role):
    assert role_from_name(name) == role


def test_paths_to_mask_and_hybrid_formula():
    add = rectangle_path(1, 1, 5, 5, name="prong")
    cut = rectangle_path(2, 2, 4, 4, name="cut: hole", role="cut")
    a, c = paths_to_mask([add, cut], (6, 6))
    assert a.dtype == np.float32 and a.sum() == 16 and c.sum() == 4
    soft = np.full((6, 6), 0.25, np.float32)
    final = apply_path_roles(soft, a, c)
    assert final[1, 1] == 1.0 and final[2, 2] == 0.0 and final[0, 0] == 0.25
    np.testing.assert_array_equal(final, np.maximum(soft, a) * (1 - c))
    np.testing.assert_array_equal(apply_path_roles(soft), soft)
    with pytest.raises(ValueError, match="add"):
        apply_path_roles(soft, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="paths"):
        paths_to_mask(["M0 0"], (3, 3))


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return write_demo_files(tmp_path_factory.mktemp("demo"))


def test_cli_parser_registers_paths():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers()
    cli_paths.add_parser(sub)
    args = p.parse_args(["paths", "x.jpg", "--json"])
    assert args.func is cli_paths.run and args.json and args.image == "x.jpg"


@pytest.mark.parametrize("key", ["jpeg", "tiff"])
def test_cli_lists_paths(demo, key, capsys):
    assert cli_paths.run(argparse.Namespace(image=str(demo[key]), json=False)) == 0
    out = capsys.readouterr().out
    assert "Ring outline" in out and "clipping path" in out and "Stone" in out
    assert "640 x 480" in out
    assert cli_paths.run(argparse.Namespace(image=str(demo[key]), json=True)) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["clipping_path"] == "Ring outline" and (doc["width"], doc["height"]) == (640, 480)
    assert [(p["name"], p["subpaths"], p["nodes"], p["clipping"]) for p in doc["paths"]] == \
        [("Ring outline", 2, 32, True), ("Stone", 1, 8, False)]


def test_cli_errors_and_empty(tmp_path, capsys):
    bad = tmp_path / "x.png"
    bad.write_bytes(b"\x89PNG\r\n")
    assert cli_paths.run(argparse.Namespace(image=str(bad), json=False)) == 1
    assert "JPEG and TIFF" in capsys.readouterr().err
    assert cli_paths.run(argparse.Namespace(image=str(tmp_path / "none.jpg"), json=False)) == 1
    from PIL import Image

    plain = tmp_path / "plain.jpg"
    Image.new("RGB", (8, 8)).save(plain)
    assert cli_paths.run(argparse.Namespace(image=str(plain), json=False)) == 0
    assert "no paths" in capsys.readouterr().out


def test_load_paths_embedded(demo):
    paths = cli_paths.load_paths("embedded", demo["jpeg"], (480, 640))
    assert [p.name for p in paths] == ["Ring outline", "Stone"]
    (stone,) = cli_paths.load_paths("embedded", demo["tiff"], (480, 640), path_name="stone")
    assert stone.name == "Stone"
    # relative coordinates follow a resized image
    (half,) = cli_paths.load_paths("embedded", demo["jpeg"], (240, 320), path_name="Stone")
    np.testing.assert_allclose(half.bounds(), np.array(stone.bounds()) / 2, atol=1e-4)
    with pytest.raises(PathDataError, match="no path named 'Nope'"):
        cli_paths.load_paths("embedded", demo["jpeg"], (480, 640), path_name="Nope")
    with pytest.raises(PathDataError, match="orientation"):
        cli_paths.load_paths("embedded", demo["jpeg"], (640, 480))


def test_load_paths_svg_and_errors(tmp_path, demo):
    svg = tmp_path / "p.svg"
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="64" height="48">'
                   '<rect id="cut: gap" x="1" y="1" width="2" height="2"/>'
                   '<circle id="body" cx="32" cy="24" r="10"/></svg>')
    paths = cli_paths.load_paths(str(svg), demo["jpeg"], (480, 640))
    assert [(p.name, p.role) for p in paths] == [("cut: gap", "cut"), ("body", "add")]
    assert paths[0].bounds() == (10, 10, 30, 30)
    empty = tmp_path / "e.svg"
    empty.write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    with pytest.raises(PathDataError, match="no shapes"):
        cli_paths.load_paths(str(empty), demo["jpeg"], (480, 640))
    with pytest.raises(ImageReadError):
        cli_paths.load_paths(str(tmp_path / "missing.svg"), demo["jpeg"], (480, 640))
    with pytest.raises(ValueError, match="spec"):
        cli_paths.load_paths("paths.txt", demo["jpeg"], (480, 640))
    from PIL import Image

    plain = tmp_path / "plain.jpg"
    Image.new("RGB", (8, 8)).save(plain)
    with pytest.raises(PathDataError, match="no saved paths"):
        cli_paths.load_paths("embedded", plain, (8, 8))


def test_main_cli_dispatches_to_paths(demo, capsys):
    from jewelmask.cli import main

    assert main(["paths", str(demo["jpeg"]), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["clipping_path"] == "Ring outline"

"""SVG path data, transforms, documents, Krita shapes and GIMP strokes."""

import numpy as np
import pytest

from jewelmask.errors import PathDataError
from jewelmask.paths import (
    from_gimp_stroke,
    from_gimp_strokes,
    parse_transform,
    path_from_svg_d,
    path_to_mask,
    paths_from_krita_svg,
    paths_from_svg,
    subpaths_from_svg_d,
    to_gimp_strokes,
)


def area(p, shape=(120, 120)):
    return float(path_to_mask(p, shape).sum(dtype=np.float64))


def test_absolute_and_relative_commands_agree():
    a = path_from_svg_d("M10 10 L30 10 L30 40 H10 V10 Z")
    b = path_from_svg_d("m10 10 l20 0 l0 30 h-20 v-30 z")
    np.testing.assert_allclose(a[0].nodes, b[0].nodes)
    assert a[0].closed and len(a[0]) == 4  # the point back at the start merges
    assert area(a) == pytest.approx(600, abs=1e-3)


def test_implicit_lineto_after_moveto_and_repeated_commands():
    p = path_from_svg_d("M0,0 10,0 10,10 0,10z")
    assert len(p[0]) == 4 and area(p) == pytest.approx(100, abs=1e-3)
    q = path_from_svg_d("M0 0 l10 0 0 10 -10 0 z")
    np.testing.assert_allclose(p[0].nodes, q[0].nodes)


def test_curves_smooth_reflections_and_quadratics():
    c = path_from_svg_d("M10 50 C10 20 40 20 40 50 S70 80 70 50")
    seg = c[0].segments()
    np.testing.assert_allclose(seg[1][1], [40, 80])  # reflected control point
    q = path_from_svg_d("M0 0 Q10 20 20 0 T40 0")
    seg = q[0].segments()
    np.testing.assert_allclose(seg[0][1], [20 / 3, 40 / 3])
    np.testing.assert_allclose(seg[1][1], [20 + 20 / 3, -40 / 3])  # reflected (30, -20)
    rel = path_from_svg_d("m10 50 c0 -30 30 -30 30 0 s30 30 30 0")
    np.testing.assert_allclose(rel[0].nodes, c[0].nodes)


def test_arcs_make_exact_circles_and_ellipses():
    circle = path_from_svg_d("M20 60 A40 40 0 1 1 100 60 A40 40 0 1 1 20 60 Z")
    assert area(circle) == pytest.approx(np.pi * 1600, rel=1e-4)
    # compact flags, relative, rotated ellipse whose radii are too small for the
    # chord: scaled by sqrt(2.5) so that the two arcs are halves of one ellipse
    e = path_from_svg_d("M30 60a30 15 45 1 0 60 0a30 15 45 1 0-60 0z")
    assert area(e) == pytest.approx(np.pi * 30 * 15 * 2.5, rel=1e-4)
    # radii too small are scaled up (half circle of radius 40)
    half = path_from_svg_d("M20 60 A1 1 0 0 1 100 60 Z")
    assert area(half) == pytest.approx(np.pi * 800, rel=1e-4)
    # zero radius is a straight line
    line = path_from_svg_d("M20 20 A0 5 0 0 1 60 20 L60 60 Z")
    assert area(line) == pytest.approx(800, abs=1e-3)


def test_subpaths_and_drawing_after_close():
    p = path_from_svg_d("M10 10 h20 v20 h-20 z m5 5 h10 v10 h-10 z", fill_rule="evenodd")
    assert len(p) == 2 and area(p) == pytest.approx(300, abs=1e-3)
    # after z without m, a new subpath starts at the old start
    q = subpaths_from_svg_d("M10 10 h20 v20 z l-5 5 l5 5")
    np.testing.assert_allclose(q[1].anchors[0], [10, 10])


@pytest.mark.parametrize("d, message", [
    ("M 10", "number was expected"),
    ("L 10 10", None),
    ("10 10", "must start with a command"),
    ("M0 0 A 5 5 0 2 0 10 10", "arc flag"),
    ("M0 0 Z 5", "unexpected number after 'Z'"),
    ("M0 0 X 1", "number was expected"),
])
def test_bad_path_data(d, message):
    if message is None:  # drawing without M starts at the origin, as SVG does
        assert len(subpaths_from_svg_d(d)) == 1
        return
    with pytest.raises(PathDataError, match=message):
        subpaths_from_svg_d(d)


def test_transforms():
    np.testing.assert_allclose(parse_transform("translate(10)") @ [1, 1, 1], [11, 1, 1])
    np.testing.assert_allclose(parse_transform("scale(2, 3)") @ [1, 1, 1], [2, 3, 1])
    np.testing.assert_allclose(parse_transform("rotate(90)") @ [1, 0, 1], [0, 1, 1], atol=1e-12)
    np.testing.assert_allclose(parse_transform("rotate(90 10 10)") @ [20, 10, 1], [10, 20, 1],
                               atol=1e-12)
    np.testing.assert_allclose(parse_transform("matrix(1 2 3 4 5 6)") @ [1, 1, 1], [9, 12, 1])
    np.testing.assert_allclose(parse_transform("skewX(45)") @ [0, 1, 1], [1, 1, 1])
    np.testing.assert_allclose(parse_transform("skewY(45)") @ [1, 0, 1], [1, 1, 1])
    # a list applies right to left
    np.testing.assert_allclose(parse_transform("translate(10,0) scale(2)") @ [1, 1, 1], [12, 2, 1])
    np.testing.assert_allclose(parse_transform("translate(10,0),scale(2)") @ [1, 1, 1], [12, 2, 1])
    with pytest.raises(PathDataError):
        parse_transform("translate(1) wobble(2)")
    with pytest.raises(PathDataError):
        parse_transform("matrix(1 2 3)")


SVG = """<?xml version="1.0"?>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
     xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape"
     width="60mm" height="40mm" viewBox="0 0 120 80">
  <defs><rect id="hidden" width="5" height="5"/></defs>
  <g transform="translate(10 5)" inkscape:label="cut: holes" style="fill-rule:evenodd">
    <g transform="scale(2)"><rect x="0" y="0" width="5" height="5"/></g>
    <circle id="dot" cx="50" cy="30" r="5"/>
  </g>
  <ellipse id="oval" cx="60" cy="40" rx="10" ry="5" fill-rule="nonzero"/>
  <polygon id="tri" points="0,80 10,80 10,70"/>
  <polyline id="open" points="100,0 120,0 120,20"/>
  <line x1="0" y1="0" x2="10" y2="10"/>
  <rect id="gone" style="display:none" width="10" height="10"/>
  <use xlink:href="#tri" x="20"/>
  <path id="+stone" d="M80 60 h10 v10 h-10 z"/>
</svg>"""


def test_svg_document_elements_groups_roles_and_viewbox():
    paths = paths_from_svg(SVG, canvas_shape=(400, 600))
    names = [p.name for p in paths]
    assert names == ["cut: holes", "dot", "oval", "tri", "open", "", "tri", "+stone"]
    roles = [p.role for p in paths]
    assert roles == ["cut", "cut", "add", "add", "add", "add", "add", "add"]
    assert paths[0].fill_rule == "evenodd" and paths[2].fill_rule == "nonzero"
    # viewBox 120 x 80 onto 600 x 400 pixels: 5 px per unit
    np.testing.assert_allclose(paths[0].bounds(), (50, 25, 100, 75))
    assert area(paths[1], (400, 600)) == pytest.approx(np.pi * 25**2, rel=1e-4)
    assert area(paths[2], (400, 600)) == pytest.approx(np.pi * 50 * 25, rel=1e-4)
    np.testing.assert_allclose(paths[6].bounds(), (100, 350, 150, 400))  # <use x=20>
    assert not paths[4][0].closed


def test_svg_without_canvas_uses_css_pixels_and_checks_aspect(tmp_path):
    f = tmp_path / "p.svg"
    f.write_text(SVG)
    paths = paths_from_svg(f)  # 60 mm = 226.77 px over 120 units
    s = 60 / 25.4 * 96 / 120
    np.testing.assert_allclose(paths[3].bounds(), (0, 70 * s, 10 * s, 80 * s))
    with pytest.raises(PathDataError, match="SVG canvas"):
        paths_from_svg(f, canvas_shape=(400, 400))
    plain = '<svg xmlns="http://www.w3.org/2000/svg"><rect x="1" y="2" width="3" height="4"/></svg>'
    assert paths_from_svg(plain, canvas_shape=(50, 50))[0].bounds() == (1, 2, 4, 6)


def test_svg_preserve_aspect_ratio():
    doc = ('<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100" viewBox="0 0 10 10" '
           'preserveAspectRatio="{}"><rect width="10" height="10"/></svg>')
    assert paths_from_svg(doc.format("xMidYMid meet"))[0].bounds() == (50, 0, 150, 100)
    assert paths_from_svg(doc.format("xMinYMin meet"))[0].bounds() == (0, 0, 100, 100)
    assert paths_from_svg(doc.format("none"))[0].bounds() == (0, 0, 200, 100)


def test_bad_svg_files(tmp_path):
    with pytest.raises(PathDataError, match="well-formed"):
        paths_from_svg("<svg><rect></svg>")
    with pytest.raises(PathDataError, match="not <svg>"):
        paths_from_svg("<html/>")
    with pytest.raises(PathDataError, match="entity"):
        paths_from_svg('<!DOCTYPE svg [<!ENTITY a "b">]><svg/>')
    with pytest.raises(PathDataError, match="<path id='p'>"):
        paths_from_svg('<svg xmlns="http://www.w3.org/2000/svg"><path id="p" d="M 1"/></svg>')
    with pytest.raises(PathDataError, match="cannot read"):
        paths_from_svg(tmp_path / "missing.svg")


def test_krita_shape_svg_in_points():
    svg = ('<path id="shape0" sodipodi:nodetypes="cccc" krita:marker-fill-method="auto" '
           'other:thing="1" transform="translate(10, 20)" fill="none" '
           'd="M0 0L72 0L72 36L0 36Z"/>')
    (p,) = paths_from_krita_svg(svg, 300)
    s = 300 / 72
    np.testing.assert_allclose(p.bounds(), (10 * s, 20 * s, 82 * s, 56 * s))
    assert p.name == "shape0"
    with pytest.raises(ValueError, match="resolution"):
        paths_from_krita_svg(svg, 0)


def test_gimp_strokes_round_trip():
    pts = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    s = from_gimp_stroke(pts, True)
    np.testing.assert_allclose(s.nodes[1], [[7, 8], [9, 10], [11, 12]])
    p = from_gimp_strokes([(pts, True), (pts[:6], False)], name="cut: x")
    assert p.role == "cut" and p.fill_rule == "evenodd"
    assert to_gimp_strokes(p) == [(pts, True), (pts[:6], False)]
    with pytest.raises(ValueError, match="multiple of 6"):
        from_gimp_stroke([1, 2, 3, 4], True)


def test_svg_d_round_trip():
    p = path_from_svg_d("M10 10 C20 0 30 0 40 10 L40 40 Z M50 50 L60 50 L60 60")
    q = path_from_svg_d(p.to_svg_d())
    for a, b in zip(p, q):
        np.testing.assert_allclose(a.nodes, b.nodes)
        assert a.closed == b.closed

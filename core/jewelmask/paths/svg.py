"""SVG path data, SVG files and Krita shapes to :class:`Path`.

Supported:

* path data: ``M L H V C S Q T A Z`` in absolute and relative form, implicit
  repeated commands, arc flags written without separators;
* ``transform`` attributes: ``matrix``, ``translate``, ``scale``, ``rotate``
  (with an optional centre), ``skewX``, ``skewY``, nested through groups;
* elements: ``path``, ``rect`` (with rounded corners), ``circle``,
  ``ellipse``, ``polygon``, ``polyline``, ``line`` (no area), ``use`` of
  such elements; ``g``/``a``/``switch`` groups; ``defs``, ``clipPath``,
  ``mask``, ``symbol``, ``marker``, ``pattern`` and ``display:none`` content
  are skipped;
* ``fill-rule`` (attribute or style, inherited);
* the root ``width``/``height`` (px, pt, pc, mm, cm, in) and ``viewBox`` with
  ``preserveAspectRatio``.

Coordinates come out in image pixels: see :func:`paths_from_svg` for how the
SVG canvas is mapped onto the image.
"""

from __future__ import annotations

import math
import os
import re
import xml.etree.ElementTree as ET

import numpy as np

from ..errors import PathDataError
from .model import Path, Subpath, _as_affine
from .roles import role_from_name

__all__ = [
    "parse_transform",
    "path_from_svg_d",
    "paths_from_krita_svg",
    "paths_from_svg",
    "subpaths_from_svg_d",
]

_NUM = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_WS = " \t\r\n,"
_CMDS = "MmLlHhVvCcSsQqTtAaZz"
_NARGS = {"M": 2, "L": 2, "H": 1, "V": 1, "C": 6, "S": 4, "Q": 4, "T": 2, "A": 7, "Z": 0}
SVG_NS = "http://www.w3.org/2000/svg"
INKSCAPE_LABEL = "{http://www.inkscape.org/namespaces/inkscape}label"


class _Scanner:
    def __init__(self, text, what):
        self.s = text
        self.i = 0
        self.what = what

    def skip(self):
        s, i = self.s, self.i
        while i < len(s) and s[i] in _WS:
            i += 1
        self.i = i

    def done(self):
        self.skip()
        return self.i >= len(self.s)

    def peek_cmd(self):
        self.skip()
        if self.i < len(self.s) and self.s[self.i] in _CMDS:
            return self.s[self.i]
        return None

    def number(self):
        self.skip()
        m = _NUM.match(self.s, self.i)
        if not m:
            got = self.s[self.i:self.i + 10] or "the end"
            raise PathDataError(f"{self.what}: a number was expected at character {self.i}, got {got!r}")
        self.i = m.end()
        return float(m.group())

    def flag(self):
        self.skip()
        if self.i < len(self.s) and self.s[self.i] in "01":
            self.i += 1
            return self.s[self.i - 1] == "1"
        raise PathDataError(f"{self.what}: an arc flag (0 or 1) was expected at character {self.i}")

    def at_number(self):
        self.skip()
        return self.i < len(self.s) and _NUM.match(self.s, self.i) is not None


def _arc_to_cubics(p0, rx, ry, phi_deg, large, sweep, p1):
    """Endpoint arc (SVG implementation notes F.6.5) as cubic control points."""
    x1, y1 = p0
    x2, y2 = p1
    if (x1, y1) == (x2, y2):
        return []
    rx, ry = abs(rx), abs(ry)
    if rx == 0 or ry == 0:
        return [(p0, p1)]  # a straight line
    phi = math.radians(phi_deg % 360.0)
    cp, sp = math.cos(phi), math.sin(phi)
    dx, dy = (x1 - x2) / 2.0, (y1 - y2) / 2.0
    xp = cp * dx + sp * dy
    yp = -sp * dx + cp * dy
    lam = (xp * xp) / (rx * rx) + (yp * yp) / (ry * ry)
    if lam > 1:
        s = math.sqrt(lam)
        rx, ry = rx * s, ry * s
    num = rx * rx * ry * ry - rx * rx * yp * yp - ry * ry * xp * xp
    den = rx * rx * yp * yp + ry * ry * xp * xp
    coef = math.sqrt(max(0.0, num / den)) if den else 0.0
    if large == sweep:
        coef = -coef
    cxp = coef * rx * yp / ry
    cyp = -coef * ry * xp / rx
    cx = cp * cxp - sp * cyp + (x1 + x2) / 2.0
    cy = sp * cxp + cp * cyp + (y1 + y2) / 2.0
    th1 = math.atan2((yp - cyp) / ry, (xp - cxp) / rx)
    th2 = math.atan2((-yp - cyp) / ry, (-xp - cxp) / rx)
    dth = th2 - th1
    if sweep and dth < 0:
        dth += 2 * math.pi
    elif not sweep and dth > 0:
        dth -= 2 * math.pi
    n = max(1, int(math.ceil(abs(dth) / (math.pi / 4) - 1e-9)))
    h = dth / n
    k = 4.0 / 3.0 * math.tan(h / 4.0)
    out = []

    def pt(t):
        c, s = math.cos(t), math.sin(t)
        return (cx + rx * c * cp - ry * s * sp, cy + rx * c * sp + ry * s * cp)

    def tan(t):
        c, s = math.cos(t), math.sin(t)
        return (-rx * s * cp - ry * c * sp, -rx * s * sp + ry * c * cp)

    for i in range(n):
        a, b = th1 + i * h, th1 + (i + 1) * h
        pa, pb = pt(a), pt(b)
        ta, tb = tan(a), tan(b)
        c1 = (pa[0] + k * ta[0], pa[1] + k * ta[1])
        c2 = (pb[0] - k * tb[0], pb[1] - k * tb[1])
        end = p1 if i == n - 1 else pb
        out.append((c1, c2, end))
    return out


def subpaths_from_svg_d(d: str, *, what: str = "path data") -> tuple[Subpath, ...]:
    """Parse SVG path data (the ``d`` attribute) into subpaths (user units).

    Raises
    ------
    PathDataError
        If the data is malformed; the message names ``what`` and the position.
    """
    sc = _Scanner(d or "", what)
    subs = []
    nodes = None  # list of [in, anchor, out] for the current subpath
    closed = False
    cur = (0.0, 0.0)
    start = (0.0, 0.0)
    last_c2 = None  # second control point of the previous C/S
    last_q = None  # control point of the previous Q/T
    cmd = None

    def finish():
        nonlocal nodes, closed
        if nodes and len(nodes) >= 1:
            subs.append(Subpath(np.array(nodes, dtype=np.float64), closed))
        nodes, closed = None, False

    def ensure_started():
        nonlocal nodes
        if nodes is None:
            nodes = [[cur, cur, cur]]

    def curve(c1, c2, p):
        nonlocal cur
        ensure_started()
        nodes[-1][2] = c1
        nodes.append([c2, p, p])
        cur = p

    while not sc.done():
        c = sc.peek_cmd()
        if c is not None:
            sc.i += 1
            cmd = c
        elif cmd is None:
            raise PathDataError(f"{what}: path data must start with a command such as 'M'")
        elif cmd in "Zz":
            raise PathDataError(f"{what}: unexpected number after 'Z' at character {sc.i}")
        up = cmd.upper()
        rel = cmd.islower()
        if up == "Z":
            if nodes is not None:
                if len(nodes) > 1 and np.allclose(nodes[-1][1], nodes[0][1], rtol=0, atol=1e-9):
                    nodes[0][0] = nodes[-1][0]
                    nodes.pop()
                closed = True
                finish()
            cur = start
            last_c2 = last_q = None
            continue
        args = [sc.flag() if (up == "A" and j in (3, 4)) else sc.number() for j in range(_NARGS[up])]
        ox, oy = cur if rel else (0.0, 0.0)
        if up == "M":
            finish()
            cur = start = (ox + args[0], oy + args[1])
            nodes = [[cur, cur, cur]]
            cmd = "l" if rel else "L"  # further pairs are line-tos
            last_c2 = last_q = None
            continue
        if nodes is None:  # drawing after Z without M starts at the old start
            start = cur
        if up == "L":
            p = (ox + args[0], oy + args[1])
            curve(cur, p, p)
            last_c2 = last_q = None
        elif up == "H":
            p = ((ox if rel else 0.0) + args[0], cur[1])
            curve(cur, p, p)
            last_c2 = last_q = None
        elif up == "V":
            p = (cur[0], (oy if rel else 0.0) + args[0])
            curve(cur, p, p)
            last_c2 = last_q = None
        elif up == "C":
            c1 = (ox + args[0], oy + args[1])
            c2 = (ox + args[2], oy + args[3])
            p = (ox + args[4], oy + args[5])
            curve(c1, c2, p)
            last_c2, last_q = c2, None
        elif up == "S":
            c1 = (2 * cur[0] - last_c2[0], 2 * cur[1] - last_c2[1]) if last_c2 else cur
            c2 = (ox + args[0], oy + args[1])
            p = (ox + args[2], oy + args[3])
            curve(c1, c2, p)
            last_c2, last_q = c2, None
        elif up in "QT":
            if up == "Q":
                q = (ox + args[0], oy + args[1])
                p = (ox + args[2], oy + args[3])
            else:
                q = (2 * cur[0] - last_q[0], 2 * cur[1] - last_q[1]) if last_q else cur
                p = (ox + args[0], oy + args[1])
            p0 = cur
            c1 = (p0[0] + 2.0 / 3.0 * (q[0] - p0[0]), p0[1] + 2.0 / 3.0 * (q[1] - p0[1]))
            c2 = (p[0] + 2.0 / 3.0 * (q[0] - p[0]), p[1] + 2.0 / 3.0 * (q[1] - p[1]))
            curve(c1, c2, p)
            last_c2, last_q = None, q
        elif up == "A":
            p = (ox + args[5], oy + args[6])
            for piece in _arc_to_cubics(cur, args[0], args[1], args[2], args[3], args[4], p):
                if len(piece) == 2:
                    curve(cur, piece[1], piece[1])
                else:
                    curve(*piece)
            cur = p
            last_c2 = last_q = None
    finish()
    return tuple(subs)


def path_from_svg_d(d: str, *, transform=None, scale: float = 1.0, name: str = "",
                    role: str | None = None, fill_rule: str = "nonzero") -> Path:
    """A :class:`Path` from SVG path data.

    Parameters
    ----------
    d : str
        SVG path data.
    transform : str or array_like, optional
        An SVG ``transform`` attribute value, or a 2x3/3x3 matrix, applied
        first.
    scale : float
        Then multiply every coordinate by this (e.g. ``resolution / 72`` for
        Krita's points).
    """
    subs = subpaths_from_svg_d(d, what=f"path {name!r}" if name else "path data")
    m = np.eye(3)
    if transform is not None:
        m = parse_transform(transform) if isinstance(transform, str) else _as_affine(transform)
    m = np.diag([scale, scale, 1.0]) @ m
    p = Path(subs, name=name, role=role or role_from_name(name), fill_rule=fill_rule)
    return p if np.allclose(m, np.eye(3)) else p.transformed(m)


_TF = re.compile(r"\s*(matrix|translate|scale|rotate|skewX|skewY)\s*\(([^)]*)\)\s*,?")


def parse_transform(text: str) -> np.ndarray:
    """An SVG transform list as a 3x3 matrix (column vectors ``(x, y, 1)``).

    Examples
    --------
    >>> parse_transform("translate(10, 5) scale(2)") @ [1, 1, 1]
    array([12.,  7.,  1.])
    """
    m = np.eye(3)
    pos = 0
    text = text or ""
    while text[pos:].strip():
        mt = _TF.match(text, pos)
        if not mt:
            raise PathDataError(f"transform {text!r}: cannot read it from character {pos}")
        name = mt.group(1)
        v = [float(x) for x in _NUM.findall(mt.group(2))]
        t = np.eye(3)
        try:
            if name == "matrix":
                a, b, c, d, e, f = v
                t = np.array([[a, c, e], [b, d, f], [0, 0, 1.0]])
            elif name == "translate":
                t[0, 2] = v[0]
                t[1, 2] = v[1] if len(v) > 1 else 0.0
            elif name == "scale":
                t[0, 0] = v[0]
                t[1, 1] = v[1] if len(v) > 1 else v[0]
            elif name == "rotate":
                a = math.radians(v[0])
                r = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
                if len(v) == 3:
                    tr = np.array([[1, 0, v[1]], [0, 1, v[2]], [0, 0, 1.0]])
                    back = np.array([[1, 0, -v[1]], [0, 1, -v[2]], [0, 0, 1.0]])
                    r = tr @ r @ back
                elif len(v) != 1:
                    raise IndexError
                t = r
            elif name == "skewX":
                t[0, 1] = math.tan(math.radians(v[0]))
            elif name == "skewY":
                t[1, 0] = math.tan(math.radians(v[0]))
        except (ValueError, IndexError):
            raise PathDataError(f"transform {text!r}: wrong number of values for {name}()") from None
        m = m @ t
        pos = mt.end()
    return m


# ----------------------------------------------------------------------------- documents

_UNITS = {"": 1.0, "px": 1.0, "pt": 96.0 / 72.0, "pc": 16.0, "mm": 96.0 / 25.4,
          "cm": 96.0 / 2.54, "in": 96.0, "q": 96.0 / 101.6}
_LEN = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([a-zA-Z%]*)\s*$")
_SKIP = {"defs", "clipPath", "mask", "symbol", "marker", "pattern", "linearGradient",
         "radialGradient", "filter", "style", "script", "title", "desc", "metadata", "text"}
_CONTAINERS = {"svg", "g", "a", "switch"}


def _local(tag):
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _length(value, what, ref=None):
    if value is None:
        return None
    m = _LEN.match(str(value))
    if not m:
        raise PathDataError(f"{what}: cannot read the length {value!r}")
    num, unit = float(m.group(1)), m.group(2).lower()
    if unit == "%":
        if ref is None:
            return None
        return num / 100.0 * ref
    if unit not in _UNITS:
        raise PathDataError(f"{what}: unsupported unit {unit!r} in {value!r}")
    return num * _UNITS[unit]


def _style(el):
    st = {}
    for part in (el.get("style") or "").split(";"):
        if ":" in part:
            k, v = part.split(":", 1)
            st[k.strip()] = v.strip()
    return st


def _prop(el, name):
    st = _style(el)
    if name in st:
        return st[name]
    return el.get(name)


def _name_of(el):
    return el.get(INKSCAPE_LABEL) or el.get("id") or ""


def _element_subpaths(el, tag, what, vb):
    g = lambda k, ref=None: _length(el.get(k), what, ref)  # noqa: E731
    vw, vh = vb
    if tag == "path":
        return subpaths_from_svg_d(el.get("d") or "", what=what)
    if tag in ("polygon", "polyline"):
        v = [float(x) for x in _NUM.findall(el.get("points") or "")]
        if len(v) % 2:
            raise PathDataError(f"{what}: odd number of coordinates in points")
        if len(v) < 2:
            return ()
        p = np.array(v).reshape(-1, 2)
        return (Subpath(np.repeat(p[:, None], 3, axis=1), tag == "polygon"),)
    if tag == "line":
        p = np.array([[g("x1", vw) or 0, g("y1", vh) or 0], [g("x2", vw) or 0, g("y2", vh) or 0]])
        return (Subpath(np.repeat(p[:, None], 3, axis=1), False),)
    if tag == "rect":
        x, y = g("x", vw) or 0.0, g("y", vh) or 0.0
        w, h = g("width", vw) or 0.0, g("height", vh) or 0.0
        if w <= 0 or h <= 0:
            return ()
        rx, ry = g("rx", vw), g("ry", vh)
        if rx is None and ry is None:
            rx = ry = 0.0
        rx = ry if rx is None else rx
        ry = rx if ry is None else ry
        rx, ry = min(max(rx, 0.0), w / 2), min(max(ry, 0.0), h / 2)
        if rx == 0 or ry == 0:
            p = np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]])
            return (Subpath(np.repeat(p[:, None], 3, axis=1), True),)
        d = (f"M{x + rx},{y} H{x + w - rx} A{rx},{ry} 0 0 1 {x + w},{y + ry} V{y + h - ry} "
             f"A{rx},{ry} 0 0 1 {x + w - rx},{y + h} H{x + rx} A{rx},{ry} 0 0 1 {x},{y + h - ry} "
             f"V{y + ry} A{rx},{ry} 0 0 1 {x + rx},{y} Z")
        return subpaths_from_svg_d(d, what=what)
    if tag in ("circle", "ellipse"):
        cx, cy = g("cx", vw) or 0.0, g("cy", vh) or 0.0
        if tag == "circle":
            r = g("r", math.hypot(vw, vh) / math.sqrt(2) if vw else None) or 0.0
            rx = ry = r
        else:
            rx, ry = g("rx", vw), g("ry", vh)
            rx = ry if rx is None else rx
            ry = rx if ry is None else ry
            rx, ry = rx or 0.0, ry or 0.0
        if rx <= 0 or ry <= 0:
            return ()
        th = 2 * np.pi * np.arange(8) / 8
        k = 4.0 / 3.0 * np.tan(np.pi / 16)
        c, s = np.cos(th), np.sin(th)
        a = np.stack([cx + rx * c, cy + ry * s], 1)
        t = np.stack([-rx * s, ry * c], 1)
        return (Subpath(np.stack([a - k * t, a, a + k * t], 1), True),)
    return ()


def _walk(el, m, inherited, out, ids, vb, depth=0):
    tag = _local(el.tag)
    if depth > 64:
        raise PathDataError("SVG nesting is too deep (or a 'use' element refers to itself)")
    if tag in _SKIP:
        return
    if (_prop(el, "display") or "").strip() == "none":
        return
    if el.get("transform"):
        m = m @ parse_transform(el.get("transform"))
    fr = _prop(el, "fill-rule")
    state = dict(inherited)
    if fr in ("evenodd", "nonzero"):
        state["fill_rule"] = fr
    name = _name_of(el)
    if name:
        state["names"] = state["names"] + [name]
    if tag in _CONTAINERS:
        for child in el:
            _walk(child, m, state, out, ids, vb, depth + 1)
        return
    if tag == "use":
        href = el.get("{http://www.w3.org/1999/xlink}href") or el.get("href") or ""
        target = ids.get(href.lstrip("#"))
        if target is None:
            return
        t = np.eye(3)
        t[0, 2] = _length(el.get("x"), "use", vb[0]) or 0.0
        t[1, 2] = _length(el.get("y"), "use", vb[1]) or 0.0
        tag_t = _local(target.tag)
        if tag_t in _SKIP and tag_t != "symbol":
            return
        if tag_t == "symbol":
            for child in target:
                _walk(child, m @ t, state, out, ids, vb, depth + 1)
        else:
            _walk(target, m @ t, state, out, ids, vb, depth + 1)
        return
    what = f"<{tag}{' id=' + repr(el.get('id')) if el.get('id') else ''}>"
    subs = _element_subpaths(el, tag, what, vb)
    if not subs:
        return
    names = state["names"]
    role = "add"
    for n in reversed(names):
        if role_from_name(n) == "cut" or n.lstrip().lower().startswith(("add:", "add ", "+")):
            role = role_from_name(n)
            break
    p = Path(subs, name=names[-1] if names else "", role=role, fill_rule=state["fill_rule"])
    out.append(p.transformed(m))


def _parse_xml(text, what):
    if isinstance(text, bytes):
        probe = text[:4096].decode("utf-8", "replace")
    else:
        probe = text[:4096]
    if "<!ENTITY" in probe:
        raise PathDataError(f"{what}: SVG files with entity declarations are not supported")
    try:
        return ET.fromstring(text)
    except ET.ParseError as exc:
        raise PathDataError(f"{what}: not a well-formed SVG file ({exc})") from None


def _root_transform(root, canvas_shape, what):
    """Matrix from the root's user units to image pixels, and the viewBox size."""
    vb = root.get("viewBox")
    vbox = None
    if vb:
        v = [float(x) for x in _NUM.findall(vb)]
        if len(v) != 4 or v[2] <= 0 or v[3] <= 0:
            raise PathDataError(f"{what}: cannot read viewBox {vb!r}")
        vbox = v
    width = _length(root.get("width"), what)
    height = _length(root.get("height"), what)
    if vbox is not None:
        width = vbox[2] if width is None else width
        height = vbox[3] if height is None else height
    if canvas_shape is not None:
        ch, cw = float(canvas_shape[0]), float(canvas_shape[1])
        if width and height:
            if abs(width / height - cw / ch) > 0.01 * (cw / ch):
                raise PathDataError(
                    f"{what}: the SVG canvas is {width:g} x {height:g} but the image is "
                    f"{cw:g} x {ch:g} pixels; export the paths from a document the size of the image"
                )
            sx, sy = cw / width, ch / height
        else:
            sx = sy = 1.0
    else:
        sx = sy = 1.0
    m = np.diag([sx, sy, 1.0])
    if vbox is not None and width and height:
        vx, vy, vw, vh = vbox
        par = (root.get("preserveAspectRatio") or "xMidYMid meet").split()
        align = par[0] if par else "xMidYMid"
        sxv, syv = width / vw, height / vh
        tx, ty = -vx * sxv, -vy * syv
        if align != "none":
            s = min(sxv, syv) if (len(par) < 2 or par[1] == "meet") else max(sxv, syv)
            ax = {"xMin": 0.0, "xMid": 0.5, "xMax": 1.0}[align[:4]]
            ay = {"YMin": 0.0, "YMid": 0.5, "YMax": 1.0}[align[4:]]
            tx = -vx * s + ax * (width - vw * s)
            ty = -vy * s + ay * (height - vh * s)
            sxv = syv = s
        m = m @ np.array([[sxv, 0, tx], [0, syv, ty], [0, 0, 1.0]])
        return m, (vw, vh)
    return m, (width or 0.0, height or 0.0)


def paths_from_svg(svg, *, canvas_shape=None) -> list[Path]:
    """Read every shape of an SVG document as a :class:`Path` in pixels.

    Parameters
    ----------
    svg : str, bytes or os.PathLike
        A file name, or the document itself (text starting with ``<``).
    canvas_shape : tuple of int, optional
        ``(height, width)`` of the image the SVG was drawn over. The SVG canvas
        (its ``width`` x ``height``, or its ``viewBox`` if it has no size) is
        scaled onto the image; the aspect ratios must agree within 1 %. Without
        it, or if the SVG gives no size at all, one SVG pixel is one image
        pixel.

    Returns
    -------
    list of Path
        One per drawable element, named after its ``inkscape:label`` or
        ``id`` (or the nearest named group's); the role comes from the first
        ``cut:``/``add:`` name found on the element or its groups.
    """
    what = "SVG"
    if isinstance(svg, (bytes, bytearray)) or (isinstance(svg, str) and svg.lstrip().startswith("<")):
        text = bytes(svg) if isinstance(svg, (bytes, bytearray)) else svg
    else:
        what = os.fspath(svg)
        try:
            with open(svg, "rb") as f:
                text = f.read()
        except OSError as exc:
            raise PathDataError(f"cannot read {what}: {exc.strerror or exc}") from None
    root = _parse_xml(text, what)
    if _local(root.tag) != "svg":
        raise PathDataError(f"{what}: the root element is <{_local(root.tag)}>, not <svg>")
    m, vb = _root_transform(root, canvas_shape, what)
    ids = {el.get("id"): el for el in root.iter() if el.get("id")}
    out = []
    state = {"fill_rule": "nonzero", "names": []}
    _walk(root, m, state, out, ids, vb)
    return out


_PREFIX = re.compile(r"\s([A-Za-z_][\w.-]*):[\w.-]+\s*=")


def paths_from_krita_svg(svg_text: str, resolution: float) -> list[Path]:
    """Paths from the SVG that Krita's ``Shape.toSvg()`` returns.

    Krita writes shapes in points (1/72 inch) with their ``transform``; the
    result is scaled by ``resolution / 72`` (the document's pixels per inch,
    ``Document.resolution()``) to image pixels.

    Parameters
    ----------
    svg_text : str
        One or more shape elements (or a whole ``<svg>`` document).
    resolution : float
        Document resolution in pixels per inch.
    """
    if not (resolution and resolution > 0):
        raise ValueError(f"resolution must be a positive number of pixels per inch, got {resolution!r}")
    text = svg_text.strip()
    if not text.startswith("<svg") and "<svg" not in text[:200]:
        declared = {"xlink", "krita", "sodipodi", "inkscape", "xml"}
        extra = "".join(f' xmlns:{p}="urn:jewelmask:{p}"' for p in set(_PREFIX.findall(text)) - declared)
        text = (f'<svg xmlns="{SVG_NS}" xmlns:xlink="http://www.w3.org/1999/xlink" '
                'xmlns:krita="http://krita.org/namespaces/svg/krita" '
                'xmlns:sodipodi="http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd" '
                f'xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape"{extra}>{text}</svg>')
    s = resolution / 72.0
    return [p.scaled(s) for p in paths_from_svg(text)]

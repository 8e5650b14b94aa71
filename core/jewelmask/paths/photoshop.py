"""Photoshop paths in JPEG and TIFF files (image resources 2000-2998, 2999).

The layout follows Adobe's Photoshop File Formats Specification:

* Image resource block: ``"8BIM"``, resource ID (uint16), name as a Pascal
  string padded to an even size (length byte included), data size (uint32),
  data padded to an even size. All integers big-endian.
* Saved paths are resources 2000-2998 (this module writes 2000, 2001, ...);
  the block name is the path name. 1025 is the unsaved working path.
  Resource 2999 names the clipping path: a Pascal string (padded to even),
  the flatness as 16.16 fixed point (0 = device default) and a 2-byte fill
  rule that Photoshop ignores.
* Path data is a sequence of 26-byte records, each starting with a 2-byte
  selector: 0 closed subpath length (count in bytes 2-3), 1/2 closed subpath
  knot linked/unlinked, 3 open subpath length, 4/5 open subpath knot
  linked/unlinked, 6 path fill rule (first record, otherwise zero), 7
  clipboard (bounds and resolution), 8 initial fill rule (1 = the fill
  starts with all pixels). A knot record holds the preceding control point,
  the anchor and the leaving control point, each as two signed 8.24 fixed
  point numbers, **vertical first**, relative to the image height and width
  (so (1, 1) is the bottom-right corner), in the range [-16, 16).
* In JPEG the resources sit in APP13 segments whose payload starts with
  ``"Photoshop 3.0\\0"``; a long resource section continues over several such
  segments (their payloads after the header are concatenated). In TIFF they
  are the bytes of tag 34377 (``ImagePhotoshop``).

Reading is strict: malformed path data raises
:class:`~jewelmask.errors.PathDataError` naming the resource, never a crash
and never a silently empty path.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from io import BytesIO

import numpy as np

from ..errors import ImageReadError, PathDataError
from .model import Path, Subpath
from .roles import role_from_name

__all__ = [
    "EmbeddedPaths",
    "ImageResource",
    "PHOTOSHOP_APP13_HEADER",
    "PathInfo",
    "build_image_resources",
    "decode_clipping_name",
    "decode_path_resource",
    "embed_paths_jpeg",
    "encode_clipping_name",
    "encode_path_resource",
    "list_paths",
    "parse_image_resources",
    "photoshop_app13_payloads",
    "photoshop_resources_for_paths",
    "read_paths",
    "tiff_with_paths",
    "write_tiff_with_paths",
]

PHOTOSHOP_APP13_HEADER = b"Photoshop 3.0\x00"
TIFF_TAG_PHOTOSHOP = 34377
WORKING_PATH_ID = 1025
FIRST_PATH_ID = 2000
LAST_PATH_ID = 2998
CLIPPING_NAME_ID = 2999
RECORD = 26
_FIXED_ONE = 1 << 24
_FIXED_MIN = -(1 << 28)  # 0xF0000000: -16.0
_FIXED_MAX = (1 << 28) - 1  # 0x0FFFFFFF: just under 16.0
_SIGNATURES = (b"8BIM", b"MeSa", b"PHUT", b"AgHg", b"DCSR")
# APP13 payload is at most 65533 bytes (the length field counts itself).
_APP13_DATA_MAX = 65533 - len(PHOTOSHOP_APP13_HEADER)

_SEL_CLOSED_LEN, _SEL_CLOSED_LINKED, _SEL_CLOSED_UNLINKED = 0, 1, 2
_SEL_OPEN_LEN, _SEL_OPEN_LINKED, _SEL_OPEN_UNLINKED = 3, 4, 5
_SEL_FILL_RULE, _SEL_CLIPBOARD, _SEL_INITIAL_FILL = 6, 7, 8


@dataclass(frozen=True)
class ImageResource:
    """One Photoshop image resource block."""

    id: int
    name: bytes
    data: bytes
    signature: bytes = b"8BIM"

    @property
    def is_path(self) -> bool:
        return FIRST_PATH_ID <= self.id <= LAST_PATH_ID or self.id == WORKING_PATH_ID


def _describe(res_id, name=None):
    if res_id == CLIPPING_NAME_ID:
        return "clipping path name resource 2999"
    if res_id == WORKING_PATH_ID:
        return "working path resource 1025"
    return f"path resource {res_id}" + (f" {name!r}" if name else "")


# ----------------------------------------------------------------------------- resource blocks


def _pascal(name: bytes) -> bytes:
    name = bytes(name)[:255]
    out = bytes([len(name)]) + name
    return out + b"\x00" * (len(out) % 2)


def _decode_name(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("mac_roman")


def _encode_name(name: str) -> bytes:
    raw = name.encode("utf-8")
    if len(raw) > 255:
        raw = raw[:255]
        while raw:  # do not cut a character in half
            try:
                raw.decode("utf-8")
                break
            except UnicodeDecodeError:
                raw = raw[:-1]
    return raw


def parse_image_resources(data: bytes, *, source: str = "image resources") -> list[ImageResource]:
    """Split a Photoshop image resource section into blocks.

    Raises
    ------
    PathDataError
        If a block is truncated or does not start with a known signature.
    """
    data = bytes(data)
    out = []
    pos = 0
    n = len(data)
    while pos < n:
        if n - pos < 4 and not data[pos:].strip(b"\x00"):
            break  # trailing padding
        if n - pos < 12:
            raise PathDataError(f"{source}: truncated resource block at byte {pos}")
        sig = data[pos:pos + 4]
        if sig not in _SIGNATURES:
            raise PathDataError(
                f"{source}: expected a resource signature such as '8BIM' at byte {pos}, got {sig!r}"
            )
        (res_id,) = struct.unpack_from(">H", data, pos + 4)
        name_len = data[pos + 6]
        name_end = pos + 7 + name_len
        name_end += (1 + name_len) % 2
        if name_end + 4 > n:
            raise PathDataError(f"{source}: resource {res_id} is truncated in its name")
        name = data[pos + 7:pos + 7 + name_len]
        (size,) = struct.unpack_from(">I", data, name_end)
        start = name_end + 4
        if start + size > n:
            raise PathDataError(
                f"{source}: {_describe(res_id, _decode_name(name))} declares {size} bytes "
                f"but only {n - start} are left (truncated file?)"
            )
        out.append(ImageResource(res_id, name, data[start:start + size], sig))
        pos = start + size + (size % 2)
    return out


def build_image_resources(resources) -> bytes:
    """Serialise resource blocks (inverse of :func:`parse_image_resources`)."""
    parts = []
    for r in resources:
        if not 0 <= int(r.id) <= 0xFFFF:
            raise ValueError(f"resource id must fit in 16 bits, got {r.id!r}")
        data = bytes(r.data)
        parts.append(bytes(r.signature) + struct.pack(">H", r.id) + _pascal(r.name)
                     + struct.pack(">I", len(data)) + data + b"\x00" * (len(data) % 2))
    return b"".join(parts)


# ----------------------------------------------------------------------------- path records


def decode_path_resource(data: bytes, width: int, height: int, *, name: str = "",
                         resource_id: int = FIRST_PATH_ID, role: str | None = None) -> Path:
    """Decode path records into a :class:`Path` in pixel coordinates.

    Parameters
    ----------
    data : bytes
        The resource data (a whole number of 26-byte records).
    width, height : int
        Image size in pixels; Photoshop coordinates are fractions of it.
    name : str
        The path name (the resource block's name).
    resource_id : int
        For error messages.
    role : {"add", "cut"}, optional
        Defaults to what the name implies (:func:`role_from_name`).

    Raises
    ------
    PathDataError
        Truncated records, a subpath length that does not match the knot
        records that follow, knots outside a subpath, unknown selectors,
        coordinates outside [-16, 16).
    """
    what = _describe(resource_id, name)
    data = bytes(data)
    if len(data) % RECORD:
        raise PathDataError(
            f"{what}: {len(data)} bytes is not a whole number of 26-byte records (truncated?)"
        )
    n_rec = len(data) // RECORD
    recs = np.frombuffer(data, dtype=np.uint8).reshape(n_rec, RECORD)
    sel = recs[:, 0].astype(np.int32) * 256 + recs[:, 1]
    bad = np.flatnonzero(sel > 8)
    if bad.size:
        k = int(bad[0])
        raise PathDataError(f"{what}: record {k} has unknown selector {int(sel[k])} (expected 0-8)")
    subpaths = []
    inverted = False
    k = 0
    while k < n_rec:
        s = int(sel[k])
        if s in (_SEL_CLOSED_LEN, _SEL_OPEN_LEN):
            (count,) = struct.unpack_from(">H", data, k * RECORD + 2)
            closed = s == _SEL_CLOSED_LEN
            knots = (_SEL_CLOSED_LINKED, _SEL_CLOSED_UNLINKED) if closed else \
                (_SEL_OPEN_LINKED, _SEL_OPEN_UNLINKED)
            got = sel[k + 1:k + 1 + count]
            ok = np.isin(got, knots)
            if got.size < count or not ok.all():
                m = int(np.argmin(ok)) if not ok.all() else got.size
                kind = "closed" if closed else "open"
                raise PathDataError(
                    f"{what}: the {kind} subpath at record {k} declares {count} knots "
                    f"but only {m} {kind}-subpath knot records follow"
                )
            block = recs[k + 1:k + 1 + count, 2:].copy()
            raw = block.view(">i4").reshape(count, 3, 2).astype(np.int64)
            out_of = (raw < _FIXED_MIN) | (raw > _FIXED_MAX)
            if out_of.any():
                j = int(np.argwhere(out_of)[0][0])
                raise PathDataError(
                    f"{what}: knot record {k + 1 + j} has a coordinate outside the [-16, 16) "
                    f"range of the format (corrupt data?)"
                )
            yx = raw / _FIXED_ONE
            nodes = np.empty((count, 3, 2))
            nodes[..., 0] = yx[..., 1] * width
            nodes[..., 1] = yx[..., 0] * height
            if count:
                subpaths.append(Subpath(nodes, closed))
            k += 1 + count
        elif s in (_SEL_CLOSED_LINKED, _SEL_CLOSED_UNLINKED, _SEL_OPEN_LINKED, _SEL_OPEN_UNLINKED):
            raise PathDataError(
                f"{what}: knot record {k} is not preceded by a subpath length record "
                f"(or the previous subpath's count is too small)"
            )
        elif s == _SEL_INITIAL_FILL:
            (flag,) = struct.unpack_from(">H", data, k * RECORD + 2)
            if flag not in (0, 1):
                raise PathDataError(f"{what}: initial fill rule record {k} holds {flag}, not 0 or 1")
            inverted = bool(flag)
            k += 1
        else:  # fill rule record, clipboard record: nothing we use
            k += 1
    return Path(tuple(subpaths), name=name, role=role or role_from_name(name),
                fill_rule="evenodd", inverted=inverted)


def _to_fixed(v, what):
    f = np.rint(np.asarray(v, dtype=np.float64) * _FIXED_ONE)
    if np.any(f < _FIXED_MIN) or np.any(f > _FIXED_MAX):
        raise ValueError(f"{what}: a point lies more than 16 image sizes away from the image, "
                         "which Photoshop paths cannot store")
    return f.astype(">i4")


def _linked(nodes, tol=1e-3):
    """Whether each knot's handles are collinear with the anchor (smooth)."""
    a = nodes[:, 0] - nodes[:, 1]
    b = nodes[:, 2] - nodes[:, 1]
    la = np.hypot(a[:, 0], a[:, 1])
    lb = np.hypot(b[:, 0], b[:, 1])
    cross = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
    dot = a[:, 0] * b[:, 0] + a[:, 1] * b[:, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        sin = np.abs(cross) / (la * lb)
    return (la > 0) & (lb > 0) & (dot < 0) & (sin <= tol)


def encode_path_resource(path: Path, width: int, height: int) -> bytes:
    """Encode a :class:`Path` as Photoshop path records.

    Writes the path fill rule record first (as Photoshop and GIMP expect),
    then the initial fill rule record, then each subpath as a length record
    followed by its knots (linked where the handles are collinear with the
    anchor). Subpaths with more than 65535 nodes cannot be stored.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"width and height must be positive, got {width!r}, {height!r}")
    out = bytearray()
    out += struct.pack(">H", _SEL_FILL_RULE) + b"\x00" * 24
    out += struct.pack(">HH", _SEL_INITIAL_FILL, 1 if path.inverted else 0) + b"\x00" * 22
    for i, s in enumerate(path.subpaths):
        n = len(s)
        if n == 0:
            continue
        if n > 0xFFFF:
            raise ValueError(f"path {path.name!r} subpath {i} has {n} nodes; at most 65535 fit")
        out += struct.pack(">HH", _SEL_CLOSED_LEN if s.closed else _SEL_OPEN_LEN, n) + b"\x00" * 22
        yx = np.empty((n, 3, 2))
        yx[..., 0] = s.nodes[..., 1] / height
        yx[..., 1] = s.nodes[..., 0] / width
        fixed = _to_fixed(yx, f"path {path.name!r}").reshape(n, 6)
        linked = _linked(s.nodes)
        sel = np.where(linked, _SEL_CLOSED_LINKED if s.closed else _SEL_OPEN_LINKED,
                       _SEL_CLOSED_UNLINKED if s.closed else _SEL_OPEN_UNLINKED)
        recs = np.empty((n, RECORD), np.uint8)
        recs[:, :2] = sel.astype(">u2").view(np.uint8).reshape(n, 2)
        recs[:, 2:] = fixed.view(np.uint8).reshape(n, 24)
        out += recs.tobytes()
    return bytes(out)


def encode_clipping_name(name: str, flatness: float = 0.0) -> bytes:
    """Data of resource 2999: Pascal name (even-padded), 16.16 flatness, fill rule 0."""
    if not (0 <= flatness < 32768):
        raise ValueError(f"flatness must be in [0, 32768) device pixels, got {flatness!r}")
    return _pascal(_encode_name(name)) + struct.pack(">iH", int(round(flatness * 65536)), 0)


def decode_clipping_name(data: bytes) -> str:
    """The clipping path name stored in resource 2999."""
    data = bytes(data)
    if not data or data[0] + 1 > len(data):
        raise PathDataError("clipping path name resource 2999 is truncated")
    return _decode_name(data[1:1 + data[0]])


# ----------------------------------------------------------------------------- containers


def _jpeg_segments(data: bytes):
    """Header segments of a JPEG up to SOS: list of (marker, start, payload_start, end)."""
    if data[:2] != b"\xff\xd8":
        raise ImageReadError("not a JPEG file (no SOI marker)")
    segs = []
    pos = 2
    n = len(data)
    while True:
        if pos >= n:
            raise ImageReadError("the JPEG file is truncated before its image data")
        if data[pos] != 0xFF:
            raise ImageReadError(f"JPEG marker expected at byte {pos}, the file is damaged")
        while pos < n and data[pos] == 0xFF:
            pos += 1
        if pos >= n:
            raise ImageReadError("the JPEG file is truncated before its image data")
        marker = data[pos]
        start = pos - 1
        pos += 1
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            continue
        if marker in (0xD9, 0xDA):
            segs.append((marker, start, pos, pos))
            return segs
        if pos + 2 > n:
            raise ImageReadError("the JPEG file is truncated in a segment header")
        (length,) = struct.unpack_from(">H", data, pos)
        if length < 2 or pos + length > n:
            raise ImageReadError(f"JPEG segment 0xFF{marker:02X} at byte {start} is truncated")
        segs.append((marker, start, pos + 2, pos + length))
        pos += length


_SOF = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg_info(data: bytes):
    """Segments, (height, width) and the Photoshop resource bytes of a JPEG."""
    segs = _jpeg_segments(data)
    shape = None
    ps = []
    for marker, _start, p0, end in segs:
        if marker in _SOF and end - p0 >= 5:
            h, w = struct.unpack_from(">HH", data, p0 + 1)
            shape = (h, w)
        if marker == 0xED and data[p0:p0 + len(PHOTOSHOP_APP13_HEADER)] == PHOTOSHOP_APP13_HEADER:
            ps.append(data[p0 + len(PHOTOSHOP_APP13_HEADER):end])
    return segs, shape, b"".join(ps)


def _tiff_info(data: bytes):
    """(height, width) and the bytes of tag 34377 from the first TIFF directory."""
    if data[:4] == b"II*\x00":
        o = "<"
    elif data[:4] == b"MM\x00*":
        o = ">"
    elif data[:4] in (b"II+\x00", b"MM\x00+"):
        raise ImageReadError("BigTIFF files are not supported for paths; save as classic TIFF")
    else:
        raise ImageReadError("not a TIFF file")
    n = len(data)

    def need(off, size):
        if off < 0 or off + size > n:
            raise ImageReadError("the TIFF file is truncated (directory or tag data beyond its end)")

    need(4, 4)
    (ifd,) = struct.unpack_from(o + "I", data, 4)
    need(ifd, 2)
    (count,) = struct.unpack_from(o + "H", data, ifd)
    need(ifd + 2, 12 * count)
    sizes = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
    width = height = None
    ps = b""
    for i in range(count):
        e = ifd + 2 + 12 * i
        tag, typ, cnt = struct.unpack_from(o + "HHI", data, e)
        size = sizes.get(typ, 1) * cnt
        if size <= 4:
            voff = e + 8
        else:
            (voff,) = struct.unpack_from(o + "I", data, e + 8)
        if tag in (256, 257):
            need(voff, size)
            v = struct.unpack_from(o + ("H" if typ == 3 else "I"), data, voff)[0]
            if tag == 256:
                width = v
            else:
                height = v
        elif tag == TIFF_TAG_PHOTOSHOP:
            need(voff, size)
            ps = data[voff:voff + size]
    if not width or not height:
        raise ImageReadError("the TIFF file has no image width or height")
    return (height, width), ps


def _read_source(source):
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), "image"
    try:
        with open(source, "rb") as f:
            return f.read(), os.fspath(source)
    except OSError as exc:
        raise ImageReadError(f"cannot read {os.fspath(source)}: {exc.strerror or exc}") from exc


def _resources_of(source):
    data, label = _read_source(source)
    try:
        if data[:2] == b"\xff\xd8":
            _segs, shape, ps = _jpeg_info(data)
            where = f"{label} (JPEG APP13)"
            if shape is None:
                raise ImageReadError("the JPEG file has no frame header (SOF)")
        elif data[:2] in (b"II", b"MM"):
            shape, ps = _tiff_info(data)
            where = f"{label} (TIFF tag 34377)"
        else:
            raise ImageReadError("embedded paths can be read from JPEG and TIFF files only")
    except ImageReadError as exc:
        raise ImageReadError(f"{label}: {exc}") from None
    resources = parse_image_resources(ps, source=where) if ps else []
    return resources, shape, where


@dataclass(frozen=True)
class EmbeddedPaths:
    """Paths read from an image file.

    Attributes
    ----------
    paths : tuple of Path
        Saved paths (resources 2000-2998) in file order.
    resource_ids : tuple of int
        The resource ID of each saved path.
    clipping_name : str or None
        Name of the clipping path (resource 2999), if any.
    working_path : Path or None
        Photoshop's unsaved "Work Path" (resource 1025), if any.
    shape : tuple of int
        ``(height, width)`` of the image.
    """

    paths: tuple
    resource_ids: tuple
    clipping_name: str | None
    working_path: Path | None
    shape: tuple

    @property
    def clipping_path(self) -> Path | None:
        for p in self.paths:
            if self.clipping_name is not None and p.name == self.clipping_name:
                return p
        return None


def read_paths(source) -> EmbeddedPaths:
    """Read the Photoshop paths embedded in a JPEG or TIFF file.

    Parameters
    ----------
    source : str, os.PathLike or bytes
        The file, or its bytes.

    Raises
    ------
    ImageReadError
        If the file cannot be read or is not a JPEG or TIFF.
    PathDataError
        If its path resources are malformed.
    """
    resources, (h, w), where = _resources_of(source)
    paths, ids = [], []
    clip = None
    working = None
    for r in resources:
        if r.signature != b"8BIM":
            continue
        if FIRST_PATH_ID <= r.id <= LAST_PATH_ID:
            name = _decode_name(r.name)
            try:
                paths.append(decode_path_resource(r.data, w, h, name=name, resource_id=r.id))
            except PathDataError as exc:
                raise PathDataError(f"{where}: {exc}") from None
            ids.append(r.id)
        elif r.id == WORKING_PATH_ID:
            try:
                working = decode_path_resource(r.data, w, h, name="Work Path", resource_id=r.id)
            except PathDataError as exc:
                raise PathDataError(f"{where}: {exc}") from None
        elif r.id == CLIPPING_NAME_ID:
            try:
                clip = decode_clipping_name(r.data)
            except PathDataError as exc:
                raise PathDataError(f"{where}: {exc}") from None
    return EmbeddedPaths(tuple(paths), tuple(ids), clip, working, (h, w))


@dataclass(frozen=True)
class PathInfo:
    """One line of :func:`list_paths`."""

    name: str
    resource_id: int
    subpaths: int
    nodes: int
    clipping: bool
    role: str

    def as_dict(self) -> dict:
        return {"name": self.name, "resource_id": self.resource_id, "subpaths": self.subpaths,
                "nodes": self.nodes, "clipping": self.clipping, "role": self.role}


def list_paths(image_path) -> list[PathInfo]:
    """Names, subpath and node counts of the paths embedded in a JPEG or TIFF.

    The saved paths come first, in file order, then Photoshop's unsaved
    working path if there is one. ``clipping`` marks the clipping path.
    """
    emb = read_paths(image_path)
    out = [PathInfo(p.name, rid, len(p), p.n_nodes, p.name == emb.clipping_name, p.role)
           for p, rid in zip(emb.paths, emb.resource_ids)]
    if emb.working_path is not None:
        p = emb.working_path
        out.append(PathInfo(p.name, WORKING_PATH_ID, len(p), p.n_nodes, False, p.role))
    return out


# ----------------------------------------------------------------------------- writers


def photoshop_resources_for_paths(paths, shape, clipping_name=None, *, existing=(),
                                  replace_paths=True, flatness=0.0) -> list[ImageResource]:
    """Resource blocks holding ``paths`` (and the clipping path name).

    Parameters
    ----------
    paths : iterable of Path
        Written as resources 2000, 2001, ... (after the existing ones when
        ``replace_paths`` is False). Each path's name is its resource name.
    shape : tuple of int
        ``(height, width)`` of the image.
    clipping_name : str, optional
        Must be the name of one of the paths; written as resource 2999.
    existing : iterable of ImageResource
        Resources already in the file; all non-path resources are kept.
    replace_paths : bool
        Drop the existing saved paths, working path and clipping name.
    flatness : float
        Clipping path flatness in device pixels (0 = device default).
    """
    h, w = int(shape[0]), int(shape[1])
    paths = list(paths)
    for i, p in enumerate(paths):
        if not isinstance(p, Path):
            raise ValueError(f"paths[{i}] must be a jewelmask.paths.Path, got {type(p).__name__}")
    names = [p.name for p in paths]
    if clipping_name is not None and clipping_name not in names:
        raise ValueError(f"clipping_name {clipping_name!r} is not the name of one of the paths {names}")
    existing = list(existing)
    if replace_paths:
        kept = [r for r in existing if not (r.is_path or r.id == CLIPPING_NAME_ID)]
        next_id = FIRST_PATH_ID
    else:
        kept = [r for r in existing if not (clipping_name is not None and r.id == CLIPPING_NAME_ID)]
        used = [r.id for r in existing if FIRST_PATH_ID <= r.id <= LAST_PATH_ID]
        next_id = max(used) + 1 if used else FIRST_PATH_ID
    if next_id + len(paths) - 1 > LAST_PATH_ID:
        raise ValueError(f"too many paths: at most {LAST_PATH_ID - FIRST_PATH_ID + 1} fit")
    new = [ImageResource(next_id + i, _encode_name(p.name), encode_path_resource(p, w, h))
           for i, p in enumerate(paths)]
    if clipping_name is not None:
        new.append(ImageResource(CLIPPING_NAME_ID, b"", encode_clipping_name(clipping_name, flatness)))
    return kept + new


def photoshop_app13_payloads(resource_bytes: bytes) -> list[bytes]:
    """APP13 payloads (after the length field) carrying a resource section.

    Blocks are packed whole into segments where they fit, so each segment is
    also readable on its own; a block longer than one segment continues in the
    next (readers concatenate the payloads after the ``Photoshop 3.0`` header).
    Use with ``jewelmask.io.write_jpeg(..., app_segments=[(0xED, p) ...])``.
    """
    blocks = []
    data = bytes(resource_bytes)
    # split at block boundaries
    pos = 0
    for r in parse_image_resources(data):
        size = len(build_image_resources([r]))
        blocks.append(data[pos:pos + size])
        pos += size
    payloads, cur = [], b""
    for b in blocks:
        if len(cur) + len(b) <= _APP13_DATA_MAX:
            cur += b
            continue
        if cur:
            payloads.append(cur)
            cur = b""
        while len(b) > _APP13_DATA_MAX:
            payloads.append(b[:_APP13_DATA_MAX])
            b = b[_APP13_DATA_MAX:]
        cur = b
    if cur:
        payloads.append(cur)
    return [PHOTOSHOP_APP13_HEADER + p for p in payloads]


def embed_paths_jpeg(jpeg_bytes: bytes, paths, clipping_name: str | None = None, *,
                     replace_paths: bool = True, flatness: float = 0.0) -> bytes:
    """Return the JPEG with ``paths`` stored as Photoshop paths in APP13.

    Parameters
    ----------
    jpeg_bytes : bytes
        A complete JPEG file. Its pixels and every other segment are kept
        byte for byte; the image size comes from its frame header.
    paths : iterable of Path
        In pixel coordinates of this image.
    clipping_name : str, optional
        Name of the path to mark as the clipping path.
    replace_paths : bool
        Replace the paths already embedded (default) or add to them. Other
        Photoshop resources already there (IPTC, resolution, ...) are kept.
    flatness : float
        Clipping path flatness in device pixels (0 = device default).

    Raises
    ------
    ValueError
        If `jpeg_bytes` is not a JPEG, or for bad `paths` / `clipping_name`.
    PathDataError
        If the existing Photoshop resources are malformed (nothing is
        dropped silently).
    """
    data = bytes(jpeg_bytes)
    try:
        segs, shape, ps = _jpeg_info(data)
    except ImageReadError as exc:
        raise ValueError(f"jpeg_bytes: {exc}") from None
    if shape is None or segs[-1][0] != 0xDA:
        raise ValueError("jpeg_bytes: no frame header (SOF) and image data (SOS) found")
    existing = parse_image_resources(ps, source="existing APP13") if ps else []
    resources = photoshop_resources_for_paths(paths, shape, clipping_name, existing=existing,
                                              replace_paths=replace_paths, flatness=flatness)
    payloads = photoshop_app13_payloads(build_image_resources(resources)) if resources else []
    new_segs = b"".join(b"\xff\xed" + struct.pack(">H", len(p) + 2) + p for p in payloads)
    is_ps = [m == 0xED and data[p0:p0 + len(PHOTOSHOP_APP13_HEADER)] == PHOTOSHOP_APP13_HEADER
             for m, _s, p0, _e in segs]
    if any(is_ps):
        insert_at = segs[is_ps.index(True)][1]
    else:
        insert_at = 2
        for m, _s, _p0, end in segs:
            if m in (0xE0, 0xE1, 0xE2):
                insert_at = end
            else:
                break
    out = bytearray(data[:insert_at]) + new_segs
    pos = insert_at
    for (m, s, _p0, end), ps_seg in zip(segs, is_ps):
        if ps_seg and s >= insert_at:
            out += data[pos:s]
            pos = end
    out += data[pos:]
    return bytes(out)


def tiff_with_paths(rgb, paths, clipping_name: str | None = None, *,
                    compression: str = "tiff_lzw", flatness: float = 0.0) -> bytes:
    """Encode an 8-bit RGB (or greyscale) TIFF carrying Photoshop paths in tag 34377.

    Parameters
    ----------
    rgb : ndarray, shape (H, W, 3) or (H, W), uint8
    paths, clipping_name, flatness
        As for :func:`embed_paths_jpeg`.
    compression : str
        A Pillow TIFF compression (``"tiff_lzw"``, ``"raw"``, ...).
    """
    from PIL import Image, TiffImagePlugin

    a = np.asarray(rgb)
    if a.dtype != np.uint8 or a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] != 3):
        raise ValueError(f"rgb must be uint8 of shape (H, W, 3) or (H, W), got {a.dtype} {a.shape}")
    resources = photoshop_resources_for_paths(paths, a.shape[:2], clipping_name, flatness=flatness)
    ifd = TiffImagePlugin.ImageFileDirectory_v2()
    ifd[TIFF_TAG_PHOTOSHOP] = build_image_resources(resources)
    ifd.tagtype[TIFF_TAG_PHOTOSHOP] = 1  # BYTE, as libtiff declares it
    buf = BytesIO()
    Image.fromarray(a).save(buf, format="TIFF", tiffinfo=ifd, compression=compression)
    return buf.getvalue()


def write_tiff_with_paths(path, rgb, paths, clipping_name: str | None = None, **kwargs):
    """Write :func:`tiff_with_paths` to ``path`` atomically; returns ``path``."""
    from ..io import atomic_write

    data = tiff_with_paths(rgb, paths, clipping_name, **kwargs)
    with atomic_write(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
    return path

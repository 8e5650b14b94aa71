"""The editor bridge: jewelmask.worker (engine side) and bridge_client (stdlib side).

Fast tests in this venv: the client starts real workers (``python -m
jewelmask.worker``, one per command or persistent) on small images and the
answers are compared with ``run_op`` + ``combine_masks`` in this process.
Also the install-gimp folder rules.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from jewelmask import worker
from jewelmask.ops import OPS, combine_masks, run_op

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


bc = _load("bridge_client", ROOT / "core" / "jewelmask" / "bridge_client.py")
installer = _load("gimp_installer", ROOT / "install" / "gimp_installer.py")

CHEAP = next(name for name, op in OPS.items() if not op.needs)  # no model, no paths


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    """A persistent worker on this venv's python, shared by the module's tests."""
    tmp = tmp_path_factory.mktemp("engine")
    eng = bc.Engine([PY], persistent=True, idle=120, tmpdir=str(tmp / "pix"), socket_dir=str(tmp))
    yield eng
    eng.stop()


@pytest.fixture
def one_shot(tmp_path):
    """A new worker per command (as on Windows), started with this test's environment."""
    return bc.Engine([PY], persistent=False, tmpdir=str(tmp_path / "pix"))


def scene(h=48, w=64, channels=3):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.empty((h, w, 3), np.float32)
    img[...] = 0.92
    ring = np.abs(np.hypot(xx - w / 2, yy - h / 2) - h / 4) < 3
    img[ring] = (0.8, 0.6, 0.2)
    img[..., 2] += 0.02 * xx / w
    if channels == 4:
        img = np.concatenate([img, np.ones((h, w, 1), np.float32)], axis=2)
    elif channels in (1, 2):
        grey = img[..., :1]
        img = grey if channels == 1 else np.concatenate([grey, np.ones((h, w, 1), np.float32)], 2)
    return img


def as_dtype(img, dtype):
    if dtype == "u8":
        return np.rint(img * 255).astype(np.uint8)
    if dtype == "u16":
        return np.rint(img * 65535).astype(np.uint16)
    return img.astype(np.float32)


def raw(a, dtype):
    a = np.ascontiguousarray(a)
    if a.ndim == 2:
        a = a[:, :, None]
    return bc.RawImage(a.astype(a.dtype.newbyteorder("<")).tobytes(), a.shape[1], a.shape[0],
                       a.shape[2], dtype)


def plane(r: "bc.RawImage") -> np.ndarray:
    dt = {"u8": np.uint8, "u16": np.uint16, "f32": np.float32}[r.dtype]
    a = np.frombuffer(r.data, dtype=np.dtype(dt).newbyteorder("<")).reshape(r.height, r.width)
    return a.astype(np.float32) / np.float32({"u8": 255, "u16": 65535, "f32": 1}[r.dtype])


def engine_float(a):
    f = a.astype(np.float32)
    if a.dtype != np.float32:
        f /= np.float32(np.iinfo(a.dtype).max)
    if f.shape[2] == 1:
        f = np.repeat(f, 3, axis=2)
    elif f.shape[2] == 2:
        f = np.concatenate([np.repeat(f[..., :1], 3, axis=2), f[..., 1:]], axis=2)
    return f


# --- the client is standard library only ----------------------------------------


def _imports(path):
    tree = ast.parse(Path(path).read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_bridge_client_imports_only_the_standard_library():
    assert _imports(ROOT / "core" / "jewelmask" / "bridge_client.py") <= set(sys.stdlib_module_names)


def test_gimp_plugin_imports_only_stdlib_gi_and_the_client():
    extra = _imports(ROOT / "gimp_plugin" / "jewelmask" / "jewelmask.py") - set(sys.stdlib_module_names)
    assert extra <= {"gi", "bridge_client"}


def test_bridge_client_runs_without_numpy(tmp_path):
    """Import and use the client in a Python that cannot import numpy."""
    blocker = tmp_path / "numpy"
    blocker.mkdir()
    (blocker / "__init__.py").write_text("raise ImportError('no numpy here')\n")
    code = ("import sys; sys.path[:0] = [%r, %r]; import bridge_client as b; "
            "e = b.Engine([%r], persistent=False); print(len(e.describe()['ops']))"
            % (str(tmp_path), str(ROOT / "core" / "jewelmask"), PY))
    out = subprocess.run([PY, "-I", "-c", code], capture_output=True, text=True, check=True)
    assert int(out.stdout) == len(OPS)


# --- describing and running ---------------------------------------------------


def test_describe_lists_every_op_with_its_params(one_shot):
    d = one_shot.describe()
    assert [o["name"] for o in d["ops"]] == list(OPS)
    assert d["modes"] == ["replace", "add", "subtract", "intersect"]
    for o in d["ops"]:
        op = OPS[o["name"]]
        assert o["default_mode"] == op.default_mode
        assert [p["name"] for p in o["params"]] == [p.name for p in op.params]
        json.dumps(o)  # plain JSON all the way down


def test_one_worker_per_command_gives_the_same_answer(engine, one_shot):
    img = raw(as_dtype(scene(), "u16"), "u16")
    a, b = engine.run(CHEAP, img), one_shot.run(CHEAP, img)
    assert a.mask.data == b.mask.data and a.mask.dtype == "u8"


@pytest.mark.parametrize("dtype", ["u8", "u16", "f32"])
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_run_matches_engine_for_every_sample_type(engine, dtype, channels):
    img = as_dtype(scene(channels=channels), dtype)
    res = engine.run(CHEAP, raw(img, dtype), mask_dtype=dtype)
    want = combine_masks(None, run_op(CHEAP, engine_float(img)).mask, OPS[CHEAP].default_mode)
    assert res.mask.dtype == dtype and (res.mask.width, res.mask.height) == (64, 48)
    step = {"u8": 1 / 255, "u16": 1 / 65535, "f32": 0.0}[dtype]
    assert float(np.abs(plane(res.mask) - want).max()) <= step / 2 + 1e-6  # rounded, nothing more
    assert set(res.channels) and all(c.dtype == dtype for c in res.channels.values())
    assert res.seconds["total"] >= res.seconds["op"] >= 0


@pytest.mark.parametrize("mode", ["replace", "add", "subtract", "intersect"])
def test_old_mask_and_selection_are_combined_by_mode(engine, mode):
    img = as_dtype(scene(), "u8")
    old = np.tile(np.linspace(0, 1, 64, dtype=np.float32), (48, 1))
    sel = np.zeros((48, 64), np.float32)
    sel[10:40, 8:50] = 1
    sel[10:40, 8] = 0.5
    old8, sel8 = as_dtype(old, "u8"), as_dtype(sel, "u8")
    res = engine.run(CHEAP, raw(img, "u8"), mode=mode, old_mask=raw(old8, "u8"),
                     selection=raw(sel8, "u8"), mask_dtype="f32")
    o, s = old8 / np.float32(255), sel8 / np.float32(255)
    new = run_op(CHEAP, engine_float(img), mask=o, selection=s).mask
    want = combine_masks(o, new, mode, selection=s)
    assert float(np.abs(plane(res.mask) - want).max()) < 1e-6


def test_params_and_colour_text(engine):
    name = next((n for n, op in OPS.items() if any(p.kind == "colours" for p in op.params)), None)
    if name is None:
        pytest.skip("no operation takes colours")
    p = next(p for p in OPS[name].params if p.kind == "colours")
    # one parser for the worker and both editors' text fields: the stdlib bridge's
    assert bc.parse_colours("#d4af37 #B76E79") == [(212, 175, 55), (183, 110, 121)]
    assert bc.parse_colours("212,175,55; 183,110.4,121") == [(212, 175, 55), (183, 110, 121)]
    assert bc.parse_colours("") == []
    for bad in ("gold", "300,0,0", "1,2", "#12345g"):
        with pytest.raises(ValueError, match="colours must be like"):
            bc.parse_colours(bad)
    assert bc.format_colours([(212, 175, 55), (183.4, 110, 121)]) == "#d4af37 #b76e79"
    assert bc.parse_colours(bc.format_colours([(1, 2, 3)])) == [(1, 2, 3)]
    got = worker.coerce_params(OPS[name], {p.name: "#d4af37 10,20,30"})
    assert OPS[name].check_params(got)[p.name] == ((212, 175, 55), (10, 20, 30))


def test_bad_requests_get_clear_errors(engine):
    img = raw(as_dtype(scene(), "u8"), "u8")
    with pytest.raises(bc.EngineFailed, match="unknown operation 'nope'"):
        engine.run("nope", img)
    p = OPS[CHEAP].params[0]
    with pytest.raises(bc.EngineFailed, match=p.name):
        engine.run(CHEAP, img, params={p.name: "not-a-value-" * 3})
    with pytest.raises(bc.EngineFailed, match="takes no parameter"):
        engine.run(CHEAP, img, params={"no_such_param": 1})
    with pytest.raises(bc.EngineFailed, match="mode must be one of"):
        engine.run(CHEAP, img, mode="xor")
    with pytest.raises(ValueError, match="needs"):
        bc.RawImage(b"123", 2, 2, 1, "u8")


def test_protocol_level_errors_are_answers(tmp_path):
    """Raw protocol: bad JSON, unknown commands and short files get error answers."""
    (tmp_path / "x.raw").write_bytes(b"\0" * 10)
    reqs = [b"not json\n", b'{"cmd": "frobnicate"}\n',
            json.dumps({"cmd": "run", "op": CHEAP, "out_dir": str(tmp_path),
                        "image": {"path": str(tmp_path / "x.raw"), "width": 4, "height": 4,
                                  "channels": 3, "dtype": "u8"}}).encode() + b"\n",
            b'{"cmd": "hello"}\n']
    out = subprocess.run([PY, "-m", "jewelmask.worker"], input=b"".join(reqs), capture_output=True,
                         check=True, timeout=120).stdout.decode().splitlines()
    answers = [json.loads(line) for line in out]
    assert [a["type"] for a in answers] == ["error", "error", "error", "hello"]
    assert "not a JSON" in answers[0]["message"] and "frobnicate" in answers[1]["message"]
    assert "holds 10 bytes" in answers[2]["message"]
    assert answers[3]["protocol"] == worker.PROTOCOL


def test_paths_are_moved_by_the_layer_offset(engine):
    name = next((n for n, op in OPS.items() if "paths" in op.needs), None)
    if name is None:
        pytest.skip("no operation takes paths")
    img = as_dtype(scene(), "u8")
    square = [[x, y] * 3 for x, y in ((110, 210), (140, 210), (140, 230), (110, 230))]
    paths = [{"format": "gimp", "name": "stone", "strokes": [[sum(square, []), True]]}]
    res = engine.run(name, raw(img, "u8"), paths=paths, offset=(100, 200), mask_dtype="f32",
                     mode="replace")
    m = plane(res.mask)
    assert m[10:30, 10:40].min() > 0.99 and m[:9].max() < 0.01 and m[:, 41:].max() < 0.01


# --- progress, cancelling, the environment ---------------------------------------


@pytest.mark.model
def test_progress_is_forwarded_and_false_cancels(engine):
    img = raw(as_dtype(scene(96, 128), "u8"), "u8")
    seen = []
    res = engine.run("ai-remove", img, params={"tile_budget": 2}, progress=seen.append)
    assert res.mask is not None and seen and seen[-1] == 1.0 and seen == sorted(seen)
    with pytest.raises(bc.Cancelled):
        engine.run("ai-remove", img, params={"tile_budget": 2}, progress=lambda f: False)


def test_missing_model_says_what_to_run(one_shot, monkeypatch, tmp_path):
    monkeypatch.setenv("U2NET_HOME", str(tmp_path / "empty"))
    with pytest.raises(bc.EngineFailed, match="jewelmask models fetch u2netp") as err:
        one_shot.run("ai-remove", raw(as_dtype(scene(), "u8"), "u8"))
    assert err.value.kind == "ModelUnavailableError"


def test_worker_ends_when_the_client_goes_away(tmp_path):
    img = as_dtype(scene(), "u8")
    (tmp_path / "i.raw").write_bytes(img.tobytes())
    p = subprocess.Popen([PY, "-m", "jewelmask.worker"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    p.stdin.write(json.dumps({"cmd": "run", "op": CHEAP, "out_dir": str(tmp_path),
                              "image": {"path": str(tmp_path / "i.raw"), "width": 64, "height": 48,
                                        "channels": 3, "dtype": "u8"}}).encode() + b"\n")
    p.stdin.close()  # the client is killed
    try:
        assert p.wait(timeout=60) == 0
    finally:
        p.stdout.close()


def test_find_engine_says_what_to_run(tmp_path, monkeypatch):
    monkeypatch.delenv("JEWELMASK_PYTHON", raising=False)
    with pytest.raises(bc.EngineMissing, match=r"no .*jewelmask-engine.json.*Run `install/install-gimp`"):
        bc.find_engine(str(tmp_path), setup="install/install-gimp")
    (tmp_path / bc.CONFIG_NAME).write_text(json.dumps({"python": "/nonexistent/bin/python",
                                                      "setup": "/x/install/install-gimp --dev"}))
    with pytest.raises(bc.EngineMissing, match=r"/nonexistent/bin/python .*does not exist.*"
                                                r"`/x/install/install-gimp --dev`"):
        bc.find_engine(str(tmp_path))
    (tmp_path / bc.CONFIG_NAME).write_text("{broken")
    with pytest.raises(bc.EngineMissing, match="cannot be read"):
        bc.find_engine(str(tmp_path))
    (tmp_path / bc.CONFIG_NAME).write_text(json.dumps({"python": PY}))
    assert bc.find_engine(str(tmp_path)).command == [PY]
    monkeypatch.setenv("JEWELMASK_PYTHON", "/also/missing/python")
    with pytest.raises(bc.EngineMissing, match="named by JEWELMASK_PYTHON"):
        bc.find_engine(str(tmp_path))
    (tmp_path / bc.CONFIG_NAME).write_text(json.dumps({"command": ["flatpak-spawn", "--host", PY]}))
    monkeypatch.delenv("JEWELMASK_PYTHON")
    if __import__("shutil").which("flatpak-spawn"):
        assert bc.find_engine(str(tmp_path)).persistent is False


def test_a_python_without_jewelmask_says_what_to_run(tmp_path):
    bare = tmp_path / "bare"
    subprocess.run([PY, "-m", "venv", "--without-pip", str(bare)], check=True)
    eng = bc.Engine([str(bare / "bin" / "python")], persistent=False, hint="Run `install/install-gimp`.")
    with pytest.raises(bc.EngineMissing, match="No module named.*install/install-gimp"):
        eng.describe()
    with pytest.raises(bc.EngineMissing, match="No module named.*install/install-gimp"):
        eng.run(CHEAP, raw(as_dtype(scene(), "u8"), "u8"))


# --- the persistent worker --------------------------------------------------------


def test_persistent_worker_is_reused_then_stops(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    eng = bc.Engine([PY], persistent=True, idle=30, tmpdir=str(tmp_path / "pix"))
    img = raw(as_dtype(scene(), "u8"), "u8")
    try:
        pid = eng.hello()["pid"]
        a = eng.run(CHEAP, img)
        b = eng.run(CHEAP, img)
        assert eng.hello()["pid"] == pid and a.mask.data == b.mask.data
        sock = eng._socket_path()
        assert os.path.exists(sock) and oct(os.stat(sock).st_mode & 0o777) == "0o600"
    finally:
        eng.stop()
    deadline = time.time() + 10
    while os.path.exists(sock) and time.time() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(sock)
    assert eng.hello()["pid"] != pid  # a new one starts on demand
    eng.stop()
    assert not list((tmp_path / "pix").iterdir())  # no pixel files left behind


def test_persistent_worker_leaves_when_idle(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    eng = bc.Engine([PY], persistent=True, idle=0.5)
    eng.hello()
    sock = eng._socket_path()
    deadline = time.time() + 15
    while os.path.exists(sock) and time.time() < deadline:
        time.sleep(0.1)
    assert not os.path.exists(sock)


# --- install-gimp folder rules -----------------------------------------------------


@pytest.mark.parametrize("platform,env,profile,engine_dir", [
    ("linux", {}, "/h/.config/GIMP/3.0", "/h/.local/share/jewelmask/engine"),
    ("linux", {"XDG_CONFIG_HOME": "/c", "XDG_DATA_HOME": "/d"}, "/c/GIMP/3.0", "/d/jewelmask/engine"),
    ("linux", {"GIMP3_DIRECTORY": "/p"}, "/p", "/h/.local/share/jewelmask/engine"),
    ("darwin", {}, "/h/Library/Application Support/GIMP/3.0",
     "/h/Library/Application Support/jewelmask/engine"),
    ("win32", {"APPDATA": "/a", "LOCALAPPDATA": "/l"}, "/a/GIMP/3.0", "/l/jewelmask/engine"),
])
def test_install_gimp_folders(platform, env, profile, engine_dir):
    assert installer.gimp_profile(platform, env, "/h") == Path(profile)
    assert installer.default_engine_dir(platform, env, "/h") == Path(engine_dir)


def test_install_gimp_flatpak_profile():
    assert installer.gimp_profile("linux", {}, "/h", flatpak=True) == \
        Path("/h/.var/app/org.gimp.GIMP/config/GIMP/3.0")


def test_install_gimp_places_the_plugin(tmp_path, monkeypatch):
    """The plug-in step on this venv's python (no new environment): copy, then --dev links."""
    for dev in (False, True):
        monkeypatch.setattr(sys, "argv", ["install-gimp"])
        rc = installer.main(["--profile", str(tmp_path / "prof"), "--python", PY, "--no-model"]
                            + (["--dev"] if dev else []))
        assert rc == 0
        dest = tmp_path / "prof" / "plug-ins" / "jewelmask"
        main = dest / "jewelmask.py"
        assert os.access(main, os.X_OK) and (dest / "bridge_client.py").exists()
        assert main.is_symlink() == dev
        cfg = json.loads((dest / "jewelmask-engine.json").read_text())
        assert cfg["python"] == PY and "install-gimp" in cfg["setup"]
        ops = json.loads((dest / "jewelmask-ops.json").read_text())["ops"]
        assert [o["name"] for o in ops] == list(OPS)
    assert installer.main(["--profile", str(tmp_path / "prof"), "--uninstall"]) == 0
    assert not dest.exists()


def test_an_op_that_makes_a_new_layer(tmp_path, monkeypatch):
    """The layer answer (decontaminate's shape), with a test-only op the worker
    registers from tests/editors/fake_ops."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT / "tests" / "editors" / "fake_ops"))
    sys.path.insert(0, str(ROOT / "tests" / "editors" / "fake_ops"))
    try:
        import jewelmask_test_ops as fake
    finally:
        sys.path.pop(0)
    eng = bc.Engine([PY], persistent=False, tmpdir=str(tmp_path))
    img = as_dtype(scene(), "u16")
    res = eng.run(fake.NAME, raw(img, "u16"), mask_dtype="u16")
    assert res.mask is None and res.layer.dtype == "f32" and res.layer.channels == 4
    got = np.frombuffer(res.layer.data, "<f4").reshape(48, 64, 4)
    np.testing.assert_array_equal(got, fake.new_layer(engine_float(img)).layer)
    assert list(res.channels) == ["jewelmask: test"] and res.info == {"test": True}

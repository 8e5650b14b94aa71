"""Install the jewelmask GIMP 3 plug-in and its engine. Standard library only.

Used by ``install/install-gimp`` (see its ``--help``); importable so the fast
tests can check the folder rules.

What it does, each step skipped when already done:

1. makes (or reuses) the engine's virtual environment (shared with the Krita
   plug-in) and installs jewelmask from this checkout into it with the AI
   backend (``--dev``: editable);
2. fetches the u2netp model when it is missing;
3. copies (``--dev``: links, file by file) the plug-in and the stdlib bridge
   client into ``PROFILE/plug-ins/jewelmask/``, and writes beside them
   ``jewelmask-engine.json`` (which python runs the engine) and
   ``jewelmask-ops.json`` (the engine's commands, so GIMP starts without
   asking the engine).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = "jewelmask"
SRC_PLUGIN = ROOT / "gimp_plugin" / PLUGIN
BRIDGE = ROOT / "core" / "jewelmask" / "bridge_client.py"
CONFIG_NAME = "jewelmask-engine.json"
MANIFEST_NAME = "jewelmask-ops.json"
FLATPAK_ID = "org.gimp.GIMP"
STAMP = ".jewelmask-gimp-installed"


def say(msg: str) -> None:
    print(f"[install-gimp] {msg}", flush=True)


def gimp_profile(platform: str | None = None, env=None, home: str | None = None,
                 flatpak: bool = False) -> Path:
    """The GIMP 3.0 profile folder GIMP itself would use.

    ``GIMP3_DIRECTORY`` wins, as in GIMP. Linux: ``$XDG_CONFIG_HOME/GIMP/3.0``
    (default ``~/.config/GIMP/3.0``); Flatpak: ``~/.var/app/org.gimp.GIMP/config/GIMP/3.0``;
    macOS: ``~/Library/Application Support/GIMP/3.0``; Windows: ``%APPDATA%\\GIMP\\3.0``.
    """
    platform = platform or sys.platform
    env = os.environ if env is None else env
    home = Path(home or env.get("HOME") or Path.home())
    if env.get("GIMP3_DIRECTORY") and not flatpak:
        return Path(env["GIMP3_DIRECTORY"])
    if flatpak:
        return home / ".var" / "app" / FLATPAK_ID / "config" / "GIMP" / "3.0"
    if platform.startswith("win"):
        return Path(env.get("APPDATA") or home / "AppData" / "Roaming") / "GIMP" / "3.0"
    if platform == "darwin":
        return home / "Library" / "Application Support" / "GIMP" / "3.0"
    return Path(env.get("XDG_CONFIG_HOME") or home / ".config") / "GIMP" / "3.0"


def default_engine_dir(platform: str | None = None, env=None, home: str | None = None) -> Path:
    """Where the engine environment goes by default (the Krita installer uses the same)."""
    platform = platform or sys.platform
    env = os.environ if env is None else env
    home = Path(home or env.get("HOME") or Path.home())
    if platform.startswith("win"):
        return Path(env.get("LOCALAPPDATA") or home / "AppData" / "Local") / "jewelmask" / "engine"
    if platform == "darwin":
        return home / "Library" / "Application Support" / "jewelmask" / "engine"
    return Path(env.get("XDG_DATA_HOME") or home / ".local" / "share") / "jewelmask" / "engine"


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def run(cmd, **kw):
    say("$ " + " ".join(shlex.quote(str(c)) for c in cmd))
    return subprocess.run([str(c) for c in cmd], check=True, **kw)


def _source_copy(dest: Path) -> Path:
    """What pip needs to build jewelmask, copied out of the checkout, so the
    build leaves no build/ or egg-info folders in it."""
    for name in ("pyproject.toml", "LICENSE", "README.md", "setup.cfg", "MANIFEST.in"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(ROOT / "core", dest / "core",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"))
    return dest


def make_engine(venv: Path, dev: bool, extras: str = "ai") -> Path:
    """Make (or update) the engine environment; returns its python."""
    py = venv_python(venv)
    if py.exists():
        try:
            subprocess.run([str(py), "-c", "import sys"], check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError):
            say(f"the engine environment {venv} is broken (its python does not run): making it again")
            shutil.rmtree(venv)
    if not py.exists():
        if sys.version_info < (3, 11):
            raise SystemExit(f"the engine needs Python 3.11 or newer; this is {sys.version.split()[0]}. "
                             "Run install-gimp with a newer python3 (python3.12 install/install-gimp).")
        say(f"creating the engine environment {venv}")
        import venv as _venv

        _venv.EnvBuilder(with_pip=True).create(venv)
    stamp = venv / STAMP
    want = json.dumps({"pyproject": (ROOT / "pyproject.toml").read_text(encoding="utf-8"),
                       "dev": dev, "root": str(ROOT), "extras": extras})
    same = stamp.exists() and stamp.read_text(encoding="utf-8") == want
    pip = [py, "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    if dev:
        if same:
            say(f"the engine in {venv} is this checkout already (editable)")
        else:
            run(pip + ["-e", f"{ROOT}[{extras}]" if extras else str(ROOT)])
    else:
        with tempfile.TemporaryDirectory(prefix="jewelmask-src-") as tmp:
            src = _source_copy(Path(tmp))
            if same:
                # dependencies are in place: refresh jewelmask's own files only
                run(pip + ["--no-deps", "--force-reinstall", str(src)])
            else:
                run(pip + [f"{src}[{extras}]" if extras else str(src)])
    stamp.write_text(want, encoding="utf-8")
    return py


def fetch_model(py: Path) -> bool:
    proc = subprocess.run([str(py), "-m", "jewelmask", "models", "fetch", "u2netp"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode == 0:
        say(f"AI model u2netp: {proc.stdout.strip().splitlines()[-1]}")
        return True
    say("could not fetch the u2netp model now (the AI commands will say so); later run: "
        f"{py} -m jewelmask models fetch u2netp\n  {proc.stdout.strip()[-500:]}")
    return False


def describe(command: list[str]) -> dict:
    proc = subprocess.run(command + ["-m", "jewelmask.worker", "--describe"],
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise SystemExit(f"the engine does not start: {proc.stderr.strip()[-800:]}")
    return json.loads(proc.stdout)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def install_plugin(profile: Path, link: bool, config: dict, manifest: dict) -> Path:
    """Put the plug-in into ``PROFILE/plug-ins/jewelmask``; returns that folder."""
    dest = profile / "plug-ins" / PLUGIN
    dest.parent.mkdir(parents=True, exist_ok=True)
    _remove(dest)
    dest.mkdir()
    sources = sorted(p for p in SRC_PLUGIN.iterdir() if p.suffix == ".py") + [BRIDGE]
    for src in sources:
        target = dest / src.name
        if link:
            try:
                target.symlink_to(src)
                continue
            except OSError as exc:  # Windows without developer mode
                say(f"cannot link {target} ({exc}); copying instead")
        shutil.copyfile(src, target)
    main = dest / f"{PLUGIN}.py"
    if os.name != "nt":
        os.chmod(main.resolve(), 0o755)  # GIMP runs only executable plug-ins
    (dest / CONFIG_NAME).write_text(json.dumps(config, indent=1) + "\n", encoding="utf-8")
    (dest / MANIFEST_NAME).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    os.utime(main)  # a new modification time makes GIMP query the plug-in again
    return dest


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="install/install-gimp",
        description="Install the jewelmask GIMP 3 plug-in (Layer > Mask > Jewelry Mask) and the "
                    "engine environment it runs in. Non-interactive; safe to run again.",
        epilog="Profile folders: Linux $XDG_CONFIG_HOME/GIMP/3.0 (default ~/.config/GIMP/3.0), "
               "Flatpak ~/.var/app/org.gimp.GIMP/config/GIMP/3.0, macOS ~/Library/Application "
               "Support/GIMP/3.0, Windows %%APPDATA%%\\GIMP\\3.0; GIMP3_DIRECTORY overrides, as in GIMP.")
    p.add_argument("--profile", type=Path, help="GIMP 3 profile folder (default: the user's, see below)")
    p.add_argument("--venv", type=Path, help="engine environment (default: %s)" % default_engine_dir())
    p.add_argument("--dev", action="store_true",
                   help="development mode: link the plug-in files to this checkout, install the engine editable")
    p.add_argument("--uninstall", action="store_true",
                   help="remove the plug-in (the engine environment and models are kept)")
    p.add_argument("--flatpak", action="store_true",
                   help="install into the Flatpak GIMP's profile; the engine runs on the host")
    p.add_argument("--python", type=Path,
                   help="use this existing engine python (jewelmask installed) instead of making an environment")
    p.add_argument("--no-model", action="store_true", help="do not fetch the u2netp model")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    profile = (args.profile or gimp_profile(flatpak=args.flatpak)).expanduser().absolute()
    dest = profile / "plug-ins" / PLUGIN
    if args.uninstall:
        if dest.exists() or dest.is_symlink():
            _remove(dest)
            say(f"removed {dest}")
        else:
            say(f"nothing to remove: {dest} does not exist")
        venv = (args.venv or default_engine_dir()).expanduser()
        say(f"kept the engine environment {venv} (the Krita plug-in may use it) and the AI models; "
            f"delete them by hand if nothing else needs them")
        return 0

    if args.python:
        py = args.python.expanduser().absolute()
        say(f"using the existing engine python {py}")
    else:
        venv = (args.venv or default_engine_dir()).expanduser().absolute()
        py = make_engine(venv, args.dev)
    if not args.no_model:
        fetch_model(py)
    setup = [str(Path(__file__).resolve().parent / "install-gimp")]
    for flag, value in (("--profile", args.profile), ("--venv", args.venv), ("--python", args.python)):
        if value:
            setup += [flag, str(Path(value).expanduser().absolute())]
    setup += [f for f, on in (("--dev", args.dev), ("--flatpak", args.flatpak)) if on]
    config = {"python": str(py), "setup": " ".join(shlex.quote(s) for s in setup),
              "dev": args.dev, "checkout": str(ROOT),
              "installed": datetime.datetime.now().isoformat(timespec="seconds")}
    command = [str(py)]
    if args.flatpak:
        # GIMP's sandbox cannot run the host's python directly; flatpak-spawn can,
        # once GIMP may talk to org.freedesktop.Flatpak. The pixel files go where
        # both sides see the same path; no persistent worker (different /run).
        config["command"] = ["flatpak-spawn", "--host", str(py)]
        config["tmpdir"] = str(Path.home() / ".var" / "app" / FLATPAK_ID / "cache" / "jewelmask")
        config["persistent"] = False
    manifest = describe(command)
    config["version"] = manifest.get("version")
    dest = install_plugin(profile, args.dev, config, manifest)
    names = [op["name"] for op in manifest["ops"]]
    say(f"engine: jewelmask {manifest.get('version')} in {py}")
    say(f"plug-in {'linked' if args.dev else 'copied'} into {dest}")
    say(f"commands ({len(names)}): " + ", ".join(f"plug-in-jewelmask-{n}" for n in names))
    say("in GIMP: Layer > Mask > Jewelry Mask, or right-click a layer in the Layers dock; "
        "restart GIMP if it is running")
    if args.flatpak:
        say("Flatpak: allow GIMP to start the engine on the host, once: "
            f"flatpak override --user --talk-name=org.freedesktop.Flatpak {FLATPAK_ID}")
    return 0

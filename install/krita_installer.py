"""Install the jewelmask Krita plug-in and its engine. Standard library only.

Used by ``install/install-krita`` (see its --help). Kept importable so the
fast tests can check the folder rules and the kritarc editing.

What it does:

1. makes (or reuses) the engine's virtual environment and installs jewelmask
   into it with the AI backend (``--dev``: editable, from this checkout);
2. copies (``--dev``: links) the pykrita package, the ``.desktop`` file and
   the stdlib bridge client into Krita's ``pykrita`` folder, the ``.action``
   file into Krita's ``actions`` folder, and writes ``jewelmask-engine.json``
   (which python runs the engine) next to the plug-in;
3. enables the plug-in: ``enable_jewelmask_krita=true`` under ``[python]`` in
   ``kritarc``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gimp_installer  # noqa: E402  (the shared engine-environment helpers)

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = "jewelmask_krita"
SRC_PACKAGE = ROOT / "krita_plugin" / PLUGIN
SRC_DESKTOP = ROOT / "krita_plugin" / (PLUGIN + ".desktop")
SRC_ACTION = ROOT / "krita_plugin" / (PLUGIN + ".action")
BRIDGE = ROOT / "core" / "jewelmask" / "bridge_client.py"
CONFIG_NAME = "jewelmask-engine.json"
FLATPAK_ID = "org.kde.krita"


def say(msg: str) -> None:
    print(f"[install-krita] {msg}", flush=True)


def krita_locations(platform: str | None = None, env=None, home: str | None = None,
                    flatpak: bool = False) -> dict:
    """Where Krita looks for Python plug-ins, actions and its settings.

    Returns a dict with ``pykrita``, ``actions``, ``kritarc`` and ``engine``
    (the default engine environment) as :class:`Path`. Linux (native and
    AppImage) honours ``XDG_DATA_HOME`` and ``XDG_CONFIG_HOME``; ``flatpak``
    gives the sandbox's own folders under ``~/.var/app/org.kde.krita``.
    """
    platform = platform or sys.platform
    env = os.environ if env is None else env
    home = Path(home or env.get("HOME") or Path.home())
    if flatpak:
        base = home / ".var" / "app" / FLATPAK_ID
        data, config = base / "data", base / "config"
        return {"pykrita": data / "krita" / "pykrita", "actions": data / "krita" / "actions",
                "kritarc": config / "kritarc",
                "engine": gimp_installer.default_engine_dir("linux", env, str(home))}
    if platform.startswith("win"):
        appdata = Path(env.get("APPDATA") or home / "AppData" / "Roaming")
        local = Path(env.get("LOCALAPPDATA") or home / "AppData" / "Local")
        return {"pykrita": appdata / "krita" / "pykrita", "actions": appdata / "krita" / "actions",
                "kritarc": local / "kritarc", "engine": gimp_installer.default_engine_dir(platform, env, str(home))}
    if platform == "darwin":
        support = home / "Library" / "Application Support"
        return {"pykrita": support / "krita" / "pykrita", "actions": support / "krita" / "actions",
                "kritarc": home / "Library" / "Preferences" / "kritarc",
                "engine": gimp_installer.default_engine_dir(platform, env, str(home))}
    data = Path(env.get("XDG_DATA_HOME") or home / ".local" / "share")
    config = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
    return {"pykrita": data / "krita" / "pykrita", "actions": data / "krita" / "actions",
            "kritarc": config / "kritarc", "engine": gimp_installer.default_engine_dir(platform, env, str(home))}


# --- kritarc ------------------------------------------------------------------


def set_kritarc_flag(text: str, key: str, value: str | None, section: str = "python") -> str:
    """`text` (a kritarc) with ``key=value`` under ``[section]``; value None removes it.

    Line-based so everything else in the file (Qt's INI quoting, comments,
    key case) is kept exactly.
    """
    lines = text.splitlines()
    header = f"[{section}]"
    start = next((i for i, ln in enumerate(lines) if ln.strip() == header), None)
    if start is None:
        if value is None:
            return text
        if lines and lines[-1].strip():
            lines.append("")
        lines += [header, f"{key}={value}"]
        return "\n".join(lines) + "\n"
    end = next((i for i in range(start + 1, len(lines)) if lines[i].strip().startswith("[")), len(lines))
    found = [i for i in range(start + 1, end) if lines[i].split("=", 1)[0].strip() == key]
    for i in reversed(found[1:]):
        del lines[i]
    if found:
        if value is None:
            del lines[found[0]]
        else:
            lines[found[0]] = f"{key}={value}"
    elif value is not None:
        insert = end
        while insert > start + 1 and not lines[insert - 1].strip():
            insert -= 1
        lines.insert(insert, f"{key}={value}")
    return "\n".join(lines) + "\n"


def edit_kritarc(path: Path, enable: bool) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    new = set_kritarc_flag(text, f"enable_{PLUGIN}", "true" if enable else None)
    if new != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".jewelmask-tmp")
        tmp.write_text(new, encoding="utf-8")
        os.replace(tmp, path)


# --- engine environment -----------------------------------------------------------


def krita_make_engine(venv: Path, dev: bool, extras: str = "ai", fetch_model: bool = True) -> Path:
    """Make (or update) the engine environment; returns its python.

    The same environment and code as the GIMP installer's (``gimp_installer``:
    one engine serves both editors).
    """
    py = gimp_installer.make_engine(venv, dev, extras=extras)
    if fetch_model:
        gimp_installer.fetch_model(py)
    return py


def describe_engine(command: list[str]) -> dict:
    return gimp_installer.describe(command)


# --- plug-in files ---------------------------------------------------------------


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def _place(src: Path, dst: Path, link: bool) -> None:
    _remove(dst)
    if link:
        dst.symlink_to(src)
    else:
        shutil.copy2(src, dst)


def install_plugin(loc: dict, link: bool, engine_config: dict) -> Path:
    """Put the plug-in into Krita's folders; returns the package folder."""
    pykrita, actions = loc["pykrita"], loc["actions"]
    pykrita.mkdir(parents=True, exist_ok=True)
    actions.mkdir(parents=True, exist_ok=True)
    dest = pykrita / PLUGIN
    _remove(dest)
    dest.mkdir()
    for src in sorted(SRC_PACKAGE.glob("*.py")):
        _place(src, dest / src.name, link)
    _place(BRIDGE, dest / "bridge_client.py", link)
    _place(SRC_DESKTOP, pykrita / SRC_DESKTOP.name, link)
    _place(SRC_ACTION, actions / SRC_ACTION.name, link)
    (dest / CONFIG_NAME).write_text(json.dumps(engine_config, indent=1) + "\n", encoding="utf-8")
    return dest


def uninstall_plugin(loc: dict) -> list[Path]:
    removed = []
    for p in (loc["pykrita"] / PLUGIN, loc["pykrita"] / SRC_DESKTOP.name, loc["actions"] / SRC_ACTION.name):
        if p.exists() or p.is_symlink():
            _remove(p)
            removed.append(p)
    edit_kritarc(loc["kritarc"], enable=False)
    return removed


def main(argv=None) -> int:
    import argparse

    p = argparse.ArgumentParser(
        prog="install-krita",
        description="Install the jewelmask Krita plug-in (Jewelry Mask docker) and its engine.",
        epilog="Folders: Linux $XDG_DATA_HOME/krita/pykrita (default ~/.local/share) and "
               "$XDG_CONFIG_HOME/kritarc (default ~/.config); macOS ~/Library/Application Support/krita "
               "and ~/Library/Preferences/kritarc; Windows %%APPDATA%%\\krita and %%LOCALAPPDATA%%\\kritarc. "
               "See docs/krita.md.")
    p.add_argument("--venv", type=Path, help="engine environment (default: the data folder's jewelmask/engine)")
    p.add_argument("--dev", action="store_true",
                   help="development mode: link the plug-in files to this checkout and install the engine editable")
    p.add_argument("--uninstall", action="store_true",
                   help="remove the plug-in and disable it in kritarc (the engine environment is kept)")
    p.add_argument("--flatpak", action="store_true",
                   help="install into the Flatpak Krita's sandbox folders (the engine runs on the host)")
    p.add_argument("--pykrita", type=Path, help="override Krita's pykrita folder")
    p.add_argument("--kritarc", type=Path, help="override the kritarc file")
    p.add_argument("--no-model", action="store_true", help="do not fetch the u2netp model now")
    p.add_argument("--python", help="use this existing engine python instead of making an environment")
    args = p.parse_args(argv)

    loc = krita_locations(flatpak=args.flatpak)
    if args.pykrita:
        loc["pykrita"] = args.pykrita
        loc["actions"] = args.pykrita.parent / "actions"
    if args.kritarc:
        loc["kritarc"] = args.kritarc
    if args.uninstall:
        removed = uninstall_plugin(loc)
        for r in removed:
            say(f"removed {r}")
        say(f"disabled in {loc['kritarc']}")
        venv = args.venv or loc["engine"]
        if venv.exists():
            say(f"the engine environment {venv} is kept (the GIMP plug-in may use it); "
                f"delete that folder to remove it")
        return 0

    if args.python:
        py = Path(args.python)
    else:
        py = krita_make_engine((args.venv or loc["engine"]).absolute(), args.dev,
                               fetch_model=not args.no_model)
    command = [str(py)]
    config = {"python": str(py), "setup": f"{Path(__file__).resolve().parent / 'install-krita'}"
                                          + (" --dev" if args.dev else "")}
    if args.flatpak:
        config["command"] = ["flatpak-spawn", "--host", str(py)]
        config["tmpdir"] = str(Path.home() / ".cache" / "jewelmask-krita")
    manifest = describe_engine(command)
    names = [op["name"] for op in manifest.get("ops", [])]
    say(f"engine {py}: jewelmask {manifest.get('version')} with {', '.join(names)}")
    dest = install_plugin(loc, link=args.dev, engine_config=config)
    say(f"plug-in {'linked' if args.dev else 'copied'} into {dest}")
    edit_kritarc(loc["kritarc"], enable=True)
    say(f"enabled in {loc['kritarc']} ([python] enable_{PLUGIN}=true)")
    if args.flatpak:
        say("Flatpak: let Krita start the engine on the host once with: "
            f"flatpak override --user --talk-name=org.freedesktop.Flatpak {FLATPAK_ID}")
    say("restart Krita; the docker is in Settings > Dockers > Jewelry Mask")
    return 0


if __name__ == "__main__":
    sys.exit(main())

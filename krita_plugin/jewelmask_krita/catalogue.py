"""What the docker and the actions offer, built from the engine's op manifest.

STANDARD LIBRARY ONLY (no Krita, no Qt): the docker, the actions and the
fast tests all read it.

The engine describes its operations (``python -m jewelmask.worker
--describe``: name, label, help, default_mode, needs and typed parameters).
The seven editor commands below have stable action ids whether or not the
installed engine has the operation yet; any further operation the engine
describes gets a docker section too, with no code change here.
"""

import json

#: (action id, engine op name, menu text) in the docker's order.
ACTIONS = (
    ("jewelmask_auto", "auto", "Auto Jewelry Mask"),
    ("jewelmask_ai_remove", "ai-remove", "AI Remove Background"),
    ("jewelmask_colour_range", "colour-range", "Chain Recovery (Colour Range)"),
    ("jewelmask_channel_mask", "channel-mask", "Channel Mask"),
    ("jewelmask_path_to_mask", "path-to-mask", "Path to Mask"),
    ("jewelmask_refine_edge", "refine-edge", "Refine Edge"),
    ("jewelmask_decontaminate", "decontaminate", "Decontaminate Colours"),
)

ACTION_FOR_OP = dict((op, aid) for aid, op, _ in ACTIONS)
MODES = ("replace", "add", "subtract", "intersect")

#: Operations fast enough to run again while a slider moves.
PREVIEW_OPS = ("colour-range", "channel-mask")

#: What each command says about its inputs, shown under its parameters.
HINTS = {
    "auto": "AI for the bulk, chains and prongs from the backdrop, gaps opened.",
    "colour-range": "Pick the metal with Krita's colour sampler, then 'Add colour'.",
    "path-to-mask": "Uses the shapes of the active (or topmost) vector layer.",
    "refine-edge": "Refines the layer's mask around its edge. The selection is the refine brush: "
                   "select what to re-evaluate however far from the edge (a missed link).",
    "decontaminate": "Writes the cleaned colours as a new layer above, with a copy of the mask; "
                     "the layer itself is not changed.",
}

#: Metal presets: the colour-range choice and typical colours a user can start from.
METAL_SWATCHES = {
    "yellow-gold": (212, 175, 55),
    "rose-gold": (183, 110, 121),
    "white-metal": (200, 200, 205),
}


class OpSpec(object):
    """One operation as the engine describes it (or a placeholder when it lacks it)."""

    def __init__(self, name, label, params=(), default_mode="replace", needs=(), help="",
                 available=True, writes="mask", selection_role="limits"):
        self.name, self.label, self.params = name, label, list(params)
        self.default_mode = default_mode if default_mode in MODES else "replace"
        self.needs, self.help, self.available = tuple(needs), help, available
        self.writes = writes if writes in ("mask", "layer") else "mask"
        self.selection_role = selection_role if selection_role in ("limits", "brush") else "limits"

    @property
    def action_id(self):
        return ACTION_FOR_OP.get(self.name) or "jewelmask_" + self.name.replace("-", "_")

    @property
    def previewable(self):
        return self.available and self.name in PREVIEW_OPS

    def param(self, name):
        for p in self.params:
            if p["name"] == name:
                return p
        return None

    def defaults(self):
        return dict((p["name"], p.get("default")) for p in self.params)

    def __repr__(self):
        return "OpSpec(%r, available=%r)" % (self.name, self.available)


def _clean_param(p):
    q = {"name": str(p["name"]), "kind": str(p.get("kind", "str")), "default": p.get("default"),
         "label": p.get("label") or p["name"], "minimum": p.get("minimum"),
         "maximum": p.get("maximum"), "choices": list(p.get("choices") or ()),
         "help": p.get("help") or ""}
    if q["kind"] == "colours":
        q["default"] = [list(c) for c in (q["default"] or ())]
    return q


def specs_from_manifest(manifest):
    """The docker's sections: the seven commands first, then any other operation.

    Parameters
    ----------
    manifest : dict or None
        The worker's ``ops`` answer, or None when the engine could not be asked.

    Returns
    -------
    list of OpSpec
        Operations the engine lacks have ``available=False`` and no parameters.
    """
    described = {}
    for op in (manifest or {}).get("ops") or ():
        try:
            described[op["name"]] = OpSpec(op["name"], op.get("label") or op["name"],
                                           [_clean_param(p) for p in op.get("params") or ()],
                                           op.get("default_mode", "replace"), op.get("needs") or (),
                                           op.get("help") or "", writes=op.get("writes", "mask"),
                                           selection_role=op.get("selection_role", "limits"))
        except (KeyError, TypeError):
            continue
    out = []
    for _aid, name, text in ACTIONS:
        out.append(described.pop(name, None) or OpSpec(name, text, available=False))
    out.extend(described[k] for k in sorted(described))
    return out


def unavailable_message(spec, version=None):
    """The line shown for an operation the installed engine does not have."""
    where = "the installed jewelmask engine" + (" (%s)" % version if version else "")
    return ("%s is not available yet: %s has no '%s' operation. Update jewelmask and run "
            "install/install-krita again." % (spec.label, where, spec.name))


def check_value(param, value):
    """`value` converted to the parameter's kind and clamped to its range.

    Raises ValueError naming the parameter for values that cannot be used.
    """
    kind, name = param["kind"], param["name"]
    try:
        if kind == "int":
            value = int(round(float(value)))
        elif kind == "float":
            value = float(value)
        elif kind == "bool":
            if isinstance(value, str):
                value = value.strip().lower() in ("1", "true", "yes", "on")
            value = bool(value)
        elif kind == "colours":
            value = [[int(round(float(v))) for v in c] for c in (value or ())]
            if any(len(c) != 3 or not all(0 <= v <= 255 for v in c) for c in value):
                raise ValueError
        elif kind == "choice":
            if value not in param["choices"]:
                raise ValueError
        else:
            value = "" if value is None else str(value)
    except (TypeError, ValueError):
        raise ValueError("%s: %r is not a valid %s" % (param["label"], value, kind))
    if kind in ("int", "float"):
        if param.get("minimum") is not None:
            value = max(value, type(value)(param["minimum"]))
        if param.get("maximum") is not None:
            value = min(value, type(value)(param["maximum"]))
    return value


class ParamStore(object):
    """The current parameter values and combine mode of every operation.

    ``save``/``load`` go through two callables (Krita's ``writeSetting`` and
    ``readSetting`` in the plug-in) so the last values survive a restart.
    """

    def __init__(self, specs=(), read=None, write=None):
        self._read, self._write = read, write
        self.values, self.modes, self.specs = {}, {}, {}
        self._explicit = set()  # operations whose mode the user chose
        self.set_specs(specs)

    def set_specs(self, specs):
        self.specs = dict((s.name, s) for s in specs)
        for s in specs:
            vals = self.values.setdefault(s.name, {})
            saved = self._load(s.name)
            for p in s.params:
                if p["name"] not in vals:
                    vals[p["name"]] = p["default"]
                    if p["name"] in saved.get("params", {}):
                        try:
                            vals[p["name"]] = check_value(p, saved["params"][p["name"]])
                        except ValueError:
                            pass
            for k in list(vals):
                if s.param(k) is None:
                    del vals[k]
            if s.name not in self._explicit:
                mode = saved.get("mode")
                self.modes[s.name] = mode if mode in MODES else s.default_mode

    def _load(self, name):
        if self._read is None:
            return {}
        try:
            data = json.loads(self._read(name) or "{}")
            return data if isinstance(data, dict) else {}
        except (ValueError, TypeError):
            return {}

    def save(self, name):
        if self._write is not None and name in self.values:
            self._write(name, json.dumps({"params": self.values[name], "mode": self.modes.get(name)}))

    def get(self, name):
        return dict(self.values.get(name, {}))

    def set(self, name, key, value):
        """Set one parameter (checked); returns the value stored."""
        spec = self.specs[name]
        p = spec.param(key)
        if p is None:
            raise ValueError("%s has no parameter %r" % (spec.label, key))
        value = check_value(p, value)
        self.values[name][key] = value
        return value

    def set_mode(self, name, mode):
        if mode not in MODES:
            raise ValueError("mode must be one of %s, got %r" % (", ".join(MODES), mode))
        self.modes[name] = mode
        self._explicit.add(name)

    def mode(self, name):
        spec = self.specs.get(name)
        return self.modes.get(name) or (spec.default_mode if spec else "replace")

    def reset(self, name):
        spec = self.specs[name]
        self.values[name] = spec.defaults()
        self.modes[name] = spec.default_mode


def slider_scale(param, steps=1000):
    """(minimum, maximum, factor) to put a float/int parameter on an integer slider."""
    lo = param.get("minimum")
    hi = param.get("maximum")
    lo = 0.0 if lo is None else float(lo)
    hi = (lo + 100.0) if hi is None else float(hi)
    if param["kind"] == "int":
        return int(lo), int(hi), 1.0
    span = hi - lo if hi > lo else 1.0
    factor = steps / span
    return int(round(lo * factor)), int(round(hi * factor)), factor


def decimals_for(param):
    hi = param.get("maximum")
    lo = param.get("minimum")
    if hi is None or lo is None:
        return 2
    span = float(hi) - float(lo)
    return 3 if span <= 1.0 else 2 if span <= 20 else 1

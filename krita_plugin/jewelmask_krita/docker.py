"""The "Jewelry Mask" docker: one section per engine operation, built from
the op manifest (so operations added to the engine later appear here).
Widgets only: everything they do goes through the :class:`Controller`."""

from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QFrame,
                             QHBoxLayout, QLabel, QLineEdit, QProgressBar, QPushButton,
                             QScrollArea, QSizePolicy, QSlider, QSpinBox, QToolButton,
                             QVBoxLayout, QWidget)

from . import catalogue
from .engine_link import load_bridge

TITLE = "Jewelry Mask"


def _pretty(choice):
    return str(choice).replace("-", " ").capitalize()


class ParamEditor(object):
    """One parameter's widget(s), kept in step with the controller's store."""

    def __init__(self, section, param):
        self.section, self.param = section, param
        self.ctrl = section.ctrl
        self.op = section.spec.name
        kind = param["kind"]
        self.slider = self.spin = self.combo = self.check = self.edit = None
        if kind in ("int", "float"):
            row = QWidget()
            lay = QHBoxLayout(row)
            lay.setContentsMargins(0, 0, 0, 0)
            lo, hi, self.factor = catalogue.slider_scale(param)
            self.slider = QSlider(Qt.Horizontal)
            self.slider.setRange(lo, hi)
            if kind == "int":
                self.spin = QSpinBox()
                self.spin.setRange(int(param["minimum"] if param["minimum"] is not None else -10 ** 6),
                                   int(param["maximum"] if param["maximum"] is not None else 10 ** 6))
            else:
                self.spin = QDoubleSpinBox()
                self.spin.setDecimals(catalogue.decimals_for(param))
                self.spin.setRange(float(param["minimum"] if param["minimum"] is not None else -1e6),
                                   float(param["maximum"] if param["maximum"] is not None else 1e6))
                self.spin.setSingleStep(10 ** -catalogue.decimals_for(param) * 10)
            self.spin.setKeyboardTracking(False)
            lay.addWidget(self.slider, 1)
            lay.addWidget(self.spin)
            self.slider.valueChanged.connect(self._slid)
            self.spin.valueChanged.connect(self._spun)
            self.widget = row
        elif kind == "bool":
            self.check = QCheckBox(param["label"])
            self.check.toggled.connect(lambda on: self._set(on))
            self.widget = self.check
        elif kind == "choice":
            self.combo = QComboBox()
            for c in param["choices"]:
                self.combo.addItem(_pretty(c), c)
            self.combo.currentIndexChanged.connect(lambda i: self._set(self.combo.itemData(i)))
            self.widget = self.combo
        elif kind == "colours":
            box = QWidget()
            v = QVBoxLayout(box)
            v.setContentsMargins(0, 0, 0, 0)
            self.edit = QLineEdit()
            self.edit.setPlaceholderText("#d4af37 #b76e79")
            self.edit.editingFinished.connect(self._edited)
            v.addWidget(self.edit)
            h = QHBoxLayout()
            pick = QPushButton("Pick")
            pick.setToolTip("Switch to the colour sampler: click the metal on the canvas")
            pick.clicked.connect(lambda checked=False: self.ctrl.pick_from_canvas())
            add = QPushButton("Add colour")
            add.setToolTip("Add the foreground colour to the sampled colours")
            add.clicked.connect(lambda checked=False: self.ctrl.add_foreground_colour(self.op, param["name"]))
            clear = QPushButton("Clear")
            clear.clicked.connect(lambda checked=False: self._set([]) or self.refresh())
            for b in (pick, add, clear):
                h.addWidget(b)
            v.addLayout(h)
            self.widget = box
        else:
            self.edit = QLineEdit()
            self.edit.editingFinished.connect(lambda: self._set(self.edit.text()))
            self.widget = self.edit
        tip = param.get("help") or ""
        if tip:
            self.widget.setToolTip(tip)
        self.refresh()

    def _set(self, value, preview=True):
        self.ctrl.set_param(self.op, self.param["name"], value, preview=preview)

    def _slid(self, ivalue):
        value = ivalue / self.factor if self.param["kind"] == "float" else ivalue
        self.spin.blockSignals(True)
        self.spin.setValue(value)
        self.spin.blockSignals(False)
        self._set(value)

    def _spun(self, value):
        self.slider.blockSignals(True)
        self.slider.setValue(int(round(value * self.factor)))
        self.slider.blockSignals(False)
        self._set(value)

    def _edited(self):
        try:
            self._set(load_bridge().parse_colours(self.edit.text()))
        except ValueError as exc:
            self.ctrl.say(str(exc), "error")

    def set_value(self, value):
        """Set the widget as a user would (signals fire, the preview follows)."""
        kind = self.param["kind"]
        if self.slider is not None:
            self.slider.setValue(int(round(float(value) * self.factor)))
        elif self.check is not None:
            self.check.setChecked(bool(value))
        elif self.combo is not None:
            self.combo.setCurrentIndex(self.combo.findData(value))
        elif kind == "colours":
            self.edit.setText(load_bridge().format_colours(value))
            self._edited()
        else:
            self.edit.setText(str(value))
            self._set(str(value))

    def refresh(self):
        value = self.ctrl.store.get(self.op).get(self.param["name"], self.param["default"])
        for w in (self.slider, self.spin, self.combo, self.check, self.edit):
            if w is not None:
                w.blockSignals(True)
        try:
            if self.slider is not None:
                self.slider.setValue(int(round(float(value) * self.factor)))
                self.spin.setValue(value)
            elif self.check is not None:
                self.check.setChecked(bool(value))
            elif self.combo is not None:
                self.combo.setCurrentIndex(max(0, self.combo.findData(value)))
            elif self.param["kind"] == "colours":
                self.edit.setText(load_bridge().format_colours(value or []))
            else:
                self.edit.setText("" if value is None else str(value))
        finally:
            for w in (self.slider, self.spin, self.combo, self.check, self.edit):
                if w is not None:
                    w.blockSignals(False)


class Section(QWidget):
    """A collapsible section for one operation."""

    def __init__(self, ctrl, spec, expanded=False):
        QWidget.__init__(self)
        self.ctrl, self.spec = ctrl, spec
        self.editors = {}
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(2)
        self.header = QToolButton()
        self.header.setText(spec.label)
        self.header.setCheckable(True)
        self.header.setChecked(expanded)
        self.header.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        self.header.setArrowType(Qt.DownArrow if expanded else Qt.RightArrow)
        self.header.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.header.setStyleSheet("QToolButton { border: none; font-weight: bold; text-align: left; }")
        self.header.toggled.connect(self._toggle)
        outer.addWidget(self.header)
        self.body = QFrame()
        self.body.setFrameShape(QFrame.StyledPanel)
        form = QFormLayout(self.body)
        form.setContentsMargins(6, 4, 6, 4)
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        if spec.help or catalogue.HINTS.get(spec.name):
            hint = QLabel(catalogue.HINTS.get(spec.name) or spec.help)
            hint.setWordWrap(True)
            hint.setStyleSheet("font-style: italic;")
            form.addRow(hint)
        self.mode = None
        self.preview = None
        self.apply = QPushButton("Apply")
        self.apply.setObjectName("apply_" + spec.name)
        if not spec.available:
            msg = QLabel(catalogue.unavailable_message(spec, ctrl.link.version) if ctrl.link.manifest
                         else (ctrl.link.error or "Waiting for the jewelmask engine..."))
            msg.setWordWrap(True)
            form.addRow(msg)
            self.apply.setEnabled(False)
        else:
            for p in spec.params:
                ed = ParamEditor(self, p)
                self.editors[p["name"]] = ed
                form.addRow("" if p["kind"] == "bool" else p["label"], ed.widget)
            if spec.writes == "mask":  # a new layer combines with nothing
                self.mode = QComboBox()
                for m in catalogue.MODES:
                    self.mode.addItem(_pretty(m), m)
                self.mode.setToolTip("How the result combines with the layer's transparency mask "
                                     "(default for this command: %s)" % spec.default_mode)
                self.mode.currentIndexChanged.connect(
                    lambda i: ctrl.set_mode(spec.name, self.mode.itemData(i)))
                form.addRow("Combine", self.mode)
            self.refresh()
        buttons = QHBoxLayout()
        if spec.previewable:
            self.preview = QCheckBox("Live preview")
            self.preview.setChecked(ctrl.preview_enabled.get(spec.name, True))
            self.preview.setToolTip("Show the result on the canvas while a slider moves "
                                    "(Apply keeps it, Cancel removes it)")
            self.preview.toggled.connect(self._preview_toggled)
            buttons.addWidget(self.preview)
        buttons.addStretch(1)
        self.apply.setToolTip("Run %s on the active layer (action %s)" % (spec.label, spec.action_id))
        self.apply.clicked.connect(lambda checked=False: ctrl.run(spec.name))
        buttons.addWidget(self.apply)
        form.addRow(buttons)
        outer.addWidget(self.body)
        self.body.setVisible(expanded)

    def _toggle(self, on):
        self.header.setArrowType(Qt.DownArrow if on else Qt.RightArrow)
        self.body.setVisible(on)

    def _preview_toggled(self, on):
        self.ctrl.preview_enabled[self.spec.name] = on
        if not on and self.ctrl.preview is not None and self.ctrl.preview.op == self.spec.name:
            self.ctrl.end_preview()

    def refresh(self):
        for ed in self.editors.values():
            ed.refresh()
        if self.mode is not None:
            self.mode.blockSignals(True)
            self.mode.setCurrentIndex(max(0, self.mode.findData(self.ctrl.store.mode(self.spec.name))))
            self.mode.blockSignals(False)


class DockerPanel(QWidget):
    """The docker's contents (separate from the DockWidget so tests can build it alone)."""

    def __init__(self, ctrl, expanded=("auto",)):
        QWidget.__init__(self)
        self.ctrl = ctrl
        self.expanded = set(expanded)
        self.sections = {}
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        lay.addWidget(self.scroll, 1)
        self.preview_bar = QWidget()
        pb = QHBoxLayout(self.preview_bar)
        pb.setContentsMargins(0, 0, 0, 0)
        self.preview_label = QLabel("Preview")
        self.preview_apply = QPushButton("Apply preview")
        self.preview_apply.clicked.connect(lambda checked=False: ctrl.end_preview(apply=True))
        pb.addWidget(self.preview_label, 1)
        pb.addWidget(self.preview_apply)
        lay.addWidget(self.preview_bar)
        row = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.cancel = QPushButton("Cancel")
        self.cancel.clicked.connect(lambda checked=False: ctrl.cancel())
        row.addWidget(self.progress, 1)
        row.addWidget(self.cancel)
        lay.addLayout(row)
        self.status = QLabel()
        self.status.setObjectName("jewelmask_status")
        self.status.setWordWrap(False)
        self.status.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.status.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Fixed)
        lay.addWidget(self.status)
        self.build()
        ctrl.listeners.append(self.on_change)
        self.on_change("status")
        self.on_change("busy")

    def build(self):
        for s in self.sections.values():
            if s.header.isChecked():
                self.expanded.add(s.spec.name)
            else:
                self.expanded.discard(s.spec.name)
        inner = QWidget()
        v = QVBoxLayout(inner)
        v.setContentsMargins(0, 0, 0, 0)
        v.setSpacing(4)
        self.sections = {}
        for spec in self.ctrl.specs:
            sec = Section(self.ctrl, spec, expanded=spec.name in self.expanded)
            self.sections[spec.name] = sec
            v.addWidget(sec)
        v.addStretch(1)
        self.scroll.setWidget(inner)

    def on_change(self, what):
        c = self.ctrl
        if what == "specs":
            self.build()
        elif what == "params":
            for s in self.sections.values():
                s.refresh()
        elif what == "status":
            text = c.status or ""
            self.status.setText(text)
            self.status.setToolTip(text + (("\nLog: %s" % c.log_path) if c.log_path else ""))
            self.status.setStyleSheet("color: #d04040;" if c.level == "error" else "")
        busy = c.busy
        if c.progress is not None:
            self.progress.setValue(int(c.progress * 1000))
        elif not busy:
            self.progress.setValue(0)
        self.cancel.setEnabled(busy or c.preview is not None)
        for s in self.sections.values():
            s.apply.setEnabled(s.spec.available and not busy)
        self.preview_bar.setVisible(c.preview is not None)
        if c.preview is not None:
            self.preview_label.setText("Previewing %s on '%s'" % (c.spec(c.preview.op).label,
                                                                 c.preview.layer.name()))

    def set_value(self, op, name, value):
        """Drive a parameter's widget (tests, scripting)."""
        self.sections[op].editors[name].set_value(value)

    def closeEvent(self, event):
        try:
            self.ctrl.listeners.remove(self.on_change)
        except ValueError:
            pass
        QWidget.closeEvent(self, event)

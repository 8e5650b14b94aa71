"""Registration with Krita: the actions (stable ids, see ``catalogue.ACTIONS``)
and the "Jewelry Mask" docker. The one module that subclasses Krita's classes."""

import faulthandler
import logging
import os
import sys
import traceback

from krita import DockWidget, DockWidgetFactory, DockWidgetFactoryBase, Extension, Krita

from . import catalogue
from .controller import Controller
from .docker import TITLE, DockerPanel
from .engine_link import setup_logging

LOG = logging.getLogger("jewelmask_krita")
DOCKER_ID = "jewelmask_docker"
TEST_ENV = "JEWELMASK_KRITA_TEST"

#: The one controller of this Krita session (the actions and every window's docker share it).
CONTROLLER = None


def _log_path():
    path = os.environ.get("JEWELMASK_KRITA_LOG")
    if path:
        return path
    try:
        from PyQt5.QtCore import QStandardPaths

        base = QStandardPaths.writableLocation(QStandardPaths.AppDataLocation)
    except Exception:
        base = ""
    if not base:
        base = os.path.join(os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"), "krita")
    return os.path.join(base, "jewelmask-krita.log")


def controller():
    global CONTROLLER
    if CONTROLLER is None:
        log = setup_logging(_log_path())
        CONTROLLER = Controller(Krita.instance(), log_path=log)
        LOG.info("jewelmask for Krita %s starting", Krita.instance().version())
        CONTROLLER.connect()
    return CONTROLLER


class JewelMaskExtension(Extension):
    def __init__(self, parent):
        Extension.__init__(self, parent)
        self._hook = None

    def setup(self):
        ctrl = controller()
        script = os.environ.get(TEST_ENV)
        if script:
            self._arm_test(script, ctrl)

    def createActions(self, window):
        for aid, op, text in catalogue.ACTIONS:
            action = window.createAction(aid, text, "tools/scripts")
            # triggered(bool) passes `checked`: take it and drop it
            action.triggered.connect(lambda checked=False, op=op: controller().run(op))

    def _arm_test(self, script, ctrl):
        """Test mode only: run `script` once the first window exists, then the
        script ends Krita with os._exit. Exceptions in slots exit with 3 rather
        than opening Krita's modal error dialog."""
        from PyQt5.QtCore import QTimer

        def hook(*exc):
            traceback.print_exception(*exc)
            sys.stderr.flush()
            os._exit(3)

        sys.excepthook = hook
        faulthandler.enable()
        notifier = Krita.instance().notifier()
        notifier.setActive(True)

        def go(*_):
            if self._hook is None:
                return
            notifier.windowCreated.disconnect(self._hook)
            self._hook = None

            def run():
                with open(script) as f:
                    code = compile(f.read(), script, "exec")
                exec(code, {"__name__": "__jewelmask_test__", "CONTROLLER": ctrl, "EXTENSION": self})

            QTimer.singleShot(500, run)

        self._hook = go
        notifier.windowCreated.connect(self._hook)


class JewelMaskDocker(DockWidget):
    def __init__(self):
        DockWidget.__init__(self)
        self.setWindowTitle(TITLE)
        self.panel = DockerPanel(controller())
        self.setWidget(self.panel)

    def canvasChanged(self, canvas):
        pass


def register():
    app = Krita.instance()
    app.addExtension(JewelMaskExtension(app))
    app.addDockWidgetFactory(DockWidgetFactory(DOCKER_ID, DockWidgetFactoryBase.DockRight, JewelMaskDocker))

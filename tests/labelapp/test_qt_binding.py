"""The Qt binding itself: PySide6 6.12.0 leaked references to None until the process aborted."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap


def test_many_qt_calls_keep_none_alive() -> None:
    code = textwrap.dedent("""
        import sys
        from PySide6.QtWidgets import QApplication, QWidget
        app = QApplication([])
        widget = QWidget()
        before = sys.getrefcount(None)
        for _ in range(30000):
            app.processEvents()
            widget.update()
        print(sys.getrefcount(None) - before)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert abs(int(result.stdout.strip())) < 1000

"""What a serving process loads: libraries used only by the command line or by a rare request
(migrations, image re-encoding, calendars) are imported when first used, which keeps an idle
island under its memory target (benchmarks/memory.py measures it)."""

import subprocess
import sys

LOADED_ON_FIRST_USE = ["alembic", "mako", "pygments", "PIL", "icalendar"]


def test_the_web_application_imports_no_library_it_uses_only_on_demand():
    script = ("import sys, web.app, web.cli\n"
              f"print(' '.join(name for name in {LOADED_ON_FIRST_USE!r} if name in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True, timeout=60).stdout.split()
    assert loaded == []

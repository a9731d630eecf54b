"""Imported first by each operator script: `python scripts/<name>.py` puts scripts/ on the
path, not the repository root, so the packages the script needs are put within reach here."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

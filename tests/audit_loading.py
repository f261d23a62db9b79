"""Loading files while Python's audit hooks watch: proof that a loader runs no code named by a
file (no unpickling, exec, import, process or library launch)."""
import os
import subprocess
import sys

import fastcnn

_SCRIPT = """
import sys, warnings
warnings.simplefilter("ignore")
from fastcnn.models import load_model
load_model(sys.argv[1])     # imports everything a load needs, before the watch
events = []
# ("compile" is not watched: NumPy parses .npy headers with ast.literal_eval, which compiles
# the header but never runs it)
WATCHED = {"pickle.find_class", "exec", "os.system", "subprocess.Popen", "os.exec",
           "os.posix_spawn", "os.fork", "ctypes.dlopen", "import", "marshal.loads"}
sys.addaudithook(lambda event, args: events.append(event) if event in WATCHED else None)
results = []
for path in sys.argv[2:]:
    try:
        load_model(path)
        results.append("loaded")
    except ValueError:
        results.append("ValueError")
print(" ".join(results))
print("events:", sorted(set(events)))
"""


def load_under_audit(warm_up, paths, timeout=120):
    """``fastcnn.models.load_model`` each of ``paths`` in a new Python process, after loading
    ``warm_up`` there: ``(["loaded" or "ValueError" for each path], the watched audit events
    the loads raised)``."""
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(fastcnn.__file__)))
    proc = subprocess.run([sys.executable, "-c", _SCRIPT, str(warm_up)] + [str(p) for p in paths],
                          cwd=package_parent, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr
    results, events = proc.stdout.splitlines()
    assert events.startswith("events: ")
    return results.split(), events[len("events: "):]

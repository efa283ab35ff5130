# kernel-lab: every task's stack from a dump of the guest's memory, one JSON object per
# line. Run by harness/vmcore.ts as `drgn -q -c vmcore -s vmlinux tasks.py`; drgn gives
# this script `prog`. The lab reads only the fields written here, each bounded.
import json

from drgn.helpers.linux.pid import for_each_task
from drgn.helpers.linux.sched import task_state_to_char

MAX_TASKS = 2000
MAX_FRAMES = 64

try:
    crashed = prog.crashed_thread().object.value_()
except Exception:
    crashed = None


def frames_of(task):
    out = []
    for frame in prog.stack_trace(task):
        if len(out) >= MAX_FRAMES:
            break
        name = getattr(frame, "name", None)
        if name is None:
            try:
                name = frame.symbol().name
            except LookupError:
                name = None
        try:
            file, line, _ = frame.source()
        except LookupError:
            file, line = None, None
        out.append({"fn": name, "pc": hex(frame.pc), "file": file, "line": line, "inline": bool(frame.is_inline)})
    return out


n = 0
for task in for_each_task(prog):
    if n >= MAX_TASKS:
        break
    n += 1
    rec = {
        "pid": task.pid.value_(),
        "comm": task.comm.string_().decode("utf-8", "replace"),
        "state": task_state_to_char(task),
        "crashed": task.value_() == crashed,
    }
    try:
        rec["cpu"] = task.thread_info.cpu.value_()
    except Exception:
        try:
            rec["cpu"] = task.cpu.value_()
        except Exception:
            pass
    try:
        rec["frames"] = frames_of(task)
    except Exception as e:  # a task whose stack cannot be unwound: say why, go on
        rec["frames"] = []
        rec["error"] = str(e)[:200]
    print(json.dumps(rec), flush=True)

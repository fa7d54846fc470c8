"""The keeper of one worker: starts the target's program and ends everything it started.

The transport starts every worker as

    python -I -S keeper.py RUNNER_PID MEMORY_LIMIT -- COMMAND...

(standard library only, so that it starts in a few milliseconds). The keeper

- makes itself a child subreaper (prctl PR_SET_CHILD_SUBREAPER), so that every
  process the target starts, even one that called `setsid` or lost its parent,
  stays below it and can be found;
- asks for SIGTERM when the runner's thread that started it goes away
  (PR_SET_PDEATHSIG), so that even a runner killed with SIGKILL leaves nothing;
- runs COMMAND in a child with RLIMIT_AS set to MEMORY_LIMIT bytes (0: none),
  which itself gets SIGKILL should the keeper die (PR_SET_PDEATHSIG again);
- keeps none of the pipes to the runner: the runner sees the end of the output
  when the program and all it started are gone;
- when the program exits, kills what it left behind, then exits with the
  program's own status (or dies of the same signal), so that the runner's
  verdict names the real cause; on SIGTERM or SIGHUP it kills everything and exits.

On systems without prctl or /proc (not Linux) it still runs the program and
mirrors its status; the transport then falls back on killing the process group.
"""

import os
import resource
import signal
import sys

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
_libc = None


def prctl(option, value):
    """True when the Linux prctl call succeeded."""
    global _libc
    try:
        if _libc is None:
            import ctypes

            _libc = ctypes.CDLL(None, use_errno=True)
        return _libc.prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def descendants(root):
    """The PIDs below `root`, read from /proc (empty where there is no /proc)."""
    children = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                # The command name may hold spaces and parentheses: the parent PID is the second field after the last ")".
                ppid = int(stat.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            found.append(child)
            todo.append(child)
    return found


def kill_below(root):
    for pid in descendants(root):
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def main(argv):
    runner, memory_limit, command = int(argv[0]), int(argv[1]), argv[3:]
    me = os.getpid()
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != runner:  # the runner went away before the request took effect
        return 1
    ending = []

    def end(signum, frame):
        ending.append(signum)
        kill_below(me)

    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, end)
    program = os.fork()
    if program == 0:
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(signum, signal.SIG_DFL)
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != me:
            os._exit(1)
        if memory_limit > 0:
            resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
        try:
            os.execvp(command[0], command)
        except OSError as exc:
            os.write(2, f"cannot run {command[0]!r}: {exc.strerror}\n".encode("utf-8", "replace"))
            os._exit(127)
    if ending:  # a signal came before the program existed
        kill_below(me)
    # The program's ends of the pipes are the program's alone.
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    status = None
    while True:
        try:
            pid, code = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        if pid == program:
            status = code
        if status is not None or ending:
            kill_below(me)  # what the program left behind (now our children)
    if status is None or ending:
        return 128 + (ending[0] if ending else signal.SIGKILL)
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        signal.signal(signum, signal.SIG_DFL)
        os.kill(me, signum)
        return 128 + signum
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    os._exit(main(sys.argv[1:]))

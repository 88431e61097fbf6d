"""Small process helpers for the servers civicmap runs under (uvicorn, Celery)."""

import ctypes
import logging
import os
import signal
import sys

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def exit_with_parent(*, parent_pid: int, signum: int = signal.SIGTERM) -> bool:
    """Have Linux send this process `signum` when its parent process dies.

    uvicorn's worker processes (--workers N) outlive a master that was killed with SIGKILL and
    keep the listening socket, so a supervisor could never start a new master on that port.
    Returns whether the request was made (Linux only).
    """
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0) != 0:
        logger.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
        return False
    if os.getppid() != parent_pid:  # the parent died before the request was in place
        os.kill(os.getpid(), signum)
    return True

"""Runs an mpirun command, kills one of its ranks with SIGKILL after a delay,
and reports how long the others took to end. Exits with mpirun's status (or 2
if the run outlived --limit seconds after the kill)."""
import argparse
import os
import signal
import subprocess
import sys
import time


def parent_of(pid):
    """The parent's PID, or 0 once the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            # The command name, in parentheses, may hold spaces.
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def descends_from(pid, ancestor):
    while pid > 1:
        if pid == ancestor:
            return True
        pid = parent_of(pid)
    return False


def rank_pids(rank, launcher):
    """PIDs of the processes under `launcher` whose environment says they are
    that MPI rank (other jobs on the machine, such as tests running beside
    this one, have ranks of that number too)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                env = f.read().split(b"\0")
            with open(f"/proc/{entry}/comm") as f:
                comm = f.read().strip()
        except OSError:
            continue
        if (comm == "tetra-run" and f"OMPI_COMM_WORLD_RANK={rank}".encode() in env
                and descends_from(int(entry), launcher)):
            pids.append(int(entry))
    return pids


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rank", type=int, required=True)
    p.add_argument("--after", type=float, required=True)
    p.add_argument("--limit", type=float, required=True)
    p.add_argument("command", nargs=argparse.REMAINDER)
    args = p.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    run = subprocess.Popen(command)
    time.sleep(args.after)
    pids = rank_pids(args.rank, run.pid)
    if not pids or run.poll() is not None:
        sys.exit(f"rank {args.rank} was not running after {args.after} s")
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    try:
        status = run.wait(timeout=args.limit)
    except subprocess.TimeoutExpired:
        run.kill()
        sys.exit(f"the run outlived rank {args.rank} by more than {args.limit} s")
    sys.stdout.flush()
    print(f"all ranks ended {time.monotonic() - killed:.1f} s after rank {args.rank} was killed",
          flush=True)
    sys.exit(status if status else 3)


if __name__ == "__main__":
    main()

"""Checks tetra-run --trace output: one Chrome/Perfetto trace per rank
(traceEvents with process and thread names, complete "X" events with ts and
dur), lanes named "compute" and after grid axes, and communication events
overlapping computation in time on every rank."""
import argparse
import json
import os
import sys

AXES = {"x", "y", "z", "data"}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--ranks", type=int, required=True)
    args = p.parse_args()
    lanes_seen, overlapping = set(), 0
    for rank in range(args.ranks):
        path = os.path.join(args.dir, f"rank-{rank}.json")
        with open(path) as f:
            events = json.load(f)["traceEvents"]
        names = {e["tid"]: e["args"]["name"] for e in events
                 if e["ph"] == "M" and e["name"] == "thread_name"}
        if not any(e["ph"] == "M" and e["name"] == "process_name" for e in events):
            sys.exit(f"{path}: no process name")
        for lane in names.values():
            if lane != "compute" and not set(lane.split("*")) <= AXES:
                sys.exit(f"{path}: lane '{lane}' is not compute or grid axes")
        lanes_seen |= set(names.values())
        spans = [e for e in events if e["ph"] == "X"]
        for e in spans:
            if e["tid"] not in names or e["dur"] < 0 or e["ts"] < 0:
                sys.exit(f"{path}: malformed event {e}")
        # Waits sit on the compute lane too, but are no computation.
        compute = [e for e in spans if names[e["tid"]] == "compute" and e["name"] != "wait"]
        comm = [e for e in spans if names[e["tid"]] != "compute"]
        here = sum(1 for c in comm
                   if any(c["ts"] < k["ts"] + k["dur"] and k["ts"] < c["ts"] + c["dur"]
                          for k in compute))
        if not compute or not comm or here == 0:
            sys.exit(f"{path}: {len(compute)} compute and {len(comm)} communication events, "
                     f"{here} overlapping")
        overlapping += here
    print(f"{args.ranks} traces; lanes {', '.join(sorted(lanes_seen))}; "
          f"{overlapping} communication events overlap computation")


if __name__ == "__main__":
    main()

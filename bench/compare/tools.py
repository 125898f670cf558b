#!/usr/bin/env python3
"""Helpers for bench/compare/run (Python 3 standard library only).

Subcommands:
  freeport N                      print N distinct free TCP ports on 127.0.0.1
  wrk OUT KEY LABEL UNIT EVENTS   parse wrk output (stdin) into result file OUT
  redis OUT KEY LABEL OPS COUNTED parse redis-benchmark --csv output (stdin)
  pgbench OUT KEY LABEL LOGPREFIX INSERTED
                                  parse pgbench output (stdin) and its -l logs
  rps FILE                        print the rps of a redis-benchmark --csv file
  servercheck OUT METRICS_BEFORE METRICS_AFTER CONNECTIONS EVENTS
                                  cross-check a tally result with /metrics
  cpunote OUT W0 C0 S0 W1 C1 S1 CLK_TCK NPROC
                                  add the cores server and client used to OUT
  fail OUT TEXT                   count one more error in OUT, saying why
  note OUT TEXT                   add a note to result file OUT
  report RESULTS_DIR CONTEXT [JSON_OUT]
                                  print the comparison table; exit 1 on errors

A result file is one JSON object: key, label, throughput (per second), unit,
p50_ms, p99_ms, errors, error_detail, operations, duration_s, notes.
"""

import glob
import json
import math
import os
import re
import socket
import sys


def write_result(path, result):
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")


def cmd_freeport(n):
    socks, ports = [], []
    for _ in range(int(n)):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    print(" ".join(map(str, ports)))


def cmd_wrk(out, key, label, unit, events_per_request):
    text = sys.stdin.read()
    m = re.search(r"^WRKJSON (\{.*\})$", text, re.M)
    if not m:
        sys.exit("tools.py wrk: no WRKJSON line in wrk's output:\n" + text[-2000:])
    w = json.loads(m.group(1))
    events = int(events_per_request)
    duration_s = w["duration_us"] / 1e6
    # wrk counts a response with status >= 400 in status_errors; socket errors
    # and timeouts are requests without an answer.
    errors = (w["status_errors"] + w["connect_errors"] + w["read_errors"] +
              w["write_errors"] + w["timeouts"])
    ok_requests = w["requests"] - w["status_errors"]
    detail = ", ".join(f"{k.replace('_', ' ')} {w[k]}" for k in
                       ("status_errors", "connect_errors", "read_errors",
                        "write_errors", "timeouts") if w[k])
    write_result(out, {
        "key": key, "label": label, "unit": unit,
        # Only answered 2xx requests count towards throughput.
        "throughput": ok_requests * events / duration_s if duration_s else 0.0,
        "requests_per_s": w["requests"] / duration_s if duration_s else 0.0,
        "p50_ms": w["p50_us"] / 1000, "p99_ms": w["p99_us"] / 1000,
        "p999_ms": w["p999_us"] / 1000, "max_ms": w["max_us"] / 1000,
        "errors": errors, "error_detail": detail,
        "operations": ok_requests * events, "duration_s": duration_s,
        "notes": [],
    })


def cmd_redis(out, key, label, ops, counted):
    text = sys.stdin.read()
    r = parse_redis_csv(text)
    if not r:
        sys.exit("tools.py redis: no CSV result in redis-benchmark's output:\n" + text[-2000:])
    ops, counted = int(ops), int(counted)
    # redis-benchmark ignores replies: an error reply still counts as a request.
    # The run script counts what the script actually recorded afterwards.
    errors = ops - counted
    rps = r["rps"]
    write_result(out, {
        "key": key, "label": label, "unit": "ops/s",
        "throughput": rps * counted / ops if ops else 0.0,
        "requests_per_s": rps,
        "p50_ms": r["p50_latency_ms"], "p99_ms": r["p99_latency_ms"],
        "max_ms": r["max_latency_ms"],
        "errors": errors,
        "error_detail": f"{errors} of {ops} calls not counted (denied or failed)" if errors else "",
        "operations": counted, "duration_s": ops / rps if rps else 0.0,
        "notes": [],
    })


REDIS_CSV_COLUMNS = ("rps", "avg_latency_ms", "min_latency_ms", "p50_latency_ms",
                     "p95_latency_ms", "p99_latency_ms", "max_latency_ms")


def parse_redis_csv(text):
    """The figures of the last result line of redis-benchmark --csv.

    redis-benchmark does not escape quotes in the test name (our command line
    holds JSON), so the line is read from its end: seven quoted numbers.
    """
    pattern = re.compile(r',"([0-9.]+)"' * len(REDIS_CSV_COLUMNS) + r"\s*$")
    found = None
    for line in text.splitlines():
        m = pattern.search(line)
        if m:
            found = dict(zip(REDIS_CSV_COLUMNS, map(float, m.groups())))
    return found


def cmd_rps(path):
    """Print the rps of a redis-benchmark --csv output file."""
    with open(path) as f:
        r = parse_redis_csv(f.read())
    if not r:
        sys.exit(f"tools.py rps: no CSV result in {path}")
    print(r["rps"])


def percentile(sorted_values, p):
    """Nearest-rank percentile, like wrk's and HdrHistogram's."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def cmd_pgbench(out, key, label, log_prefix, inserted):
    text = sys.stdin.read()
    lat, first, last = [], None, None
    files = glob.glob(log_prefix + ".*")
    if not files:
        sys.exit(f"tools.py pgbench: no transaction logs at {log_prefix}.*")
    failed_in_log = 0
    for path in files:
        with open(path) as f:
            for line in f:
                # client_id transaction_no time script_no time_epoch time_us [...]
                parts = line.split()
                if len(parts) < 6:
                    continue
                if parts[2] in ("failed", "skipped"):
                    failed_in_log += 1
                    continue
                lat.append(int(parts[2]))
                t = int(parts[4]) + int(parts[5]) / 1e6
                first = t if first is None or t < first else first
                last = t if last is None or t > last else last
    lat.sort()

    def grab(pattern, conv=float, default=None):
        m = re.search(pattern, text, re.M)
        return conv(m.group(1)) if m else default

    tps = grab(r"^tps = ([0-9.]+)")
    processed = grab(r"number of transactions actually processed: (\d+)", int, len(lat))
    failed = grab(r"number of failed transactions: (\d+)", int, 0)
    aborted = len(re.findall(r"client \d+ .*aborted", text))
    inserted = int(inserted)
    # Every processed transaction should have logged one event; one that did
    # not was denied (rolled back) or failed.
    not_logged = max(0, processed - inserted)
    errors = failed + aborted + not_logged + failed_in_log
    detail = []
    if failed:
        detail.append(f"{failed} failed transactions")
    if aborted:
        detail.append(f"{aborted} clients aborted")
    if not_logged:
        detail.append(f"{not_logged} transactions did not log their event (denied or failed)")
    if tps is None:
        tps = processed / (last - first) if first is not None and last > first else 0.0
    write_result(out, {
        "key": key, "label": label, "unit": "tx/s",
        "throughput": tps * (inserted / processed if processed else 0),
        "requests_per_s": tps,
        "p50_ms": percentile(lat, 50) / 1000, "p99_ms": percentile(lat, 99) / 1000,
        "p999_ms": percentile(lat, 99.9) / 1000,
        "max_ms": (lat[-1] / 1000) if lat else 0.0,
        "errors": errors, "error_detail": ", ".join(detail),
        "operations": inserted, "duration_s": grab(r"^duration: (\d+) s", float, 0.0),
        "notes": [],
    })


def cmd_fail(path, text):
    """Marks a result as invalid: one more error, and why."""
    with open(path) as f:
        r = json.load(f)
    r["errors"] += 1
    r["error_detail"] = ", ".join(filter(None, [r["error_detail"], text]))
    write_result(path, r)


def cmd_note(path, text):
    with open(path) as f:
        r = json.load(f)
    r["notes"].append(text)
    write_result(path, r)


def read_metrics(path):
    """Prometheus text -> {name{labels}: value}; empty when unreadable."""
    out = {}
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("#") or not line.strip():
                    continue
                name, _, value = line.rstrip().rpartition(" ")
                try:
                    out[name] = float(value)
                except ValueError:
                    pass
    except OSError:
        pass
    return out


def cmd_servercheck(path, before_path, after_path, connections, events_per_request):
    """Cross-checks a tally run against the server's own /metrics.

    Every 2xx the client counted must be an event the server accepted; the
    server may have accepted a few more (requests in flight when wrk stopped,
    at most one per connection). No event may be a replay (ids are unique).
    """
    with open(path) as f:
        r = json.load(f)
    before, after = read_metrics(before_path), read_metrics(after_path)
    names = ("tally_events_total", "tally_replays_total", "tally_denials_total",
             "tally_store_fsyncs_total")
    if not all(n in before and n in after for n in names[:3]):
        r["notes"].append("server cross-check skipped: /metrics lacks tally_events_total, "
                          "tally_replays_total or tally_denials_total")
        write_result(path, r)
        return
    delta = {n: after.get(n, 0) - before.get(n, 0) for n in names}
    events, ok = int(delta["tally_events_total"]), int(r["operations"])
    slack = int(connections) * int(events_per_request)
    r["server"] = {"events": events, "replays": int(delta["tally_replays_total"]),
                   "denials": int(delta["tally_denials_total"]),
                   "fsyncs": int(delta["tally_store_fsyncs_total"])}
    problems = []
    if events < ok:
        problems.append(f"server counted {events} events but the client got {ok} acknowledged")
    elif events > ok + slack:
        r["notes"].append(f"server counted {events} events, client {ok}: more than the "
                          f"{slack} that may have been in flight")
    if r["server"]["replays"]:
        problems.append(f"{r['server']['replays']} events answered as replays (ids repeat?)")
    if r["server"]["denials"]:
        problems.append(f"{r['server']['denials']} denials")
    if problems:
        r["errors"] += 1
        r["error_detail"] = ", ".join(filter(None, [r["error_detail"]] + problems))
    if r["server"]["fsyncs"] > 0:
        r["notes"].append(f"{events:,} events in {r['server']['fsyncs']:,} fsyncs "
                          f"({events / r['server']['fsyncs']:,.1f} events per fsync)")
    write_result(path, r)


def cmd_cpunote(path, w0, c0, s0, w1, c1, s1, clk_tck, nproc):
    """Adds the cores the server and the load generator used during a run."""
    with open(path) as f:
        r = json.load(f)
    wall = float(w1) - float(w0)
    # A server gone by the end of the run (ticks 0) gives no figure.
    if wall > 0 and float(s1) > 0 and float(s1) >= float(s0):
        server = (float(s1) - float(s0)) / float(clk_tck) / wall
        client = (float(c1) - float(c0)) / wall
        r["cpu_cores"] = {"server": round(server, 2), "load_generator": round(client, 2),
                          "of": int(nproc)}
        r["notes"].append(f"CPU: server {server:.2f} cores, load generator {client:.2f} "
                          f"cores (of {nproc})")
        write_result(path, r)


def fmt_int(x):
    return f"{x:,.0f}"


def fmt_ms(x):
    if x is None:
        return "-"
    if x < 10:
        return f"{x:.2f}ms"
    return f"{x:.1f}ms"


def cmd_report(results_dir, context_path, json_out=None):
    with open(context_path) as f:
        context = json.load(f)
    order = ["tally_consume", "tally_track", "redis_always", "redis_everysec",
             "postgres_fn", "postgres_tx"]
    results = {}
    for path in glob.glob(os.path.join(results_dir, "*.json")):
        with open(path) as f:
            r = json.load(f)
        results[r["key"]] = r
    skipped = context.get("skipped", {})

    print()
    print("machine: {nproc} cores ({cpu}), {mem}, {kernel}, data on {data_filesystem}, "
          "load average {load_average_at_start} at start".format(**context["machine"]))
    print("date:    " + context["date"])
    print("tools:   " + "; ".join(f"{k} {v}" for k, v in context["versions"].items()))
    p = context["params"]
    print(f"run:     {p['connections']} connections, {p['duration_s']} s per run, "
          f"{p['subjects']} subjects, one event = 1 request + 100 chars + 10 tokens")
    print()
    print(f"{'':28}{'throughput':>18}{'p50':>10}{'p99':>10}{'errors':>8}")
    for key in order:
        r = results.get(key)
        if r is None:
            if key in skipped:
                print(f"{skipped[key]['label']:28}{'not run: ' + skipped[key]['why']}")
            continue
        tp = f"{fmt_int(r['throughput'])} {r['unit']}"
        print(f"{r['label']:28}{tp:>18}{fmt_ms(r['p50_ms']):>10}{fmt_ms(r['p99_ms']):>10}"
              f"{r['errors']:>8}")
    print()

    def ratio(a, b):
        ra, rb = results.get(a), results.get(b)
        if not ra or not rb or not rb["throughput"]:
            return None
        return ra["throughput"] / rb["throughput"]

    ratios = {
        "tally/redis(always)": ratio("tally_consume", "redis_always"),
        "tally/redis(everysec)": ratio("tally_consume", "redis_everysec"),
        "tally/postgres(fn)": ratio("tally_consume", "postgres_fn"),
        "tally/postgres(tx)": ratio("tally_consume", "postgres_tx"),
    }
    # The PostgreSQL target is judged against PostgreSQL's best line.
    pg = [ratios[k] for k in ("tally/postgres(fn)", "tally/postgres(tx)") if ratios[k] is not None]
    vs_postgres = min(pg) if pg else None
    shown = [f"{k} {v:.1f}×" for k, v in ratios.items() if v is not None]
    print("ratios:  " + ("  ".join(shown) if shown else "(need tally and another system)"))

    def mark(ok):
        return "–" if ok is None else ("✔" if ok else "✘")

    tc, tt = results.get("tally_consume"), results.get("tally_track")

    def target(key, name, value, threshold, higher_is_better=True):
        ok = None if value is None else (value >= threshold if higher_is_better
                                         else value <= threshold)
        return {"key": key, "name": name, "value": value, "threshold": threshold, "ok": ok}

    targets = [
        target("consume_per_s", "consume ≥100K/s", tc and tc["throughput"], 100_000),
        target("vs_redis_always", "≥2× redis(always)", ratios["tally/redis(always)"], 2),
        target("vs_redis_everysec", "≥2× redis(everysec)", ratios["tally/redis(everysec)"], 2),
        target("vs_postgres", "≥10× postgres (best line)", vs_postgres, 10),
        target("consume_p99_ms", "p99 ≤5ms", tc and tc["p99_ms"], 5, higher_is_better=False),
        target("track_events_per_s", "batch track ≥500K ev/s", tt and tt["throughput"], 500_000),
    ]
    print("targets: " + ", ".join(f"{t['name']} {mark(t['ok'])}" for t in targets))

    notes = [(r["label"], n) for key in order if (r := results.get(key)) for n in r["notes"]]
    for label, n in notes:
        print(f"note:    {label}: {n}")

    bad = [results[k] for k in order if k in results and results[k]["errors"]]
    if bad or skipped:
        print()
        print("!" * 78)
        if bad:
            print("!!! ERRORS — the figures above are NOT valid for the runs below:")
            for r in bad:
                print(f"!!!   {r['label']}: {r['errors']} errors ({r['error_detail']})")
        for s in skipped.values():
            print(f"!!! NOT RUN: {s['label']}: {s['why']}")
        print("!" * 78)

    if json_out:
        doc = {
            "context": context,
            "results": [results[k] for k in order if k in results],
            "ratios": {k: v for k, v in ratios.items()},
            "targets": targets,
            "errors": sum(r["errors"] for r in results.values()),
            "not_run": list(skipped),
        }
        with open(json_out, "w") as f:
            json.dump(doc, f, indent=2, ensure_ascii=False)
            f.write("\n")
        print(f"\nwrote {json_out}")
    return 1 if bad or skipped else 0


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, args = argv[1], argv[2:]
    commands = {"freeport": cmd_freeport, "wrk": cmd_wrk, "redis": cmd_redis,
                "pgbench": cmd_pgbench, "rps": cmd_rps, "servercheck": cmd_servercheck, "cpunote": cmd_cpunote, "fail": cmd_fail, "note": cmd_note, "report": cmd_report}
    if cmd not in commands:
        sys.exit(__doc__)
    rc = commands[cmd](*args)
    sys.exit(rc or 0)


if __name__ == "__main__":
    main(sys.argv)

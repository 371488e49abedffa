-- bench/ingress/report.lua: wrk -s report.lua prints one machine-readable line at the end of a run.
-- Latencies in microseconds (wrk's own histogram), errors by kind; ingress.sh parses the line.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d rps=%.1f p50_us=%d p99_us=%d connect=%d read=%d write=%d status=%d timeout=%d\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end

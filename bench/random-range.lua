-- wrk script: GETs of random 1 MiB byte ranges of one file.
--   wrk -t2 -c64 -d10s -s bench/random-range.lua URL -- FILE_SIZE [aligned|unaligned] [BLOCK]
-- aligned: ranges start at a multiple of BLOCK (default 1 MiB, the page size),
-- so each read is exactly one cached page; unaligned: any byte offset, so a
-- read spans two pages. At the end one line of JSON is printed (latencies in
-- microseconds, bytes of bodies and headers as wrk counts them).

local file_size, mode, block

function setup(thread)
  -- every thread draws its own sequence
  thread:set("seed", math.random(1, 2^31 - 1))
end

function init(args)
  file_size = tonumber(args[1]) or error("usage: -- FILE_SIZE [aligned|unaligned] [BLOCK]")
  mode = args[2] or "aligned"
  block = tonumber(args[3]) or 1048576
  math.randomseed(tonumber(seed) or os.time())
end

function request()
  local start
  if mode == "aligned" then
    start = math.random(0, math.floor(file_size / block) - 1) * block
  else
    start = math.random(0, file_size - block)
  end
  return wrk.format("GET", nil, { Range = string.format("bytes=%d-%d", start, start + block - 1) })
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"bytes":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,"errors":%d}\n',
    summary.requests, summary.bytes, summary.duration,
    latency:percentile(50), latency:percentile(99), latency.max,
    e.connect + e.read + e.write + e.status + e.timeout))
end

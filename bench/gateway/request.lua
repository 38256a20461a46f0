-- wrk script of bench/gateway.sh. BENCH_FILE: one request per line, "path<TAB>header<TAB>value";
-- each wrk thread starts at its own offset and cycles through the lines. Non-200 responses
-- are counted (global `bad` of each thread, read back in done) and printed at the end.
local lines = {}
for line in io.lines(os.getenv("BENCH_FILE")) do
  local path, name, value = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
  lines[#lines + 1] = { path = path, name = name, value = value }
end

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local i = 0
bad = 0

function init(args)
  local tid = tonumber(wrk.thread:get("tid")) or 0
  i = (tid * math.floor(#lines / 2 + 1)) % #lines
end

function request()
  i = i + 1
  local e = lines[(i % #lines) + 1]
  return wrk.format("GET", e.path, { [e.name] = e.value })
end

function response(status, headers, body)
  if status ~= 200 then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + (tonumber(thread:get("bad")) or 0)
  end
  io.write(string.format("bad_responses %d\n", total))
end

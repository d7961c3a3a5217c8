-- wrk script for facegate's load figures: JSON bodies with base64 images.
-- Environment: FG_MODE = verify | index | search, FG_BODY_DIR = folder with a.b64, b.b64.
local mode = os.getenv("FG_MODE") or "verify"
local dir = os.getenv("FG_BODY_DIR") or "."
local key = os.getenv("FG_API_KEY") or ""

local function read(name)
  local f = assert(io.open(dir .. "/" .. name, "r"))
  local s = f:read("*a")
  f:close()
  return (s:gsub("%s+$", ""))
end

local a, b = read("a.b64"), read("b.b64")
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  n = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-API-Key"] = key
end

-- The first failing answer of each thread, so that a failing run says why.
local reported = false
function response(status, headers, body)
  if status >= 300 and not reported then
    reported = true
    io.stderr:write(string.format("%s answered %d: %s\n", mode, status, body:sub(1, 300)))
  end
end

function request()
  n = n + 1
  local body
  if mode == "verify" then
    wrk.path = "/api/v1/verify"
    body = '{"image_a":"' .. a .. '","image_b":"' .. b .. '"}'
  elseif mode == "index" then
    -- A new photo id every time: indexing an id again is answered from the store.
    wrk.path = "/api/v1/index"
    body = '{"session_id":"load","photo_id":"t' .. id .. '-' .. n .. '","image":"' .. a .. '"}'
  else
    wrk.path = "/api/v1/search"
    body = '{"session_id":"load","limit":50,"image":"' .. b .. '"}'
  end
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format(
    "RESULT mode=%s requests=%d errors=%d rps=%.1f p50_ms=%.1f p95_ms=%.1f p99_ms=%.1f max_ms=%.1f\n",
    mode, summary.requests, errors, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1e3, latency:percentile(95) / 1e3,
    latency:percentile(99) / 1e3, latency.max / 1e3))
end

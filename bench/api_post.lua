-- api_post.lua - wrk script of bench/api.sh: POST one submission body per
-- request (to a URL with ?wait=true) and count the answers that are not a
-- finished run: status other than 200, or no "verdict": "OK" in the body.
--
-- Usage: wrk ... -s bench/api_post.lua 'http://HOST:PORT/api/v1/submissions?wait=true' -- BODY.json
-- Prints after the run:  api_post: ok=N bad=M first_bad_status=S

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   local path = args[1]
   if not path then
      error("api_post.lua: pass the JSON body's file after --")
   end
   local f = assert(io.open(path, "rb"))
   wrk.method = "POST"
   wrk.body = f:read("*a")
   f:close()
   wrk.headers["Content-Type"] = "application/json"
   ok = 0
   bad = 0
   first_bad = 0
end

function response(status, headers, body)
   if status == 200 and body and string.find(body, '"verdict"%s*:%s*"OK"') then
      ok = ok + 1
   else
      bad = bad + 1
      if first_bad == 0 then
         first_bad = status
      end
   end
end

function done(summary, latency, requests)
   local o, b, s = 0, 0, 0
   for _, t in ipairs(threads) do
      o = o + t:get("ok")
      b = b + t:get("bad")
      local fb = t:get("first_bad")
      if s == 0 and fb ~= 0 then
         s = fb
      end
   end
   io.write(string.format("api_post: ok=%d bad=%d first_bad_status=%d\n", o, b, s))
end

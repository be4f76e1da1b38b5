-- POST /api/status where every request changes a report's content (drift_count and the file
-- list follow the counter), so argocd-drift must write each one to the API server before it
-- answers: the durable path, as opposed to the peer's post-status.lua (heartbeats after the
-- first round). Keys and last_check as in post-status.lua.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
counter = 0
request = function()
  counter = counter + 1
  local n = counter % 7
  local body = string.format('{"repo":"repo%d","server":"srv%d","sync_status":"%s","drift_count":%d,"files":[{"name":"f%d.conf"}],"last_check":"2026-04-21T10:32:15Z"}', counter % 100, counter % 50, n == 0 and "SYNCED" or "OUT_OF_SYNC", n, n)
  return wrk.format(nil, "/api/status", nil, body)
end

-- wrk script: POST a small job to the local queue's /runsync.
wrk.method = "POST"
wrk.body = '{"input":{"name":"bench"}}'
wrk.headers["Content-Type"] = "application/json"

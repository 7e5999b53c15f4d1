//! The Lua scripts of the Redis store: each state change of a job is one script, so it is atomic
//! (Redis runs a script to its end before any other command) and costs one round trip. Every
//! script reads the server's clock (`TIME`), so replicas with skewed clocks agree on times.
//!
//! Conventions: `KEYS` are the job's hash, the stream, the `queued` and `running` sets, the
//! stats hash and the job's chunk list, in that order where a script needs them; a missing
//! optional value is the empty string. A script that makes a job final returns
//! `{'final', delay, err, exec, out, st, hook, fin}` so the caller renders its body and webhook
//! without another round trip.
//!
//! Webhooks go through an outbox: the script that makes a job final also records, atomically,
//! that its webhook is owed (`hooks`, a sorted set: id → when its owner last renewed its claim)
//! and who delivers it (the job's `hown`: the replica that ran that script). The owner renews
//! the claim while it delivers and drops it when done (`HOOK_DONE`, only if it is still the
//! owner); a claim left unrenewed for a lease (its owner died) is taken over by one replica
//! (`CLAIM_HOOKS`), which delivers it.

/// Shared head of every script.
macro_rules! script {
    ($body:expr) => {
        concat!(
            "local function now_ms() local t = redis.call('TIME') return t[1] * 1000 + math.floor(t[2] / 1000) end\n",
            "local function final_view(j) local v = redis.call('HMGET', j, 'delay', 'err', 'exec', 'out', 'st', 'hook', 'fin') table.insert(v, 1, 'final') return v end\n",
            "local function owe_hook(j, hooks, id, owner) if (redis.call('HGET', j, 'hook') or '') ~= '' then redis.call('ZADD', hooks, now_ms(), id) redis.call('HSET', j, 'hown', owner) end end\n",
            "local function retain(j, chunks, run_ttl, sync_ttl) local ttl = run_ttl if redis.call('HGET', j, 'sync') == '1' then ttl = sync_ttl end redis.call('PEXPIRE', j, ttl) redis.call('PEXPIRE', chunks, ttl) end\n",
            $body
        )
    };
}

/// Starting attempts, shared by [`TAKE`], [`TAKE_NEXT`] and [`FINISH_NEXT`]. `take_entry`: the
/// entry's attempt becomes IN_PROGRESS, or a stale entry (cancelled, purged, retried since) is
/// dropped (false). `take_next`: up to `count` new entries for `consumer`, read without blocking,
/// each taken; per attempt started `entry, id, gen, args, tmo, ttl, sub, now` (8 values).
macro_rules! take_fns {
    () => {
        r#"
local function take_entry(j, stream, queued, running, entry, id, gen, group)
  local cur = redis.call('HMGET', j, 'st', 'gen', 'q')
  if cur[1] ~= 'IN_QUEUE' or cur[2] ~= gen then
    redis.call('XACK', stream, group, entry)
    redis.call('XDEL', stream, entry)
    return false
  end
  local now = now_ms()
  local q = tonumber(cur[3]) or now
  redis.call('HSET', j, 'st', 'IN_PROGRESS', 'start', now, 'delay', math.max(0, now - q), 'entry', entry)
  redis.call('HDEL', j, 'exec')
  redis.call('SREM', queued, id)
  redis.call('SADD', running, id)
  local v = redis.call('HMGET', j, 'args', 'tmo', 'ttl', 'sub')
  table.insert(v, tostring(now))
  return v
end
local function take_next(stream, queued, running, group, consumer, count, prefix)
  local out = {}
  if tonumber(count) < 1 then return out end
  local r = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', count, 'STREAMS', stream, '>')
  if not r then return out end
  for _, e in ipairs(r[1][2]) do
    local entry, f, id, gen = e[1], e[2], nil, nil
    for i = 1, #f, 2 do
      if f[i] == 'id' then id = f[i + 1] elseif f[i] == 'gen' then gen = f[i + 1] end
    end
    local v = false
    if id and gen then
      v = take_entry(prefix .. id, stream, queued, running, entry, id, gen, group)
    else
      redis.call('XACK', stream, group, entry)
      redis.call('XDEL', stream, entry)
    end
    if v then
      table.insert(out, entry)
      table.insert(out, id)
      table.insert(out, gen)
      for i = 1, 5 do table.insert(out, v[i]) end
    end
  end
  return out
end
"#
    };
}

/// Queues a new job. KEYS: job, stream, queued. ARGV: id, args, hook, tmo, ttl, sync, left.
pub const SUBMIT: &str = script!(
    r#"
local now = now_ms()
redis.call('HSET', KEYS[1], 'st', 'IN_QUEUE', 'gen', 0, 'args', ARGV[2], 'hook', ARGV[3],
  'tmo', ARGV[4], 'ttl', ARGV[5], 'sync', ARGV[6], 'left', ARGV[7], 'sub', now, 'q', now)
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('XADD', KEYS[2], '*', 'id', ARGV[1], 'gen', 0)
return 1
"#
);

/// Starts the attempt a stream entry (from a blocking read) stands for, or drops a stale entry.
/// KEYS: job, stream, queued, running. ARGV: entry, id, gen, group. Returns
/// `{args, tmo, ttl, sub, now}` or nil.
pub const TAKE: &str = script!(concat!(
    take_fns!(),
    r#"
return take_entry(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
"#
));

/// Reads up to `count` new entries for this consumer (without blocking) and starts their
/// attempts: one round trip for as many jobs as the replica has idle workers, while the stream
/// has a backlog. KEYS: stream, queued, running. ARGV: group, consumer, count, job key prefix.
/// Returns, per attempt started, `entry, id, gen, args, tmo, ttl, sub, now` (8 values each);
/// empty when the stream has no new entry.
pub const TAKE_NEXT: &str = script!(concat!(
    take_fns!(),
    r#"
return take_next(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
"#
));

/// Keeps a running attempt's lease: resets its stream entry's idle time. KEYS: job, stream.
/// ARGV: gen, group, consumer. Returns 0 when the attempt is no longer the job's (cancelled,
/// reclaimed): its worker stops it.
pub const HEARTBEAT: &str = script!(
    r#"
if redis.call('HGET', KEYS[1], 'st') ~= 'IN_PROGRESS' or redis.call('HGET', KEYS[1], 'gen') ~= ARGV[1] then
  return 0
end
local entry = redis.call('HGET', KEYS[1], 'entry')
if not entry then return 0 end
local claimed = redis.call('XCLAIM', KEYS[2], ARGV[2], ARGV[3], 0, entry, 'JUSTID')
if #claimed == 0 then return 0 end
return 1
"#
);

/// A progress update. KEYS: job. ARGV: gen, value.
pub const PROGRESS: &str = script!(
    r#"
if redis.call('HGET', KEYS[1], 'st') == 'IN_PROGRESS' and redis.call('HGET', KEYS[1], 'gen') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'out', ARGV[2])
end
return 1
"#
);

/// A stream chunk. KEYS: job, chunks. ARGV: gen, value.
pub const CHUNK: &str = script!(
    r#"
if redis.call('HGET', KEYS[1], 'st') == 'IN_PROGRESS' and redis.call('HGET', KEYS[1], 'gen') == ARGV[1] then
  redis.call('RPUSH', KEYS[2], ARGV[2])
end
return 1
"#
);

/// How an attempt ended, as a Lua function (`finish_attempt(KEYS, ARGV)`) shared by [`FINISH`]
/// and [`FINISH_NEXT`].
macro_rules! finish_fn {
    () => {
        r#"
local function finish_attempt(KEYS, ARGV)
  local j = KEYS[1]
  local gen = redis.call('HGET', j, 'gen')
  if redis.call('HGET', j, 'st') ~= 'IN_PROGRESS' or gen ~= ARGV[2] then
    if gen == ARGV[2] and redis.call('HGET', j, 'fin') == ARGV[2] then return final_view(j) end
    return false
  end
  local now = now_ms()
  local entry = redis.call('HGET', j, 'entry')
  redis.call('XACK', KEYS[2], ARGV[3], entry)
  redis.call('XDEL', KEYS[2], entry)
  redis.call('SREM', KEYS[4], ARGV[1])
  local start = tonumber(redis.call('HGET', j, 'start')) or now
  redis.call('HSET', j, 'exec', math.max(0, now - start))
  redis.call('HDEL', j, 'out', 'entry')
  if ARGV[7] == '1' and (tonumber(redis.call('HGET', j, 'left')) or 0) > 0 then
    redis.call('HINCRBY', j, 'left', -1)
    local gen = redis.call('HINCRBY', j, 'gen', 1)
    redis.call('HSET', j, 'st', 'IN_QUEUE', 'q', now)
    redis.call('DEL', KEYS[6])
    redis.call('SADD', KEYS[3], ARGV[1])
    redis.call('XADD', KEYS[2], '*', 'id', ARGV[1], 'gen', gen)
    redis.call('HINCRBY', KEYS[5], 'retried', 1)
    return {'retry'}
  end
  redis.call('HSET', j, 'st', ARGV[4], 'fin', ARGV[2])
  if ARGV[5] ~= '' then redis.call('HSET', j, 'out', ARGV[5]) end
  if ARGV[6] ~= '' then redis.call('HSET', j, 'err', ARGV[6]) end
  if ARGV[4] == 'COMPLETED' then
    redis.call('HDEL', j, 'args')
    redis.call('HINCRBY', KEYS[5], 'completed', 1)
  else
    redis.call('HINCRBY', KEYS[5], 'failed', 1)
  end
  retain(j, KEYS[6], ARGV[8], ARGV[9])
  owe_hook(j, KEYS[7], ARGV[1], ARGV[10])
  return final_view(j)
end
"#
    };
}

/// How an attempt ended. KEYS: job, stream, queued, running, stats, chunks, hooks. ARGV: id, gen,
/// group, status (final status if it is final), out, err, retryable ('1' or ''), run_ttl_ms,
/// runsync_ttl_ms, consumer (who owes the webhook). Returns nil (a stale attempt: nothing recorded), `{'retry'}` (queued again,
/// one retry used) or the final view. Idempotent: `fin` records the attempt that made the job
/// final, so a report sent again after its reply was lost (the connection dropped after Redis
/// ran it) gets the final view again, and the webhook is not lost.
pub const FINISH: &str = script!(concat!(
    finish_fn!(),
    r#"
return finish_attempt(KEYS, ARGV)
"#
));

/// [`FINISH`], then (for the worker that is now idle) [`TAKE_NEXT`] in the same round trip.
/// KEYS and ARGV: FINISH's, then ARGV count (how many to take: 1), job key prefix. Returns
/// `{FINISH's reply, TAKE_NEXT's values...}`. Only a first report: one sent again after an outage
/// is a plain FINISH (its reply may have been lost, with the attempts it took: those are pending
/// for this replica's consumer and go back at its stop or after the lease).
pub const FINISH_NEXT: &str = script!(concat!(
    take_fns!(),
    finish_fn!(),
    r#"
local r = finish_attempt(KEYS, ARGV)
local out = take_next(KEYS[2], KEYS[3], KEYS[4], ARGV[3], ARGV[10], ARGV[11], ARGV[12])
table.insert(out, 1, r)
return out
"#
));

/// A stream entry whose consumer stopped keeping its lease (a replica that died), claimed by
/// this one. KEYS: job, stream, queued, running, stats, chunks, hooks. ARGV: entry, id, gen, group,
/// err (the FAILED error when no retry is left), run_ttl_ms, runsync_ttl_ms, consumer. Returns nil,
/// `{'requeued'}` (never started: queued again as it was), `{'retry'}` or the final view.
pub const RECLAIM: &str = script!(
    r#"
local j = KEYS[1]
redis.call('XACK', KEYS[2], ARGV[4], ARGV[1])
redis.call('XDEL', KEYS[2], ARGV[1])
local st = redis.call('HGET', j, 'st')
if redis.call('HGET', j, 'gen') ~= ARGV[3] then return false end
if st == 'IN_QUEUE' then
  redis.call('XADD', KEYS[2], '*', 'id', ARGV[2], 'gen', ARGV[3])
  return {'requeued'}
end
if st ~= 'IN_PROGRESS' or redis.call('HGET', j, 'entry') ~= ARGV[1] then return false end
local now = now_ms()
redis.call('SREM', KEYS[4], ARGV[2])
local start = tonumber(redis.call('HGET', j, 'start')) or now
redis.call('HSET', j, 'exec', math.max(0, now - start))
redis.call('HDEL', j, 'out', 'entry')
if (tonumber(redis.call('HGET', j, 'left')) or 0) > 0 then
  redis.call('HINCRBY', j, 'left', -1)
  local gen = redis.call('HINCRBY', j, 'gen', 1)
  redis.call('HSET', j, 'st', 'IN_QUEUE', 'q', now)
  redis.call('DEL', KEYS[6])
  redis.call('SADD', KEYS[3], ARGV[2])
  redis.call('XADD', KEYS[2], '*', 'id', ARGV[2], 'gen', gen)
  redis.call('HINCRBY', KEYS[5], 'retried', 1)
  return {'retry'}
end
redis.call('HSET', j, 'st', 'FAILED', 'err', ARGV[5], 'fin', ARGV[3])
redis.call('HINCRBY', KEYS[5], 'failed', 1)
retain(j, KEYS[6], ARGV[6], ARGV[7])
owe_hook(j, KEYS[7], ARGV[2], ARGV[8])
return final_view(j)
"#
);

/// A stopping replica's attempt, queued again without using a retry. KEYS: job, stream,
/// queued, running, chunks. ARGV: id, gen, group.
pub const REQUEUE: &str = script!(
    r#"
local j = KEYS[1]
if redis.call('HGET', j, 'st') ~= 'IN_PROGRESS' or redis.call('HGET', j, 'gen') ~= ARGV[2] then
  return 0
end
local entry = redis.call('HGET', j, 'entry')
redis.call('XACK', KEYS[2], ARGV[3], entry)
redis.call('XDEL', KEYS[2], entry)
local gen = redis.call('HINCRBY', j, 'gen', 1)
redis.call('HSET', j, 'st', 'IN_QUEUE', 'q', now_ms())
redis.call('HDEL', j, 'out', 'entry', 'delay', 'exec', 'start')
redis.call('DEL', KEYS[5])
redis.call('SREM', KEYS[4], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('XADD', KEYS[2], '*', 'id', ARGV[1], 'gen', gen)
return 1
"#
);

/// `/cancel`. KEYS: job, stream, queued, running, stats, chunks. ARGV: id, group, run_ttl_ms,
/// runsync_ttl_ms. Returns the status the job has afterwards, or nil if unknown.
pub const CANCEL: &str = script!(
    r#"
local j = KEYS[1]
local st = redis.call('HGET', j, 'st')
if not st then return false end
if st == 'IN_QUEUE' then
  redis.call('SREM', KEYS[3], ARGV[1])
elseif st == 'IN_PROGRESS' then
  local now = now_ms()
  local start = tonumber(redis.call('HGET', j, 'start')) or now
  redis.call('HSET', j, 'exec', math.max(0, now - start))
  local entry = redis.call('HGET', j, 'entry')
  redis.call('XACK', KEYS[2], ARGV[2], entry)
  redis.call('XDEL', KEYS[2], entry)
  redis.call('SREM', KEYS[4], ARGV[1])
else
  return st
end
redis.call('HSET', j, 'st', 'CANCELLED')
redis.call('HDEL', j, 'out', 'args', 'entry')
redis.call('DEL', KEYS[6])
retain(j, KEYS[6], ARGV[3], ARGV[4])
return 'CANCELLED'
"#
);

/// `/retry`. KEYS: job, stream, queued, stats, chunks. ARGV: id, retries. Returns
/// `IN_QUEUE`, another status (not retryable), or nil if unknown.
pub const RETRY: &str = script!(
    r#"
local j = KEYS[1]
local st = redis.call('HGET', j, 'st')
if not st then return false end
if st ~= 'FAILED' and st ~= 'TIMED_OUT' then return st end
local now = now_ms()
redis.call('PERSIST', j)
local gen = redis.call('HINCRBY', j, 'gen', 1)
redis.call('HSET', j, 'st', 'IN_QUEUE', 'left', ARGV[2], 'q', now, 'sub', now)
redis.call('HDEL', j, 'out', 'err', 'delay', 'exec', 'start', 'entry')
redis.call('DEL', KEYS[5])
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('XADD', KEYS[2], '*', 'id', ARGV[1], 'gen', gen)
redis.call('HINCRBY', KEYS[4], 'retried', 1)
return 'IN_QUEUE'
"#
);

/// `/purge-queue`: every queued job is CANCELLED (its stream entry is dropped when taken).
/// KEYS: queued. ARGV: job key prefix, chunk key prefix, run_ttl_ms, runsync_ttl_ms. Returns how
/// many. The job keys are built here from the set's members: all of a queue's keys share one
/// hash tag, so they live on one node even in a cluster.
pub const PURGE: &str = script!(
    r#"
local ids = redis.call('SMEMBERS', KEYS[1])
local n = 0
for _, id in ipairs(ids) do
  local j = ARGV[1] .. id
  if redis.call('HGET', j, 'st') == 'IN_QUEUE' then
    redis.call('HSET', j, 'st', 'CANCELLED')
    redis.call('HDEL', j, 'args', 'out')
    retain(j, ARGV[2] .. id, ARGV[3], ARGV[4])
    n = n + 1
  end
end
redis.call('DEL', KEYS[1])
return n
"#
);

/// `/stream`: the chunks produced since the last call. KEYS: job, chunks. Returns
/// `{status, chunk...}` or nil if unknown.
pub const TAKE_STREAM: &str = script!(
    r#"
local st = redis.call('HGET', KEYS[1], 'st')
if not st then return false end
local chunks = redis.call('LRANGE', KEYS[2], 0, -1)
redis.call('DEL', KEYS[2])
table.insert(chunks, 1, st)
return chunks
"#
);

/// Renews this replica's claim on the webhooks it is delivering. KEYS: hooks. ARGV: job key
/// prefix, consumer, ids. Returns the ids another replica owns now (taken over while this one
/// could not renew them); an id whose delivery was just recorded (no owner) is not one.
pub const KEEP_HOOKS: &str = script!(
    r#"
local now = now_ms()
local lost = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  local owner = redis.call('HGET', ARGV[1] .. id, 'hown')
  if owner == ARGV[2] then
    redis.call('ZADD', KEYS[1], 'XX', now, id)
  elseif owner then
    table.insert(lost, id)
  end
end
return lost
"#
);

/// A webhook's delivery is over (answered, or given up on): the outbox drops it, if this replica
/// still owns it. KEYS: job, hooks. ARGV: id, consumer. Returns 1, or 0 when another replica
/// took it over meanwhile.
pub const HOOK_DONE: &str = script!(
    r#"
if redis.call('HGET', KEYS[1], 'hown') ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[1], 'hown')
return 1
"#
);

/// Claims the webhooks whose owner stopped renewing them (it died between making a job final
/// and recording its webhook's delivery). KEYS: hooks. ARGV: lease_ms, job key prefix, consumer.
/// Returns, per job, `id` then its final view (9 values each).
pub const CLAIM_HOOKS: &str = script!(
    r#"
local now = now_ms()
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]), 'LIMIT', 0, 100)
local out = {}
for _, id in ipairs(ids) do
  local j = ARGV[2] .. id
  if redis.call('EXISTS', j) == 1 then
    redis.call('ZADD', KEYS[1], now, id)
    redis.call('HSET', j, 'hown', ARGV[3])
    table.insert(out, id)
    for _, v in ipairs(final_view(j)) do table.insert(out, v) end
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
"#
);

/**
 * The Lua scripts of the Redis store. Each runs atomically in Redis, re-checks
 * the caps, and reads time only from Redis (`TIME`), never from an instance.
 *
 * Keys, under the prefix `P` (KEYS[1]):
 * - `instances`   sorted set: instance id -> lease expiry (Redis ms)
 * - `global`      running requests, all users
 * - `running`     hash: user -> running requests
 * - `held:<i>`    hash: user -> slots held by instance i (given back when its lease expires)
 * - `q:<user>`    sorted set: the user's waiting tickets by arrival
 * - `arrivals`    sorted set: every waiting ticket by arrival
 * - `tickets:<i>` set: instance i's waiting tickets
 * - `ready`, `ready-set`  round-robin ring of users with a waiter and a free per-user slot
 * - `inbox:<i>`   list of grants (`g<ticket>`) and evictions (`e...`) for instance i,
 *                 announced on the channel `wake:<i>`
 * - `activity`    hash: user -> last activity (Redis ms)
 * - `drained`     completions while requests waited (the cluster's drain rate)
 * - `epoch`, `hold`  detect a Redis that lost its data; hold grants until the instances re-joined
 *
 * A ticket id is `<instance>:<seq>:<user>`.
 * Common ARGV: instance, per-user cap, global cap (0: none), per-user queue,
 * global queue (-1: unbounded), policy, lease ms (a renewal sets the lease's
 * expiry this far ahead); then the script's own.
 */

/** Arguments, Redis's time, key names and the few helpers of the hot path (acquire, release). */
const HEAD = `
local P = KEYS[1]
local inst = ARGV[1]
local ucap = tonumber(ARGV[2])
local gcap = tonumber(ARGV[3])
local uq = tonumber(ARGV[4])
local gq = tonumber(ARGV[5])
local policy = ARGV[6]
local ttl = tonumber(ARGV[7])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local K_INST, K_G, K_RUN, K_ARR = P .. 'instances', P .. 'global', P .. 'running', P .. 'arrivals'
local K_READY, K_RSET, K_ACT = P .. 'ready', P .. 'ready-set', P .. 'activity'
local K_DRAINED, K_HOLD, K_EPOCH, K_SEQ = P .. 'drained', P .. 'hold', P .. 'epoch', P .. 'seq'
local woken = {}

local function running(u) return tonumber(redis.call('HGET', K_RUN, u) or '0') end
local function global() return tonumber(redis.call('GET', K_G) or '0') end
local function user_free(r) return ucap <= 0 or r < ucap end
local function global_free() return gcap <= 0 or global() < gcap end
local function hold_active()
  local h = redis.call('GET', K_HOLD)
  return h and tonumber(h) > now
end
local function take(u, owner, n)
  redis.call('HINCRBY', K_RUN, u, n)
  redis.call('INCRBY', K_G, n)
  redis.call('HINCRBY', P .. 'held:' .. owner, u, n)
end
-- This instance's lease is alive (not expired, not reaped).
local function leased()
  local expiry = redis.call('ZSCORE', K_INST, inst)
  return expiry and tonumber(expiry) > now
end
`;

/** Queues, the round-robin hand-out and reaping: defined only where needed (a script defines its helpers on every call). */
const LIB = `
local function owner_of(tk) return string.match(tk, '^([^:]*):') end
local function user_of(tk) return string.match(tk, '^[^:]*:[^:]*:(.*)$') end
local function notify(owner, msg)
  redis.call('RPUSH', P .. 'inbox:' .. owner, msg)
  woken[owner] = true
end
local function announce()
  for owner in pairs(woken) do redis.call('PUBLISH', P .. 'wake:' .. owner, '1') end
end
local function mark_ready(u)
  if redis.call('SADD', K_RSET, u) == 1 then redis.call('RPUSH', K_READY, u) end
end
local function unqueue(tk, u)
  redis.call('ZREM', P .. 'q:' .. u, tk)
  redis.call('ZREM', K_ARR, tk)
  redis.call('SREM', P .. 'tickets:' .. owner_of(tk), tk)
end
-- Hands free global slots to ready users, one each in turn (round robin);
-- stale ring entries (no waiter, or no free user slot) are skipped.
local function drain()
  if hold_active() then return end
  while global_free() do
    local u = redis.call('LPOP', K_READY)
    if not u then return end
    redis.call('SREM', K_RSET, u)
    local first = redis.call('ZRANGE', P .. 'q:' .. u, 0, 0)[1]
    local r = running(u)
    if first and user_free(r) then
      unqueue(first, u)
      local owner = owner_of(first)
      take(u, owner, 1)
      redis.call('HSET', K_ACT, u, now)
      notify(owner, 'g' .. first)
      if user_free(r + 1) and redis.call('EXISTS', P .. 'q:' .. u) == 1 then mark_ready(u) end
    end
  end
end
-- Gives back everything instance i holds: its slots, its queue places, its inbox.
local function reap(i)
  local held = redis.call('HGETALL', P .. 'held:' .. i)
  for k = 1, #held, 2 do
    local u, n = held[k], tonumber(held[k + 1])
    if n > 0 then
      if redis.call('HINCRBY', K_RUN, u, -n) <= 0 then redis.call('HDEL', K_RUN, u) end
      if redis.call('DECRBY', K_G, n) < 0 then redis.call('SET', K_G, 0) end
      if redis.call('EXISTS', P .. 'q:' .. u) == 1 then mark_ready(u) end
    end
  end
  for _, tk in ipairs(redis.call('SMEMBERS', P .. 'tickets:' .. i)) do unqueue(tk, user_of(tk)) end
  redis.call('DEL', P .. 'held:' .. i, P .. 'tickets:' .. i, P .. 'inbox:' .. i)
  redis.call('ZREM', K_INST, i)
end
-- Reaps every instance whose lease has expired on Redis's clock; true if any.
local function reap_expired()
  local any = false
  while true do
    local dead = redis.call('ZRANGEBYSCORE', K_INST, '-inf', now, 'LIMIT', 0, 16)
    if #dead == 0 then return any end
    for _, i in ipairs(dead) do reap(i) end
    any = true
  end
end
`;

const PRELUDE = HEAD + LIB;

/**
 * ARGV[8] = user. 1 when a slot was taken, 0 when the caller must queue.
 * The hot path: no reaping here (the heartbeats and enqueue reap; reaping only
 * ever frees slots, so skipping it can never let more in), and the activity
 * time is written by the release.
 */
export const ACQUIRE = `${HEAD}
if not leased() then return redis.error_reply('NOLEASE instance lease lost') end
local u = ARGV[8]
if hold_active() or redis.call('EXISTS', P .. 'q:' .. u) == 1 then return 0 end
if not user_free(running(u)) or not global_free() then return 0 end
take(u, inst, 1)
return 1
`;

/**
 * ARGV[8] = user, ARGV[9] = ticket. {'granted'}, {'queued'}, {'blocked'} or
 * {'rejected', scope, queued, capacity, running, globalRunning}.
 */
export const ENQUEUE = `${PRELUDE}
if reap_expired() then drain() end
if not leased() then announce() return redis.error_reply('NOLEASE instance lease lost') end
local u, tk = ARGV[8], ARGV[9]
local uk = P .. 'q:' .. u
redis.call('HSET', K_ACT, u, now)
local r = running(u)
if not hold_active() and redis.call('EXISTS', uk) == 0 and user_free(r) and global_free() then
  take(u, inst, 1)
  announce()
  return {'granted'}
end
local qlen = redis.call('ZCARD', uk)
local total = redis.call('ZCARD', K_ARR)
local user_full = uq >= 0 and qlen >= uq
local global_full = (not user_full) and gq >= 0 and total >= gq
local status = 'queued'
if user_full or global_full then
  local scope = user_full and 'user' or 'global'
  if policy == 'block' then
    status = 'blocked'
  else
    local victim = nil
    if policy == 'drop_oldest' then
      victim = redis.call('ZRANGE', user_full and uk or K_ARR, 0, 0)[1]
    end
    if not victim then
      announce()
      if user_full then return {'rejected', scope, qlen, uq, r, global()} end
      return {'rejected', scope, total, gq, global(), global()}
    end
    local vu = user_of(victim)
    local msg
    if user_full then
      msg = table.concat({'e', scope, redis.call('ZCARD', P .. 'q:' .. vu), uq, running(vu), global(), victim}, '|')
    else
      msg = table.concat({'e', scope, total, gq, global(), global(), victim}, '|')
    end
    unqueue(victim, vu)
    notify(owner_of(victim), msg)
  end
end
local seq = redis.call('INCR', K_SEQ)
redis.call('ZADD', uk, seq, tk)
redis.call('ZADD', K_ARR, seq, tk)
redis.call('SADD', P .. 'tickets:' .. inst, tk)
if user_free(r) then mark_ready(u) end
announce()
return {status}
`;

/** ARGV[8] = user. Gives back one of this instance's slots of the user; the next waiter gets it. */
export const RELEASE = `${HEAD}
local u = ARGV[8]
local hk = P .. 'held:' .. inst
local h = tonumber(redis.call('HGET', hk, u) or '0')
if h > 0 then
  if h == 1 then redis.call('HDEL', hk, u) else redis.call('HINCRBY', hk, u, -1) end
  if redis.call('HINCRBY', K_RUN, u, -1) <= 0 then redis.call('HDEL', K_RUN, u) end
  if redis.call('DECR', K_G) < 0 then redis.call('SET', K_G, 0) end
  redis.call('HSET', K_ACT, u, now)
  if redis.call('EXISTS', K_ARR) == 1 then
    ${LIB}
    redis.call('INCR', K_DRAINED)
    if redis.call('EXISTS', P .. 'q:' .. u) == 1 then mark_ready(u) end
    drain()
    announce()
  end
end
return h
`;

/** ARGV[8] = ticket. 1 when it was still waiting and is gone now, else 0. */
export const REMOVE = `${PRELUDE}
local tk = ARGV[8]
local u = user_of(tk)
if redis.call('ZREM', P .. 'q:' .. u, tk) == 0 then return 0 end
redis.call('ZREM', K_ARR, tk)
redis.call('SREM', P .. 'tickets:' .. inst, tk)
return 1
`;

/** Takes every message of this instance's inbox. */
export const INBOX = `${PRELUDE}
local k = P .. 'inbox:' .. inst
local messages = redis.call('LRANGE', k, 0, -1)
redis.call('DEL', k)
return messages
`;

/**
 * ARGV[8] = idle user ttl ms. Renews the lease, reaps dead instances, hands
 * out freed slots, forgets idle users, and reads the cluster's state:
 * {now, global, drained, waiting, {user, running, queued, activity, ...}}.
 */
export const HEARTBEAT = `${PRELUDE}
reap_expired()
if not leased() then return redis.error_reply('NOLEASE instance lease lost') end
redis.call('ZADD', K_INST, now + ttl, inst)
drain()
announce()
local idle = tonumber(ARGV[8])
local users = {}
local seen = {}
local act = redis.call('HGETALL', K_ACT)
local function report(u, a)
  seen[u] = true
  local r = running(u)
  local q = redis.call('ZCARD', P .. 'q:' .. u)
  if r == 0 and q == 0 and a < now - idle then
    redis.call('HDEL', K_ACT, u)
  else
    users[#users + 1] = u
    users[#users + 1] = r
    users[#users + 1] = q
    users[#users + 1] = a
  end
end
for i = 1, #act, 2 do report(act[i], tonumber(act[i + 1])) end
-- Users running since before any release or arrival of theirs: active now.
local run = redis.call('HGETALL', K_RUN)
for i = 1, #run, 2 do
  if not seen[run[i]] then
    redis.call('HSET', K_ACT, run[i], now)
    report(run[i], now)
  end
end
return {now, global(), tonumber(redis.call('GET', K_DRAINED) or '0'), redis.call('ZCARD', K_ARR), users}
`;

/**
 * (Re)joins: ARGV[8] = the epoch this instance joined before ('' if none),
 * ARGV[9] = a fresh epoch id, then pairs of user and slots this instance
 * really holds. Drops whatever Redis still has of this instance and counts
 * the given slots instead, so the shared state converges on the truth.
 * When Redis lost its data (the epoch changed), grants are held for one
 * lease so every live instance re-joins with its slots first. Returns the epoch.
 */
export const SYNC = `${PRELUDE}
local e = redis.call('HGET', K_EPOCH, 'id')
local lost = false
if not e then
  e = ARGV[9]
  redis.call('HSET', K_EPOCH, 'id', e, 'since', now)
  lost = ARGV[8] ~= ''
elseif ARGV[8] ~= '' and ARGV[8] ~= e then
  lost = true
end
if lost then
  local upto = tonumber(redis.call('HGET', K_EPOCH, 'since')) + ttl
  local h = tonumber(redis.call('GET', K_HOLD) or '0')
  if upto > now and upto > h then redis.call('SET', K_HOLD, upto, 'PX', upto - now) end
end
reap_expired()
reap(inst)
for i = 10, #ARGV, 2 do
  local u, n = ARGV[i], tonumber(ARGV[i + 1])
  if n > 0 then
    take(u, inst, n)
    redis.call('HSET', K_ACT, u, now)
  end
end
redis.call('ZADD', K_INST, now + ttl, inst)
drain()
announce()
return e
`;

/** Leaves: gives back everything this instance holds (on close). */
export const LEAVE = `${PRELUDE}
reap(inst)
drain()
announce()
return 1
`;

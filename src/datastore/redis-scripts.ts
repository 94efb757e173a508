/**
 * The Lua scripts of the Redis datastore backend. Each write is one script,
 * which Redis runs atomically: it reads the namespace's usage, checks the cap
 * with the bytes of this write, and writes the entry, the index and the usage
 * together, or refuses and changes nothing.
 *
 * KEYS of every script, all of one namespace (one hash tag, so one cluster slot):
 * - `KEYS[1]` hash: key -> JSON text (the values)
 * - `KEYS[2]` sorted set: every key with score 0 (the index, for `ZRANGEBYLEX`)
 * - `KEYS[3]` string: the namespace's usage in bytes (absent when 0)
 *
 * ARGV[1] is the entry's key. Replies are arrays whose first element says
 * what happened: `{'ok', ...}`, `{'none'}` (nothing to take), `{'limit',
 * before, after}` (refused by the cap), `{'type', c}` (the value under the
 * key starts with `c`, the wrong type), `{'slow', old}` (increment: a sum Lua
 * cannot print as JavaScript would, left to the caller), `{'changed'}` (swap: the value moved).
 * Lua's `#s` is the byte length of a string, the same count as
 * `datastoreEntryBytes` makes of the same UTF-8 texts.
 */

/** Key names, the one write helper, and the type refusal. */
const HEAD = String.raw`
local V, I, U = KEYS[1], KEYS[2], KEYS[3]
local key = ARGV[1]
-- Writes json under key, replacing a value of oldlen bytes (0: none; a JSON text is never empty),
-- unless that would take the namespace above limit (0 or less: no cap) and make it larger.
-- Returns the refusal, or nil when written.
local function put(json, oldlen, limit)
  local before = tonumber(redis.call('GET', U) or '0')
  local after = before + #json - oldlen
  if oldlen == 0 then after = after + #key end
  if after > before and limit > 0 and after > limit then return {'limit', before, after} end
  redis.call('HSET', V, key, json)
  if oldlen == 0 then redis.call('ZADD', I, 0, key) end
  if after ~= before then redis.call('INCRBY', U, after - before) end
  return nil
end
local function wrong_type(text) return {'type', string.sub(text, 1, 1)} end
`;

/**
 * Positions of the top-level elements of an array's JSON text (as
 * `JSON.stringify` writes it: no whitespace): a list of first bytes and a list
 * of last bytes. With first_only, it stops after the first element. Strings
 * are skipped whole (escapes included); only brackets, braces and commas
 * outside strings count.
 */
const SCAN = String.raw`
local function scan(s, first_only)
  local starts, ends = {2}, {}
  local depth, pos = 0, 2
  while true do
    local i = string.find(s, '[%[%]{}",]', pos)
    local c = string.byte(s, i)
    if c == 34 then
      local j = i + 1
      while true do
        local k = string.find(s, '["\\]', j)
        if string.byte(s, k) == 92 then j = k + 2 else pos = k + 1 break end
      end
    elseif c == 91 or c == 123 then
      depth = depth + 1
      pos = i + 1
    elseif c == 93 or c == 125 then
      if depth == 0 then
        ends[#ends + 1] = i - 1
        return starts, ends
      end
      depth = depth - 1
      pos = i + 1
    else
      if depth == 0 then
        ends[#ends + 1] = i - 1
        if first_only then return starts, ends end
        starts[#starts + 1] = i + 1
      end
      pos = i + 1
    end
  end
end
`;

/** ARGV[2] = JSON text, ARGV[3] = cap. */
export const SET = `${HEAD}
return put(ARGV[2], redis.call('HSTRLEN', V, key), tonumber(ARGV[3])) or {'ok'}
`;

/** Removes the key; 1 when it held a value, else 0. Gives its bytes back. */
export const DELETE = `${HEAD}
local oldlen = redis.call('HSTRLEN', V, key)
if oldlen == 0 then return 0 end
redis.call('HDEL', V, key)
redis.call('ZREM', I, key)
if redis.call('DECRBY', U, #key + oldlen) <= 0 then redis.call('DEL', U) end
return 1
`;

/**
 * A number's JSON text as JavaScript writes it (`JSON.stringify`,
 * `Number.prototype.toString`): the shortest digits that read back as the
 * same double, in JavaScript's notation. `%.{p}e` gives the correctly
 * rounded p-digit decimal; the first p whose text reads back is the shortest,
 * and the closest among equals, which is JavaScript's choice. The one case
 * where that search can find more digits than JavaScript is a power of two
 * (the gap to the next smaller double is half the gap above), so those
 * answer nil, as do infinities; the caller then adds in JavaScript.
 */
const JS_NUMBER = String.raw`
local function js_number(r)
  if r ~= r or r == math.huge or r == -math.huge then return nil end
  if r == 0 then return '0' end
  if r == math.floor(r) and math.abs(r) <= 9007199254740991 then return string.format('%d', r) end
  local m = math.frexp(r)
  if m == 0.5 or m == -0.5 then return nil end
  local s
  for p = 1, 17 do
    s = string.format('%.' .. (p - 1) .. 'e', r)
    if tonumber(s) == r then break end
  end
  local sign, first, rest, exp = string.match(s, '^(-?)(%d)%.?(%d*)e([-+]%d+)$')
  local digits = string.gsub(first .. rest, '0+$', '')
  local k, n = #digits, tonumber(exp) + 1
  local out
  if k <= n and n <= 21 then
    out = digits .. string.rep('0', n - k)
  elseif 0 < n and n <= 21 then
    out = string.sub(digits, 1, n) .. '.' .. string.sub(digits, n + 1)
  elseif -6 < n and n <= 0 then
    out = '0.' .. string.rep('0', -n) .. digits
  else
    local e = n - 1
    local mantissa = k == 1 and digits or (string.sub(digits, 1, 1) .. '.' .. string.sub(digits, 2))
    out = mantissa .. 'e' .. (e < 0 and '-' or '+') .. math.abs(e)
  end
  return sign .. out
end
`;

/**
 * ARGV[2] = step (as JavaScript's String(by)), ARGV[3] = cap. Both texts
 * read back as the exact doubles JavaScript holds (they are JavaScript's
 * shortest texts and `tonumber` rounds correctly), so Lua's sum is
 * JavaScript's sum; it is written as {@link JS_NUMBER} prints it: {'ok',
 * text}. When that function cannot be sure (a power of two) or the sum is
 * infinite, it answers {'slow', old text or ''}: the caller adds in
 * JavaScript and writes with SWAP.
 */
export const INCREMENT = `${HEAD}${JS_NUMBER}
local old = redis.call('HGET', V, key)
if old and not string.find(old, '^[-0-9]') then return wrong_type(old) end
local text = js_number(tonumber(old or '0') + tonumber(ARGV[2]))
if not text then return {'slow', old or ''} end
return put(text, old and #old or 0, tonumber(ARGV[3])) or {'ok', text}
`;

/** ARGV[2] = the text the caller read ('' for none), ARGV[3] = new text, ARGV[4] = cap: compare and set. */
export const SWAP = `${HEAD}
local old = redis.call('HGET', V, key)
if (old or '') ~= ARGV[2] then return {'changed'} end
return put(ARGV[3], old and #old or 0, tonumber(ARGV[4])) or {'ok'}
`;

/** ARGV[2] = element's JSON text, ARGV[3] = cap. Splices the element into the array's text: {'ok', new length}. */
export const PUSH = `${HEAD}${SCAN}
local old = redis.call('HGET', V, key)
local text, n
if not old or old == '[]' then
  text, n = '[' .. ARGV[2] .. ']', 1
elseif string.sub(old, 1, 1) ~= '[' then
  return wrong_type(old)
else
  n = #scan(old, false) + 1
  text = string.sub(old, 1, -2) .. ',' .. ARGV[2] .. ']'
end
return put(text, old and #old or 0, tonumber(ARGV[3])) or {'ok', n}
`;

/** ARGV[2] = 'pop' or 'shift'. Cuts the last or first element out of the array's text: {'ok', element} or {'none'}. */
export const TAKE = `${HEAD}${SCAN}
local old = redis.call('HGET', V, key)
if not old then return {'none'} end
if string.sub(old, 1, 1) ~= '[' then return wrong_type(old) end
if old == '[]' then return {'none'} end
local rest, element
if ARGV[2] == 'shift' then
  local _, ends = scan(old, true)
  local e = ends[1]
  element = string.sub(old, 2, e)
  if e == #old - 1 then rest = '[]' else rest = '[' .. string.sub(old, e + 2) end
else
  local starts = scan(old, false)
  local s = starts[#starts]
  element = string.sub(old, s, -2)
  if s == 2 then rest = '[]' else rest = string.sub(old, 1, s - 2) .. ']' end
end
put(rest, #old, 0)
return {'ok', element}
`;

/// Which hosts are alive, for rate-limit shares: each host renews its entry (expiry on Redis's
/// clock) with its heartbeat, and learns how many entries are live. Entries dead for ten lease
/// lengths are removed, so the hash does not grow with every host that ever ran.
enum MembershipScript {
    static let script = RedisScript(
        """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local ttl = tonumber(ARGV[2])
        redis.call('HSET', KEYS[1], ARGV[1], string.format('%.0f', now + ttl))
        local fields = redis.call('HGETALL', KEYS[1])
        local live = 0
        for j = 1, #fields, 2 do
          local expiry = tonumber(fields[j + 1])
          if expiry > now then live = live + 1
          elseif expiry + 10 * ttl < now then redis.call('HDEL', KEYS[1], fields[j]) end
        end
        return live
        """)
}

import FlashgateCore

/// The atomic script that leases rate-limit chunks (RPM requests, TPM tokens) of one window. Each
/// bucket's window is a hash `<prefix>rate:{<bucket>}:<window>` with one field per host,
/// `g:<host>`: what that host holds of the window. Values are set, never added: a host sends what
/// Redis last confirmed for it (`base`) and the script sets base + grant, so a retried call or a
/// lost answer cannot inflate anything.
///
/// Invariant, per bucket and window: Σ g ≤ limit after any grant. Near the limit a grant takes at
/// most max(need, headroom ÷ (2 × hosts that took from this window)), so the hosts share the
/// tail; a grant smaller than what calls already wait for (`need`) is not made at all. The hash
/// expires two windows after its last grant, on Redis's clock (so a host's skewed clock cannot
/// expire it early): rates are per window, unused chunks lapse with it.
enum RateScript {
    static let script = RedisScript(
        """
        local host, keep = ARGV[1], ARGV[2]
        local out = {}
        for i = 1, #KEYS do
          local o = 2 + (i - 1) * 4
          local limit, base = tonumber(ARGV[o + 1]), tonumber(ARGV[o + 2])
          local want, need = tonumber(ARGV[o + 3]), tonumber(ARGV[o + 4])
          local fields = redis.call('HGETALL', KEYS[i])
          local others, active = 0, 1
          for j = 1, #fields, 2 do
            if fields[j] ~= 'g:' .. host then
              others = others + tonumber(fields[j + 1])
              active = active + 1
            end
          end
          local headroom = math.max(0, limit - others - base)
          local cap = math.min(headroom, math.max(need, 1, math.floor(headroom / (2 * active))))
          local grant = math.min(want, cap)
          if grant < need then grant = 0 end
          redis.call('HSET', KEYS[i], 'g:' .. host, string.format('%.0f', base + grant))
          redis.call('PEXPIRE', KEYS[i], keep)
          out[#out + 1] = string.format('%.0f', grant)
          out[#out + 1] = string.format('%.0f', limit - others - base - grant)
        end
        return out
        """)

    /// Per want: what was granted, and what is left of the window across hosts.
    static func decode(_ reply: RedisReply, count: Int) -> [(granted: Int64, clusterLeft: Int64)]? {
        guard let items = reply.array?.compactMap(\.integer), items.count == 2 * count else { return nil }
        return (0..<count).map { (items[2 * $0], max(0, items[2 * $0 + 1])) }
    }
}

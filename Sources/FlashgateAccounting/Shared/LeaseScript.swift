import FlashgateCore

/// The one atomic script every host runs against a lease group's budget periods, for a grant, a
/// return, a heartbeat and a reconciliation alike. Each period is a hash: per host `c:<host>` (the
/// most this host may have spent: its settled spend plus its lease), `s:<host>` (its settled
/// spend, as its own ledger says), `e:<host>` (its lease's expiry on Redis's clock), `t:<host>`
/// (its bound: the most it may have spent before Redis hears from it again, see
/// `BudgetState+Unreported`) and, after a cut, `x:<host>` (the cap its expired lease was cut to).
///
/// Values are set, never added: a host sends what it holds (`base`), and the script grants on top
/// of it, so a retried or duplicated call cannot inflate anything, and a restarted host's first
/// call (base = its ledger's settled spend) is its reconciliation.
///
/// Invariant, per hard period: Σ c ≤ limit after any grant. A lease past its expiry is cut to its
/// host's bound (c := t), by whichever host runs the script next: the rest returns to the period,
/// and what the dead host may have spent unreported stays counted (burned) until it comes back.
/// A host's first call of a process is capped at its bound too (its ledger charged its whole open
/// lease at recovery; it cannot have spent more than its bound), and a host whose lease was cut
/// while it was silent learns its new cap (`accepted`) and gives the difference up — never below
/// what it holds in settled and reserved spend (`floor`: more than its bound only if it spent on
/// its own under `local_share` while Redis was away).
///
/// Time is Redis's `TIME` (plus `ARGV[6]`, an offset tests move; 0 in service).
///
/// A period's hash expires `SharedBudgets.periodGrace` (7 days) after the period ends (`ARGV[o + 8]`,
/// Unix ms; 0 for a budget without periods), so a year of daily budgets does not pile up in Redis;
/// every call sets it again, so a host reconciling an ended period late recreates a hash that goes too.
///
/// Redis that lost its data (a restart without persistence, a failover to an empty replica) is
/// noticed by the first host that had a confirmed cap and finds none: the period then learns for
/// one `lease_ttl` (Doorman's learning mode) — no new grants while every live host re-reports
/// what it holds with its heartbeat, so no host's spend is forgotten.
enum LeaseScript {
    static let script = RedisScript(
        """
        local host, ttl = ARGV[1], tonumber(ARGV[2])
        local want, need, minChunk = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[6])
        local grant = want
        local seen, accepted = {}, {}
        local learning = 0
        for i = 1, #KEYS do
          local o = 6 + (i - 1) * 8
          local limit, hard, base = tonumber(ARGV[o + 1]), ARGV[o + 2] == '1', tonumber(ARGV[o + 3])
          local fields = redis.call('HGETALL', KEYS[i])
          local caps, settled, expires, bounds, cut, learn = {}, {}, {}, {}, {}, nil
          for j = 1, #fields, 2 do
            local f, v = fields[j], tonumber(fields[j + 1])
            local kind, h = string.sub(f, 1, 2), string.sub(f, 3)
            if kind == 'c:' then caps[h] = v elseif kind == 's:' then settled[h] = v elseif kind == 'e:' then expires[h] = v
            elseif kind == 't:' then bounds[h] = v elseif kind == 'x:' then cut[h] = v end
            if f == 'learn' then learn = v end
          end
          if ARGV[o + 5] == '1' and caps[host] == nil and learn == nil then
            learn = now + ttl
            redis.call('HSET', KEYS[i], 'learn', string.format('%.0f', learn))
          end
          if learn ~= nil and now < learn and want > 0 then learning = 1 end
          for h, c in pairs(caps) do
            if h ~= host and (expires[h] or 0) <= now and bounds[h] ~= nil and c > bounds[h] then
              caps[h] = bounds[h]
              local b = string.format('%.0f', bounds[h])
              redis.call('HSET', KEYS[i], 'c:' .. h, b, 'x:' .. h, b)
            end
          end
          local mine = base
          if ARGV[o + 5] == '0' and bounds[host] ~= nil and bounds[host] < mine then mine = bounds[host] end
          if cut[host] ~= nil then
            if mine <= cut[host] then
              redis.call('HDEL', KEYS[i], 'x:' .. host)
            else
              mine = cut[host]
              if ARGV[o + 5] == '1' then mine = math.min(base, math.max(mine, tonumber(ARGV[o + 7]))) end
            end
          end
          accepted[i] = mine
          local others, active, otherSettled, burned = 0, 1, 0, 0
          for h, c in pairs(caps) do
            if h ~= host then
              others = others + c
              local s = settled[h] or 0
              otherSettled = otherSettled + s
              if (expires[h] or 0) > now then active = active + 1 else burned = burned + math.max(0, c - s) end
            end
          end
          if hard and want > 0 then
            local headroom = math.max(0, limit - others - mine)
            local cap = math.min(headroom, math.max(minChunk, math.floor(headroom / (2 * active))))
            if cap < need and need <= headroom then cap = need end
            if cap < grant then grant = cap end
          end
          seen[i] = {others, otherSettled, burned, active}
        end
        if grant < need or learning == 1 then grant = 0 end
        local out = {string.format('%.0f', grant), string.format('%.0f', now), learning}
        for i = 1, #KEYS do
          local o = 6 + (i - 1) * 8
          local cap = accepted[i] + grant
          local mine = math.min(tonumber(ARGV[o + 4]), cap)
          redis.call('HSET', KEYS[i], 'c:' .. host, string.format('%.0f', cap), 's:' .. host, string.format('%.0f', mine),
            'e:' .. host, string.format('%.0f', now + ttl), 'limit', ARGV[o + 1])
          if tonumber(ARGV[o + 6]) >= 0 then
            redis.call('HSET', KEYS[i], 't:' .. host, ARGV[o + 6])
          else
            redis.call('HDEL', KEYS[i], 't:' .. host)
          end
          if tonumber(ARGV[o + 8]) > 0 then redis.call('PEXPIREAT', KEYS[i], ARGV[o + 8]) end
          local v = seen[i]
          local settledAll = v[2] + mine
          out[#out + 1] = string.format('%.0f', settledAll)
          out[#out + 1] = string.format('%.0f', v[1] + cap - settledAll - v[3])
          out[#out + 1] = string.format('%.0f', v[3])
          out[#out + 1] = string.format('%.0f', v[4])
          out[#out + 1] = string.format('%.0f', accepted[i])
        end
        return out
        """)

    /// What one run of the script answered.
    struct Answer: Sendable {
        var granted: MicroUSD
        /// Redis lost its data and is relearning what hosts hold: no grants for now.
        var learning: Bool
        /// Per key: across every host.
        var cluster: [ClusterBudget]
        /// Per key: what Redis took as this host's holding before the grant (below what it sent
        /// when its expired lease was cut, or at a reconciliation capped by its bound).
        var accepted: [MicroUSD]
    }

    static func decode(_ reply: RedisReply, keys: [String], atMs: Int64) -> Answer? {
        guard let items = reply.array?.compactMap(\.integer), items.count == 3 + 5 * keys.count else { return nil }
        var cluster: [ClusterBudget] = []
        var accepted: [MicroUSD] = []
        for (i, key) in keys.enumerated() {
            let o = 3 + i * 5
            cluster.append(
                ClusterBudget(
                    key: key, settled: MicroUSD(items[o]), leased: MicroUSD(max(0, items[o + 1])),
                    burned: MicroUSD(items[o + 2]), hosts: Int(items[o + 3]), asOfMs: atMs))
            accepted.append(MicroUSD(items[o + 4]))
        }
        return Answer(granted: MicroUSD(items[0]), learning: items[2] == 1, cluster: cluster, accepted: accepted)
    }
}

import Foundation

/// Admission and settlement through budget leases (`ledger.durability: lease`).
///
/// Invariant, per hard budget key k: settled[k] + leased[k] ≤ limit, where leased[k] sums every
/// lease group covering k (granted, in flight or being handed back). A grant is sized within
/// that headroom before anything is written, a settlement moves what it charged from the lease
/// to settled spend, and a remainder leaves `leased` only once its return is durable — so the
/// same sum, written by one writer in order, also holds on disk at every commit.
extension BudgetState {
    /// About how many calls one grant should cover.
    static let callsPerLease: Int64 = 100
    /// A grant takes at most this fraction of a hard budget's headroom (beyond what the call
    /// itself needs), so one busy caller cannot starve the others of the same budget.
    static let headroomShareDivisor: Int64 = 4
    /// This host's own leases ask for the next grant with this share of a typical grant left:
    /// about fifty calls, a commit's worth of time even on a slow disk at thousands of calls a second.
    static let localPrefetchPercent: Int64 = 50
    /// The most calls one local grant covers however slow the disk: a lease holds at most this
    /// many typical calls of a budget (and never more than a share of its headroom).
    static let maxCallsPerLease: Int64 = 1_000

    /// How many typical calls this host's next grant covers, and how many (in hundredths of a
    /// call) must be left when it is asked for. By default a hundred, asked for with fifty left.
    /// When commits are slow for the lease's pace (a grant takes as long as more than 25 calls),
    /// the next grant is asked for with twice a commit's worth of calls left and covers twice
    /// that, up to `maxCallsPerLease`, so no call waits for a grant while one is being written.
    /// Shared budgets: as configured (`shared.calls_per_lease`, `shared.prefetch_percent`).
    func leaseSizing(_ group: LeaseGroup) -> (grantCalls: Int64, marginHundredths: Int64) {
        if let sharing { return (sharing.callsPerLease, sharing.callsPerLease * sharing.prefetchPercent) }
        let grantCalls = Self.callsPerLease
        let marginCalls = Self.callsPerLease * Self.localPrefetchPercent / 100
        guard grantCommitNanos > 0, let interval = group.callInterval else {
            return (grantCalls, marginCalls * 100)
        }
        // Calls arrive at most once a microsecond, as far as sizing goes.
        let duringCommit = grantCommitNanos / max(interval, 1_000)
        guard 2 * duringCommit > marginCalls else { return (grantCalls, marginCalls * 100) }
        let slowGrant = min(Self.maxCallsPerLease, max(grantCalls, 4 * duringCommit))
        return (slowGrant, min(2 * duringCommit, slowGrant / 2) * 100)
    }

    /// A local grant became durable (or failed) `nanos` after it was handed to the ledger: the
    /// estimate takes a slower commit at once and a faster one a sixteenth at a time.
    mutating func noteGrantCommit(nanos: Int64) {
        let sample = max(0, nanos)
        grantCommitNanos = sample >= grantCommitNanos ? sample : (grantCommitNanos * 15 + sample) / 16
    }

    /// Reserves `amount` from the caller's lease, asking for a new grant when the lease is short.
    /// A nil decision (shared budgets only) means: nothing was reserved; wait for the grant in
    /// flight (the returned latch), then try again.
    mutating func reserveLeased(
        caller: Caller, lines: [Line], amount: MicroUSD, now: Date
    ) -> (BudgetDecision?, [LeaseChange], LeaseLatch?, [LeaseLatch]) {
        let keys = lines.map(\.key)
        var reportWaits: [LeaseLatch] = []
        let id = LeaseGroup.id(caller: caller, keys: keys)
        var group =
            leases[id]
            ?? LeaseGroup(
                team: caller.team, key: keys.contains { $0.hasPrefix("key:") } ? caller.key : "", budgetKeys: keys,
                typical: amount, lastUsed: now)
        var changes: [LeaseChange] = []
        // A budget lowered by a reload may now be below what is settled and leased: hand back
        // what this lease holds unused, and draw nothing more while the budget is over.
        let hard = lines.filter { $0.budget.mode == .hard }
        func over(_ line: Line) -> MicroUSD {
            settled[line.key, default: .zero] + leased[line.key, default: .zero] - line.budget.limit
        }
        if let line = hard.max(by: { over($0) < over($1) }), over(line) > .zero {
            let unused = min(over(line), group.durable - group.reserved)
            if unused > .zero && group.pending == .zero { changes.append(group.handBack(unused, id: id)) }
            leases[id] = group.isEmpty ? nil : group
            // Money held by leases on their way back is not spent: when what is settled leaves
            // room for this call, it waits for the hand-back and reserves again, rather than be
            // told the budget is spent until the period ends (after a reload lowered it).
            if settled[line.key, default: .zero] + reserved[line.key, default: .zero] + amount <= line.budget.limit,
                let returning = group.lastRelease, returning.result == nil
            {
                return (nil, changes, returning, [])
            }
            return (
                .reject(budget: line.name, limit: line.budget.limit, remaining: .zero, retryAfter: retry(line, now)),
                changes, nil, []
            )
        }
        let available = group.durable + group.pending - group.reserved
        // Shared budgets: one grant in flight per lease. Redis may cut a grant, and a cut grant's
        // waiters go ahead only if the money the lease really holds covers every reservation on
        // it; a second grant still in flight would count as cover it may never bring (a call
        // went upstream on it, and the cluster spent past its hard limit). So a call this lease
        // cannot cover while a grant is in flight waits for that grant and tries again.
        if available < amount, sharing != nil, group.pending > .zero, let inFlight = group.latestGrant {
            return (nil, [], inFlight, [])
        }
        if leases[id] != nil {
            // A gap of more than a day says nothing more about the pace (and stays far from overflow).
            let gap = Int64(min(max(0, now.timeIntervalSince(group.lastUsed)), 86_400) * 1e9)
            group.callInterval = group.callInterval.map { ($0 * 7 + gap) / 8 } ?? gap
        }
        if available < amount {
            let shortfall = amount - available
            var grant = max(shortfall, group.typical.times(Int64(leaseSizing(group).grantCalls)))
            var tightest: (line: Line, headroom: MicroUSD)?
            for line in lines where line.budget.mode == .hard {
                let headroom = self.headroom(line)
                if tightest == nil || headroom < tightest!.headroom { tightest = (line, headroom) }
            }
            if let (line, headroom) = tightest {
                guard shortfall <= headroom else {
                    return (
                        .reject(
                            budget: line.name, limit: line.budget.limit, remaining: max(.zero, available) + headroom,
                            retryAfter: retry(line, now)), [], nil, []
                    )
                }
                grant = min(grant, max(shortfall, MicroUSD(headroom.value / Self.headroomShareDivisor)))
            }
            let latch = LeaseLatch()
            group.pending += grant
            group.latestGrant = latch
            for key in group.budgetKeys { leased[key, default: .zero] += grant }
            changes.append(
                LeaseChange(
                    kind: .grant, group: id, team: group.team, key: group.key, budgetKeys: group.budgetKeys,
                    amount: grant, latch: latch, lines: lines.map(\.leaseLine), need: shortfall))
        }
        // A call that draws on money not yet on disk waits for the grant that brings it.
        let wait = group.reserved + amount > group.durable ? group.latestGrant : nil
        // Shared budgets: a call that would take this host's unreported spend past its bound waits
        // for a report to Redis whose bound covers it.
        if sharing != nil, let report = gate(hard, amount: amount) {
            reportWaits = report.waits
            if let change = report.change { changes.append(change) }
        }
        var reservation = Reservation(
            id: nextID, caller: caller, amount: amount, budgetKeys: keys, softExceeded: softOverruns(lines, amount))
        reservation.leaseGroup = id
        reservation.grantWait = wait?.id
        reservation.softFirstInPeriod = firstSoftOverruns(lines, amount)
        for overrun in reservation.softFirstInPeriod { softFlagged[overrun.budget] = overrun.periodKey }
        nextID += 1
        group.reserved += amount
        // A running average, taken in 128 bits so no reservation can overflow it (the average of
        // two amounts fits wherever they do).
        group.typical = MicroUSD(Int64((Int128(group.typical.value) * 7 + Int128(amount.value)) / 8))
        group.lastUsed = now
        group.periodEnd = lines.compactMap(\.periodEnd).min()
        leases[id] = group
        for key in keys { reserved[key, default: .zero] += amount }
        open[reservation.id] = reservation
        if let prefetch = prefetch(&group, id: id, lines: lines) {
            leases[id] = group
            changes.append(prefetch)
        }
        return (.admit(reservation), changes, wait, reportWaits)
    }

    /// With no grant in flight and fewer than `leaseSizing`'s margin of typical calls left (shared
    /// budgets: `shared.prefetch_percent` of a grant; this host's own: half a grant, or more when
    /// commits are slow for the lease's pace), the next grant is asked for now, so no call waits
    /// for it while its commit is under way. A local grant is fetched ahead only while a full one
    /// fits in the share of every hard budget's headroom a grant may take; nearer the limit a lease
    /// is topped up when it runs short, as before, so a busy key cannot gather the last of a budget
    /// ahead of need. (Redis sizes a shared grant.)
    private mutating func prefetch(_ group: inout LeaseGroup, id: String, lines: [Line]) -> LeaseChange? {
        guard group.pending == .zero else { return nil }
        let (grantCalls, marginHundredths) = leaseSizing(group)
        let left = group.durable - group.reserved
        guard left.times(100) < group.typical.times(Int64(marginHundredths)) else { return nil }
        var grant = group.typical.times(Int64(grantCalls))
        for line in lines where line.budget.mode == .hard {
            if sharing == nil {
                guard grant.value <= headroom(line).value / Self.headroomShareDivisor else { return nil }
            } else {
                // Redis sizes a shared grant, but what is asked for counts as leased while it is
                // in flight: asked beyond this host's headroom, it made the budget look over its
                // limit here, and every call in that window was refused (near the limit, where
                // prefetches come often, the last ~5 % of a budget could go unspent).
                grant = min(grant, headroom(line))
            }
        }
        guard grant > .zero else { return nil }
        let latch = LeaseLatch()
        group.pending += grant
        group.latestGrant = latch
        for key in group.budgetKeys { leased[key, default: .zero] += grant }
        return LeaseChange(
            kind: .grant, group: id, team: group.team, key: group.key, budgetKeys: group.budgetKeys, amount: grant,
            latch: latch, lines: lines.map(\.leaseLine), need: .zero)
    }

    /// What a budget line has left beyond its settled spend and every lease on it.
    private func headroom(_ line: Line) -> MicroUSD {
        max(.zero, line.budget.limit - settled[line.key, default: .zero] - leased[line.key, default: .zero])
    }

    /// A shared grant came back smaller than asked (`granted` < `change.amount`): the difference
    /// leaves the lease. False when what the group's calls already reserved is then no longer
    /// covered, so the calls waiting on the grant must be refused.
    mutating func shrinkGrant(_ change: LeaseChange, to granted: MicroUSD) -> Bool {
        let cut = change.amount - granted
        guard var group = leases[change.group] else { return true }
        if cut > .zero {
            group.pending = max(.zero, group.pending - cut)
            for key in group.budgetKeys { leased[key] = max(.zero, leased[key, default: .zero] - cut) }
            leases[change.group] = group
        }
        return group.durable + group.pending >= group.reserved
    }

    /// A shared grant came back durable but smaller than what was reserved against it while it
    /// was in flight: every reservation that drew on it is given back now, all at once, so each of
    /// their calls reserves again against what the lease really holds (and a call that must ask
    /// Redis for more asks for its own need, not for the others' stale reservations as well).
    /// Their own later release is then a no-op. Returns how many were given back.
    @discardableResult
    mutating func releaseReservations(drawingOn latch: LeaseLatch, group id: String) -> Int {
        let waiting = open.values.filter { $0.leaseGroup == id && $0.grantWait == latch.id }
        for reservation in waiting { _ = settle(reservation, actual: .zero) }
        return waiting.count
    }

    /// Settles a leased reservation: what it charged leaves the lease as settled spend; the rest
    /// of its reservation stays in the lease for the next calls.
    mutating func settleLeased(_ held: Reservation, group id: String, charged: MicroUSD) -> BudgetSettlement {
        for key in held.budgetKeys {
            reserved[key] = max(.zero, reserved[key, default: .zero] - held.amount)
            settled[key, default: .zero] += charged
        }
        guard var group = leases[id] else {
            return BudgetSettlement(charged: charged, overshoot: max(.zero, charged - held.amount), applied: true)
        }
        group.reserved = max(.zero, group.reserved - held.amount)
        let debit = min(charged, group.durable)
        group.durable -= debit
        for key in group.budgetKeys { leased[key] = max(.zero, leased[key, default: .zero] - debit) }
        // A lease its last call used up holds nothing: it is not an open lease any more.
        leases[id] = group.isEmpty ? nil : group
        var settlement = BudgetSettlement(charged: charged, overshoot: max(.zero, charged - held.amount), applied: true)
        settlement.leaseGroup = id
        settlement.leaseDebit = debit
        return settlement
    }

    /// The writer tried a lease change: a durable grant becomes usable; a failed one is
    /// withdrawn; a durable return frees its budgets; a failed return stays leased (but for a cut
    /// Redis already made, which leaves the lease either way).
    ///
    /// Returns whether the change's waiters are covered. A call waiting on a later grant may have
    /// been admitted partly on an earlier one still in flight; if that earlier one failed, the
    /// later grant covers its waiters only when the money on disk covers every reservation of the
    /// lease. (Grants are written in order, so the earlier one always finishes first.)
    @discardableResult
    mutating func leaseChangeFinished(_ change: LeaseChange, durable: Bool) -> Bool {
        guard var group = leases[change.group] else { return durable }
        var covered = durable
        switch change.kind {
        case .grant:
            group.pending = max(.zero, group.pending - change.amount)
            if durable {
                group.durable += change.amount
            } else {
                for key in group.budgetKeys { leased[key] = max(.zero, leased[key, default: .zero] - change.amount) }
                group.grantFailedInFlight = true
            }
            if durable && group.grantFailedInFlight { covered = group.durable >= group.reserved }
            if group.pending == .zero {
                group.latestGrant = nil
                group.grantFailedInFlight = false
                if group.releaseWhenGranted {
                    group.releaseWhenGranted = false
                    let unused = group.durable - group.reserved
                    if unused > .zero { landedReleases.append(group.handBack(unused, id: change.group)) }
                }
            }
        case .release:
            group.returning = max(.zero, group.returning - change.amount)
            // A cut Redis made is final even if the ledger could not record it: the ledger keeps
            // the money as an open lease (charged as spent at the next start), never usable again.
            if durable || change.redisKnows {
                for key in group.budgetKeys { leased[key] = max(.zero, leased[key, default: .zero] - change.amount) }
            } else {
                group.durable += change.amount
            }
        case .report:
            break
        }
        leases[change.group] = group.isEmpty ? nil : group
        return covered
    }

    /// After a reload: every lease's unused remainder goes back now, or, for a lease with a grant
    /// in flight (asked for under the old limits), once that grant lands.
    mutating func releaseLeasesForNewLimits(now: Date) -> [LeaseChange] {
        for (id, var group) in leases where group.pending > .zero {
            group.releaseWhenGranted = true
            leases[id] = group
        }
        return releaseLeases(now: now, idle: .zero, all: true)
    }

    /// Hands back the unused remainder of leases idle for `idle`, of periods that ended, or of
    /// every lease (`all`, at shutdown). Grants still in flight are left alone.
    mutating func releaseLeases(now: Date, idle: Duration, all: Bool) -> [LeaseChange] {
        var changes: [LeaseChange] = []
        let idleSeconds = Double(idle.components.seconds) + Double(idle.components.attoseconds) / 1e18
        for (id, var group) in leases {
            let unused = group.durable - group.reserved
            guard unused > .zero, group.pending == .zero else { continue }
            let idleLongEnough = group.reserved == .zero && now.timeIntervalSince(group.lastUsed) >= idleSeconds
            let periodOver = group.periodEnd.map { $0 <= now } ?? false
            guard all || idleLongEnough || periodOver else { continue }
            changes.append(group.handBack(unused, id: id))
            leases[id] = group
        }
        return changes
    }

    /// Until the period of `line` rolls over (nil for a total budget).
    private func retry(_ line: Line, _ now: Date) -> Duration? {
        line.periodEnd.map { Duration.seconds(max(1, Int64($0.timeIntervalSince(now).rounded(.up)))) }
    }

    /// Soft budgets this call goes (or would go) over.
    func softOverruns(_ lines: [Line], _ amount: MicroUSD) -> [String] {
        var names: [String] = []
        for line in lines where line.budget.mode == .soft {
            if settled[line.key, default: .zero] + reserved[line.key, default: .zero] + amount > line.budget.limit {
                names.append(line.name)
            }
        }
        return names
    }

    /// Of those, the ones not yet flagged in their current period.
    func firstSoftOverruns(_ lines: [Line], _ amount: MicroUSD) -> [SoftBudgetOverrun] {
        var overruns: [SoftBudgetOverrun] = []
        for line in lines where line.budget.mode == .soft {
            let used = settled[line.key, default: .zero] + reserved[line.key, default: .zero]
            guard used + amount > line.budget.limit, softFlagged[line.name] != line.key else { continue }
            overruns.append(
                SoftBudgetOverrun(
                    budget: line.name, periodKey: line.key, limit: line.budget.limit, used: used, amount: amount))
        }
        return overruns
    }
}

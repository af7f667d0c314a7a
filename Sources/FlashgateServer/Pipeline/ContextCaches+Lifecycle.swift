import FlashgateAccounting
import FlashgateCore
import FlashgateRouting
import FlashgateWire

/// A context cache's life and money: created (its tokens billed as input, its rent reserved
/// first against the budgets of the team that caused it), kept alive by a PATCH of its ttl while
/// reads pay, and settled by the time it actually lived when it expires, is found gone, or
/// Flashgate stops.
///
/// Invariant: nothing is created whose creation and rent the budgets cannot hold (a refusal
/// leaves the prefix uncached); every storage reservation settles exactly once.
extension ContextCaches {
    /// The create call names no service tier, so Google bills it (and the rent) at standard
    /// whatever tier the calls that made the prefix pay ran at.
    func create(
        _ prefix: ContextPrefix, target: ResolvedRoute, caller: Caller, clientModel: String, tokens: Int
    ) async {
        let model = target.pricedModel
        let now = nowMilliseconds()
        let tier = ServiceTier.standard
        guard let price = accountant.prices.price(for: model, tier: tier, atMs: now) else {
            book.finishCreate(prefix.key, nil)
            return
        }
        // Strict budgets reserve on a bound no tokenizer beats (a byte per token), else the estimate.
        let bound = accountant.config.accounting.mode == .strict ? max(tokens, prefix.prefixBytes) : tokens
        let ttlSeconds = config.ttl.milliseconds / 1000
        let creation = price.cost(BillableUsage(promptTokens: bound))
        let rent = ContextCachePlanner.storageCost(tokens: bound, seconds: ttlSeconds, price: price)
        guard
            case .admit(var create) = accountant.admit(
                caller: caller, clientModel: clientModel, upstreamModel: model, route: target.route.name,
                amount: creation, tokens: bound, tier: tier)
        else {
            noteRefusedCreation(caller, model: model, creation: creation, rent: rent)
            book.finishCreate(prefix.key, nil)
            return
        }
        guard
            case .admit(var storage) = accountant.admitStorage(
                caller: caller, clientModel: clientModel, upstreamModel: model, route: target.route.name, amount: rent)
        else {
            accountant.release(create)
            noteRefusedCreation(caller, model: model, creation: creation, rent: rent)
            book.finishCreate(prefix.key, nil)
            return
        }
        do {
            try await accountant.persist(&create)
            try await accountant.persist(&storage)
        } catch {
            accountant.release(create)
            accountant.release(storage)
            book.finishCreate(prefix.key, nil)
            return
        }
        let keyIndex = routes.contextCacheKey(target.route.name, now: clock.now())
        do throws(FlashgateError) {
            let created = try await client.create(prefix, on: target, keyIndex: keyIndex, ttl: config.ttl)
            // An answer without its token count is charged the bound it was reserved on.
            var usage = TokenUsage()
            usage.promptTokens = created.tokens ?? bound
            let charged = await accountant.settle(
                create, usage: usage, ending: .ok, cacheStatus: Accountant.contextCreateStatus)
            book.count { $0.creationPico += charged.value * 1_000_000 }
            let born = nowMilliseconds()
            book.finishCreate(
                prefix.key,
                ContextCacheBook.Live(
                    name: created.name, target: target, keyIndex: keyIndex, tokens: usage.promptTokens, caller: caller,
                    clientModel: clientModel, pricedModel: model, segmentStartMs: born,
                    expiresMs: config.ttl.expiry(after: born), storage: storage))
            logger.info(
                "context cache created",
                metadata: ["route": "\(target.route.name)", "model": "\(model)", "tokens": "\(usage.promptTokens)"])
        } catch {
            if let floor = Self.minimumFloor(in: error.message) {
                book.learnMinimum(model: target.upstreamModel, tokens: floor)
            }
            logger.info(
                "context cache not created", metadata: ["route": "\(target.route.name)", "error": "\(error.kind)"])
            let ending: Accountant.Ending = error.kind == .upstreamStatus ? .upstreamError : .incomplete
            await accountant.settle(create, usage: nil, ending: ending, cacheStatus: Accountant.contextCreateStatus)
            await accountant.settleStorage(storage, cost: .zero)
            book.finishCreate(prefix.key, nil)
        }
    }

    /// Extends a live cache by one ttl from now, its rent reserved first; the period it leaves
    /// is settled by the time it covered.
    func extend(_ key: CacheKey, _ live: ContextCacheBook.Live, price: ModelPrice) async {
        let rent = ContextCachePlanner.storageCost(
            tokens: live.tokens, seconds: config.ttl.milliseconds / 1000, price: price)
        guard
            case .admit(var storage) = accountant.admitStorage(
                caller: live.caller, clientModel: live.clientModel, upstreamModel: live.pricedModel, route: live.route,
                amount: rent)
        else {
            _ = book.finishExtend(key, name: live.name, newPeriod: nil)
            return
        }
        do {
            try await accountant.persist(&storage)
            try await client.extend(live.name, on: live.target.route, keyIndex: live.keyIndex, ttl: config.ttl)
        } catch {
            accountant.release(storage)
            _ = book.finishExtend(key, name: live.name, newPeriod: nil)
            return
        }
        let now = nowMilliseconds()
        if let old = book.finishExtend(
            key, name: live.name, newPeriod: (now, config.ttl.expiry(after: now), storage))
        {
            settle([old], endedMs: now)
        } else {
            await accountant.settleStorage(storage, cost: .zero)
        }
    }

    /// Settles the rent of caches that left the book: from the start of their rent period to
    /// `endedMs` (or their expiry, whichever is first), rounded up to the second and the µ$.
    func settle(_ ended: [ContextCacheBook.Live], endedMs: Int64?) {
        for live in ended {
            guard let storage = live.storage else { continue }
            let cost = rent(of: live, until: endedMs)
            book.count { $0.storagePico += cost.value * 1_000_000 }
            let accountant = self.accountant
            Task { await accountant.settleStorage(storage, cost: cost) }
        }
    }

    /// What `live` owes for its current rent period, ending at `endedMs` or its expiry.
    func rent(of live: ContextCacheBook.Live, until endedMs: Int64?) -> MicroUSD {
        let end = min(live.expiresMs, endedMs ?? live.expiresMs)
        let seconds = (max(0, end - live.segmentStartMs) + 999) / 1000
        guard let price = accountant.prices.price(for: live.pricedModel, atMs: end) else {
            return live.storage?.amount ?? .zero
        }
        return ContextCachePlanner.storageCost(tokens: live.tokens, seconds: seconds, price: price)
    }

    /// At shutdown: the caches live on upstream until they expire, so their booked rent is due.
    func shutdown() async {
        for live in book.drain() {
            guard let storage = live.storage else { continue }
            let cost = rent(of: live, until: nil)
            book.count { $0.storagePico += cost.value * 1_000_000 }
            await accountant.settleStorage(storage, cost: cost)
        }
    }

    /// The real floor in Gemini's "Cached content is too small … min_total_token_count=M".
    static func minimumFloor(in message: String) -> Int? {
        guard let range = message.range(of: "min_total_token_count=") else { return nil }
        return Int(message[range.upperBound...].prefix(while: \.isNumber))
    }

    /// A cache the planner wanted but the team's budget or limits could not hold is left uncreated
    /// (its prefix is sent in full, as before); the operator learns of it here.
    private func noteRefusedCreation(_ caller: Caller, model: String, creation: MicroUSD, rent: MicroUSD) {
        logger.info(
            "context cache not created: the team's budget or limits cannot hold its creation and rent",
            metadata: [
                "team": "\(caller.team)", "model": "\(LogText.capped(model))",
                "creation_usd": "\(creation.dollars)", "rent_usd": "\(rent.dollars)",
            ])
    }
}

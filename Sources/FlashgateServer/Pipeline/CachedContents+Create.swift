import FlashgateAccounting
import FlashgateCore
import FlashgateRouting
import FlashgateWire

/// A client's own cache: created on the route of its model, its creation and rent reserved
/// against the team's budgets first; a ttl update reserves the new period's rent and settles the
/// old one by the time it covered.
extension CachedContents {
    func create(_ caller: Caller, body: JSONValue, now: Int64) throws(FlashgateError) -> GatewayResult {
        guard case .object(var object) = body, let model = body["model"]?.stringValue else {
            throw FlashgateError.invalid("a cachedContents create needs \"model\" (models/{model})", param: "model")
        }
        guard let seconds = Self.lifetime(body, nowMs: now) else {
            throw FlashgateError.invalid("ttl must be a duration such as \"3600s\", expireTime an RFC 3339 time")
        }
        let plan = try caches.routes.plan(model: ModelID.bare(model))
        guard let target = plan.targets.first(where: { RouteTable.holdsContextCaches($0.route) }) else {
            throw FlashgateError.invalid(
                "no AI Studio route serves \(model); only they hold cachedContents", param: "model")
        }
        let priced = target.pricedModel
        guard let price = caches.accountant.prices.price(for: priced, atMs: now) else {
            throw FlashgateError.invalid("no price for \(priced): add prices.\(priced)", param: "model")
        }
        object["model"] = .string("models/" + ModelID.bare(target.upstreamModel))
        let sent = JSONWriter.encode(.object(object))
        // Reserved on the bound a generation's prompt gets (a byte per token for text, media by
        // their own bounds, a `fileData` part the whole context window) in strict mode, and at
        // least a token per byte of the body; the estimate otherwise. A token per byte alone was
        // no bound for a `fileData` video, which caches a million tokens in a few bytes.
        let bound =
            caches.accountant.config.accounting.mode == .strict
            ? max(RequestCostEstimate.worstCase(body: .object(object), model: priced, teamOutputCap: nil).inputTokens, sent.count)
            : max(RequestCostEstimate.expected(body: .object(object), model: priced, teamOutputCap: nil).inputTokens, (sent.count + 3) / 4)
        let accountant = caches.accountant
        let creationAdmitted: Accountant.Admission
        switch accountant.admit(
            caller: caller, clientModel: plan.model, upstreamModel: priced, route: target.route.name,
            amount: price.cost(BillableUsage(promptTokens: bound)), tokens: bound)
        {
        case .reject(let rejected): throw rejected.error
        case .admit(let admitted): creationAdmitted = admitted
        }
        let rent = ContextCachePlanner.storageCost(tokens: bound, seconds: seconds, price: price)
        let storage: Accountant.Admission
        switch accountant.admitStorage(
            caller: caller, clientModel: plan.model, upstreamModel: priced, route: target.route.name, amount: rent)
        {
        case .reject(let rejected):
            accountant.release(creationAdmitted)
            throw rejected.error
        case .admit(let admitted): storage = admitted
        }
        let keyIndex = caches.routes.contextCacheKey(target.route.name, now: caches.clock.now())
        let storageAdmitted = storage
        return .deferred { writer in
            var creation = creationAdmitted
            var storage = storageAdmitted
            do {
                try await accountant.persist(&creation)
                try await accountant.persist(&storage)
            } catch {
                accountant.release(creation)
                accountant.release(storage)
                await writer.respond(.error(.reservationNotRecorded, dialect: .google))
                return
            }
            let answer: Collected
            do throws(FlashgateError) {
                answer = try await caches.client.forward(
                    target.route, method: "POST", name: nil, body: sent, keyIndex: keyIndex)
            } catch {
                await accountant.settle(
                    creation, usage: nil, ending: .incomplete, cacheStatus: Accountant.contextCreateStatus)
                await accountant.settleStorage(storage, cost: .zero)
                await writer.respond(.error(error, dialect: .google))
                return
            }
            let parsed = try? JSONParser.parse(answer.body)
            guard answer.isSuccess, let name = parsed?["name"]?.stringValue else {
                await accountant.settle(
                    creation, usage: nil, ending: .upstreamError, cacheStatus: Accountant.contextCreateStatus)
                await accountant.settleStorage(storage, cost: .zero)
                await writer.respond(Generation.forwarded(answer))
                return
            }
            var usage = TokenUsage()
            usage.promptTokens = ContextCacheClient.tokenCount(parsed?["usageMetadata"]?["totalTokenCount"]) ?? bound
            await accountant.settle(creation, usage: usage, ending: .ok, cacheStatus: Accountant.contextCreateStatus)
            let born = caches.nowMilliseconds()
            caches.book.addClient(
                ContextCacheBook.Live(
                    name: name, target: target, keyIndex: keyIndex, tokens: usage.promptTokens, caller: caller,
                    clientModel: plan.model, pricedModel: priced, segmentStartMs: born, expiresMs: born + seconds * 1000,
                    storage: storage))
            await writer.respond(Generation.forwarded(answer))
        }
    }

    func patch(
        _ live: ContextCacheBook.Live, caller: Caller, body: JSONValue, seconds: Int64
    ) throws(FlashgateError) -> GatewayResult {
        let accountant = caches.accountant
        guard let price = accountant.prices.price(for: live.pricedModel) else {
            throw FlashgateError.invalid("no price for \(live.pricedModel)")
        }
        // A period already paid (a cache taken up after a restart) is not paid again: the new
        // one starts where it ends.
        let now = caches.nowMilliseconds()
        let billable = (max(0, now + seconds * 1000 - max(now, live.segmentStartMs)) + 999) / 1000
        let rent = ContextCachePlanner.storageCost(tokens: live.tokens, seconds: billable, price: price)
        let storageAdmitted: Accountant.Admission
        switch accountant.admitStorage(
            caller: caller, clientModel: live.clientModel, upstreamModel: live.pricedModel, route: live.route,
            amount: rent)
        {
        case .reject(let rejected): throw rejected.error
        case .admit(let admitted): storageAdmitted = admitted
        }
        return .deferred { writer in
            var storage = storageAdmitted
            do {
                try await accountant.persist(&storage)
            } catch {
                accountant.release(storage)
                await writer.respond(.error(.reservationNotRecorded, dialect: .google))
                return
            }
            let answer = await forward(live, method: "PATCH", body: JSONWriter.encode(body))
            guard (200..<300).contains(Int(answer.status.code)) else {
                await accountant.settleStorage(storage, cost: .zero)
                await writer.respond(answer)
                return
            }
            let now = caches.nowMilliseconds()
            if let old = caches.book.renewClient(
                live.name, startMs: max(now, live.segmentStartMs), expiresMs: now + seconds * 1000, storage: storage,
                nowMs: now)
            {
                caches.settle([old], endedMs: now)
            } else {
                await accountant.settleStorage(storage, cost: .zero)
            }
            await writer.respond(answer)
        }
    }
}

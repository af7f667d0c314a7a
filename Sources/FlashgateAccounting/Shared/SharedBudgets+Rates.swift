import FlashgateCore

/// Rate-limit chunks from Redis (`RateScript`), asked for on the Redis queue like budget grants:
/// the request path only ever waits on a grant's latch, never on Redis itself.
extension SharedBudgets {
    func rateKey(_ want: RateWant) -> String { "\(config.keyPrefix)rate:{\(want.bucket)}:\(want.window)" }

    /// Asks Redis for the chunks of `request` (one script call for all its buckets) and wakes
    /// whoever waits for them. Unreachable Redis: the outage policy (`RateLeases.finish`).
    package func requestRates(_ request: RateRequest) {
        client.onQueue { [self] session in
            let wants = request.wants
            guard !wants.isEmpty else { return request.latch.finish(durable: true) }
            var args = [config.hostID, "\(2 * RateLeases.windowMs)"]
            for want in wants { args += ["\(want.limit)", "\(want.base)", "\(want.amount)", "\(want.need)"] }
            let result = session.evaluate(RateScript.script, keys: wants.map(rateKey), args: args)
            var answers: [(granted: Int64, clusterLeft: Int64)]?
            if case .success(let reply) = result { answers = RateScript.decode(reply, count: wants.count) }
            if answers == nil, case .success = result {
                logger.error("shared rate limits: unexpected reply from the rate script")
            }
            if answers == nil && config.outage == .localShare { state.withLock { $0.outageGrants += 1 } }
            rates.finish(request, answers: answers)
        }
    }
}

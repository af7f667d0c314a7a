import FlashgateCore

/// Rate limits shared across hosts on the request path: a call takes its RPM and TPM from the
/// chunks this host holds for the current window, in memory; when they are short it waits (in
/// `persist`, never on an event loop) for the grant it asked Redis for, then tries again.
extension Accountant {
    /// Takes the call's rates from held chunks, or notes the grant it must wait for. A token
    /// count (`free`) never waits: it is refused for a second while the next chunk is fetched.
    func leaseRates(_ admission: inout Admission, free: Bool) -> Rejection? {
        guard let shared else { return nil }
        let decision = shared.rates.admit(
            caller: admission.caller, model: admission.clientModel, tokens: admission.estimatedTokens,
            nowMs: nowMilliseconds())
        switch decision {
        case nil:
            return nil
        case .admit(let take, let headroom, let request)?:
            admission.rateTake = take
            admission.ticket?.headroom += headroom
            if let request { shared.requestRates(request) }
            return nil
        case .wait(let latch, let bucket, let request, let mark)?:
            if let request { shared.requestRates(request) }
            if free {
                if let ticket = admission.ticket { limiter.release(ticket, actualTokens: 0, now: clock.now()) }
                return .rateLimit(bucket, retryAfter: .seconds(1))
            }
            admission.rateWait = latch
            admission.rateMark = mark
            return nil
        case .reject(let bucket, let retryAfter)?:
            if let ticket = admission.ticket { limiter.release(ticket, actualTokens: 0, now: clock.now()) }
            return .rateLimit(bucket, retryAfter: retryAfter)
        }
    }

    /// Waits for the chunk grants the call needs, retaking after each; throws the refusal (429
    /// when the window is spent across hosts, 503 `budget_unavailable` when Redis is unreachable
    /// and the outage policy refuses). The caller releases the admission on a throw.
    ///
    /// A call keeps waiting as long as grants keep coming, however many rounds other calls win
    /// first: each round either grants this host more of the window (which the limit bounds) or
    /// leaves the cluster too little for the call, which `admit` refuses. Only a round that
    /// brought nothing — an outage's local share used up — ends the wait with a 429.
    func awaitRates(_ admission: inout Admission) async throws {
        guard let shared, var latch = admission.rateWait, var mark = admission.rateMark else { return }
        admission.rateWait = nil
        admission.rateMark = nil
        while true {
            guard await latch.wait() else {
                throw Rejection.budgetUnavailable(retryAfter: config.shared?.reconnectMax ?? .seconds(1))
            }
            let decision = shared.rates.admit(
                caller: admission.caller, model: admission.clientModel, tokens: admission.estimatedTokens,
                nowMs: nowMilliseconds())
            switch decision {
            case nil:
                return
            case .admit(let take, let headroom, let request)?:
                admission.rateTake = take
                admission.ticket?.headroom += headroom
                if let request { shared.requestRates(request) }
                return
            case .wait(let next, let bucket, let request, let now)?:
                // A request this retake made is sent even if the call gives up: others wait on it.
                if let request { shared.requestRates(request) }
                // The grant brought nothing (an outage's local share is used up): refused like a
                // spent window.
                guard now.isAhead(of: mark) else { throw Rejection.rateLimit(bucket, retryAfter: .seconds(1)) }
                mark = now
                latch = next
            case .reject(let bucket, let retryAfter)?:
                throw Rejection.rateLimit(bucket, retryAfter: retryAfter)
            }
        }
    }
}

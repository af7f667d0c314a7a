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
        case .wait(let latch, let bucket, let request)?:
            if let request { shared.requestRates(request) }
            if free {
                if let ticket = admission.ticket { limiter.release(ticket, actualTokens: 0, now: clock.now()) }
                return .rateLimit(bucket, retryAfter: .seconds(1))
            }
            admission.rateWait = latch
            return nil
        case .reject(let bucket, let retryAfter)?:
            if let ticket = admission.ticket { limiter.release(ticket, actualTokens: 0, now: clock.now()) }
            return .rateLimit(bucket, retryAfter: retryAfter)
        }
    }

    /// Waits for the chunk grants the call needs, retaking after each; throws the refusal (429
    /// when the window is spent across hosts, 503 `budget_unavailable` when Redis is unreachable
    /// and the outage policy refuses). The caller releases the admission on a throw.
    func awaitRates(_ admission: inout Admission) async throws {
        guard let shared, var latch = admission.rateWait else { return }
        var waitingFor = "rate"
        for _ in 0..<8 {
            guard await latch.wait() else {
                throw Rejection.budgetUnavailable(retryAfter: config.shared?.reconnectMax ?? .seconds(1))
            }
            let decision = shared.rates.admit(
                caller: admission.caller, model: admission.clientModel, tokens: admission.estimatedTokens,
                nowMs: nowMilliseconds())
            switch decision {
            case nil:
                admission.rateWait = nil
                return
            case .admit(let take, let headroom, let request)?:
                admission.rateTake = take
                admission.ticket?.headroom += headroom
                admission.rateWait = nil
                if let request { shared.requestRates(request) }
                return
            case .wait(let next, let bucket, let request)?:
                if let request { shared.requestRates(request) }
                latch = next
                waitingFor = bucket
            case .reject(let bucket, let retryAfter)?:
                admission.rateWait = nil
                throw Rejection.rateLimit(bucket, retryAfter: retryAfter)
            }
        }
        admission.rateWait = nil
        // Grants kept coming back too small for this call (other calls took them first, or an
        // outage's local share is used up): refused like a spent window.
        throw Rejection.rateLimit(waitingFor, retryAfter: .seconds(1))
    }
}

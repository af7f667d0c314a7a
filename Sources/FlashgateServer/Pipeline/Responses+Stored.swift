import FlashgateAccounting
import FlashgateCore
import FlashgateWire

/// `GET` and `DELETE /v1/responses/{id}`: a stored answer as its client got it, or its removal.
/// Both identify the caller first; an id the caller's team did not store is a 404.
extension Responses {
    func stored(_ request: GatewayRequest, id: String) throws(FlashgateError) -> GatewayResult {
        let caller: Caller
        do throws(FlashgateError) {
            caller = try accountant.caller(request).get()
        } catch {
            throw request.refused(error, caller: nil)
        }
        // Counted under the caller's team and key (it had been `none`, which is for callers not known).
        request.record?.update { summary in
            summary.team = caller.team
            summary.key = caller.key
        }
        let now = nowMilliseconds()
        if request.method == .DELETE {
            guard conversations.delete(team: caller.team, id: id, nowMs: now) else { throw missing(id) }
            return .immediate(.json(["id": .string(id), "object": "response.deleted", "deleted": true]))
        }
        // The stored answer is the final response object: it cannot be replayed as a stream.
        if let stream = request.queryItem("stream"), stream != "false" {
            throw request.refused(
                .invalid("a stored response is retrieved whole; streaming it (stream=true) is not supported", param: "stream"),
                caller: caller)
        }
        guard let found = conversations.load(team: caller.team, id: id, nowMs: now) else { throw missing(id) }
        return .immediate(.json(found.response))
    }

    private func missing(_ id: String) -> FlashgateError {
        FlashgateError(.notFound, "no stored response with id '\(id)'")
    }
}

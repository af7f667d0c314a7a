import FlashgateAccounting
import FlashgateCore
import Foundation

/// The edge's side of identity: it reads what a request presents — the `Authorization`
/// credential, `x-goog-api-key` (or `?key=`), the Unix peer — and hands plain values to the
/// accountant, which never sees a request.
extension Accountant {
    /// The caller of `request`: a virtual key (Bearer, or x-goog-api-key), the Unix peer, or the
    /// default team. Unknown or missing identity is a 401.
    func caller(_ request: GatewayRequest) -> Result<Caller, FlashgateError> {
        caller(
            bearer: BearerToken.parse(request.headers.first(name: "authorization")),
            // A key in the query is percent-encoded as any query value is (`%2B` for `+`).
            googKey: request.headers.first(name: "x-goog-api-key")
                ?? request.queryItem("key").map { $0.removingPercentEncoding ?? $0 },
            peer: request.peer.map { (uid: $0.uid, gid: $0.gid) })
    }
}

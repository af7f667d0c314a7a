import FlashgateAccounting
import FlashgateCore
import FlashgateWire

/// A refusal rendered for the client: the error in the endpoint's dialect, `Retry-After` in whole
/// seconds when the wait is known, then the refusal's own headers.
extension Rejection {
    func response(_ dialect: Dialect) -> GatewayResponse {
        var response = GatewayResponse.error(error, dialect: dialect)
        if let retryAfter { response.headers.append(("retry-after", String(Self.seconds(retryAfter)))) }
        response.headers += headers
        return response
    }
}

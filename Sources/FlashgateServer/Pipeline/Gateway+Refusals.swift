import FlashgateCore
import FlashgateWire

/// Errors Flashgate answers itself on the model endpoints, before anything is admitted: each is a
/// refusal, noted on the request's record with its reason and whoever the caller turned out to
/// be, so the access log, the metrics and the ledger count it (`RequestRecord.refuse`).
extension Gateway {
    /// The error in `dialect`, noted as a refusal of `caller` (nil: not known, or not yet).
    func refuse(_ error: FlashgateError, _ request: GatewayRequest, caller: Caller?, dialect: Dialect) -> GatewayResult
    {
        request.record?.refuse(RefusalReason(refusing: error), caller: caller)
        return .immediate(.error(error, dialect: dialect))
    }
}

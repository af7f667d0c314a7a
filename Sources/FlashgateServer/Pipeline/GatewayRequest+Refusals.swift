import FlashgateCore

/// Errors Flashgate answers itself on the model endpoints, before anything is admitted: each is a
/// refusal, noted on the request's record with its reason and whoever the caller turned out to
/// be, so the access log, the metrics and the ledger count it (`RequestRecord.refuse`). The
/// endpoint then throws the error; `Gateway.handle` renders it in the request's dialect.
extension GatewayRequest {
    /// `error`, noted as a refusal of `caller` (nil: not known, or not yet), ready to throw.
    func refused(_ error: FlashgateError, caller: Caller?) -> FlashgateError {
        record?.refuse(RefusalReason(refusing: error), caller: caller)
        return error
    }
}

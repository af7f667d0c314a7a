import FlashgateCore

/// Refusals for the ledger's sake: a paid call is answered only when its money is durably
/// covered, so when the ledger cannot take it the call is refused before it goes upstream, with
/// a 503 that says what happened and what to do (never a 200 left unrecorded).
extension Rejection {
    /// The ledger is nearly full (or a write found it full).
    package static func ledgerFull() -> Rejection {
        var error = FlashgateError(
            .unavailable,
            "the usage ledger is full, so Flashgate cannot record new paid calls; the operator must run "
                + "`flashgate ledger compact` or raise ledger.max_size and restart")
        error.code = "ledger_full"
        error.googleDetails = [Self.errorInfo("LEDGER_FULL")]
        // Retrying cannot help until the operator acts: the openai SDKs stop at once.
        return Rejection(limit: .ledgerFull, error: error, retryAfter: nil, headers: [("x-should-retry", "false")])
    }

    /// The ledger's writer queue stayed full for the whole wait: the disk is behind.
    package static func ledgerBusy(wait: Duration) -> Rejection {
        var error = FlashgateError(
            .unavailable, "the usage ledger is behind (its write queue is full); retry shortly")
        error.code = "ledger_busy"
        error.googleDetails = [Self.errorInfo("LEDGER_BUSY")]
        return Rejection(limit: .ledgerBusy, error: error, retryAfter: .seconds(1), headers: [])
    }

    private static func errorInfo(_ reason: String) -> JSONValue {
        ["@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": .string(reason), "domain": "flashgate"]
    }
}

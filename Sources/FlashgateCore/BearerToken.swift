/// The credential in an `Authorization` header, for virtual keys and the admin key alike.
///
/// Invariant: one parser for both, so a key that works in one place works in the other. The
/// `Bearer` scheme is matched case-insensitively (RFC 9110 §11.1); a value without it is taken
/// whole, as a bare key.
package enum BearerToken {
    /// The credential of `authorization`: the value after `Bearer ` (any case), else the value.
    package static func parse(_ authorization: String?) -> String? {
        guard let authorization else { return nil }
        guard authorization.lowercased().hasPrefix("bearer ") else { return authorization }
        return String(authorization.dropFirst(7))
    }
}

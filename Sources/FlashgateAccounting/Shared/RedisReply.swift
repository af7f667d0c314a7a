/// One RESP2 reply, copied out of hiredis so no C memory outlives the call that read it.
package enum RedisReply: Sendable, Equatable {
    case string(String)
    case status(String)
    case integer(Int64)
    case null
    case array([RedisReply])
    /// An error reply (`-ERR …`, `-NOSCRIPT …`): the server answered, the connection is fine.
    case error(String)

    package var integer: Int64? {
        switch self {
        case .integer(let v): v
        case .string(let s): Int64(s)
        default: nil
        }
    }

    package var text: String? {
        switch self {
        case .string(let s), .status(let s): s
        default: nil
        }
    }

    package var array: [RedisReply]? {
        if case .array(let items) = self { return items }
        return nil
    }
}

/// Why a Redis command has no reply. Never carries the password or command arguments.
package struct RedisError: Error, Sendable, CustomStringConvertible {
    package enum Kind: String, Sendable {
        /// No connection (refused, timed out, closed) or in reconnect backoff: the outage policy applies.
        case unreachable
        /// The server answered with an error the caller did not expect.
        case server
    }

    package var kind: Kind
    package var message: String

    package init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    package var description: String { "redis \(kind.rawValue): \(message)" }
}

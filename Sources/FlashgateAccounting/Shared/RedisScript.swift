import Crypto
import Foundation

/// A Lua script and its SHA1, for `EVALSHA` with an `EVAL` fallback.
package struct RedisScript: Sendable {
    package let source: String
    package let sha1: String

    package init(_ source: String) {
        self.source = source
        sha1 = Insecure.SHA1.hash(data: Array(source.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}

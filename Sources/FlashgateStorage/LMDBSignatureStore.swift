import FlashgateCore
import Logging

/// Thought signatures in the non-durable cache environment: losing the last few on a crash only
/// means a stand-in signature goes upstream, so they never wait for a disk flush. A store that
/// fails degrades to "not found" with a warning; it never fails a request.
package final class LMDBSignatureStore: SignatureStore {
    private let env: StoreEnvironment
    private let db: StoreDatabase
    private let logger: Logger

    package init(env: StoreEnvironment, logger: Logger) throws {
        self.env = env
        self.db = try env.database("thought_signatures")
        self.logger = logger
    }

    private func key(_ team: String, _ id: String) -> [UInt8] { Array("\(team)\u{0}\(id)".utf8) }

    package func save(team: String, route: String, signatures: [(toolCallID: String, signature: String)]) {
        guard !signatures.isEmpty else { return }
        do {
            try env.write { txn in
                for item in signatures {
                    try txn.put(db, key: key(team, item.toolCallID), value: Array("\(route)\n\(item.signature)".utf8))
                }
            }
        } catch {
            logger.warning("could not keep thought signatures", metadata: ["error": "\(error)"])
        }
    }

    package func lookup(team: String, toolCallID: String) -> StoredSignature? {
        do {
            return try env.read { txn in
                try txn.withValue(db, key: key(team, toolCallID)) { bytes -> StoredSignature? in
                    guard let newline = bytes.firstIndex(of: 0x0A) else { return nil }
                    return StoredSignature(
                        route: String(decoding: bytes[..<newline], as: UTF8.self),
                        signature: String(decoding: bytes[(newline + 1)...], as: UTF8.self))
                } ?? nil
            }
        } catch {
            logger.warning("could not read thought signatures", metadata: ["error": "\(error)"])
            return nil
        }
    }
}

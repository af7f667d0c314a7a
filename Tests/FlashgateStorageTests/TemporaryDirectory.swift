import Foundation

/// A uniquely named directory under /tmp, removed when the test is done with it.
final class TemporaryDirectory: Sendable {
    let path: String

    init(_ label: String = "store") {
        path = "/tmp/flashgate-storage-test-\(label)-\(getpid())-\(UUID().uuidString)"
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

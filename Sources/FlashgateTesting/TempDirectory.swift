import Foundation

/// A unique, short temporary directory (Unix socket paths must stay under ~100 bytes), removed
/// when the value is released.
package final class TempDirectory: Sendable {
    package let path: String

    package init() throws {
        var template = Array("/tmp/fg-XXXXXX".utf8CString)
        guard let result = mkdtemp(&template) else { throw CocoaError(.fileWriteUnknown) }
        path = String(cString: result)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

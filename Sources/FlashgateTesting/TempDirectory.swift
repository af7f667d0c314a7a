import Foundation

/// A fresh directory under /tmp with a short name, so Unix socket paths inside it stay well
/// under the ~100-byte `sun_path` limit. Invariant: `path` exists from creation until `remove()`.
package struct TempDirectory: Sendable {
    package let path: String

    /// Creates `/tmp/<prefix>-XXXXXX`.
    package init(prefix: String = "fg") throws {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard created != nil else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: "/tmp/\(prefix)-XXXXXX"])
        }
        path = String(decoding: template.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A path inside the directory.
    package func file(_ name: String) -> String { "\(path)/\(name)" }

    /// Deletes the directory and everything in it; missing is fine.
    package func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Runs `body` with a fresh directory and removes it afterwards, also when `body` throws.
    package static func with<T>(prefix: String = "fg", _ body: (TempDirectory) async throws -> T) async throws -> T {
        let directory = try TempDirectory(prefix: prefix)
        defer { directory.remove() }
        return try await body(directory)
    }
}

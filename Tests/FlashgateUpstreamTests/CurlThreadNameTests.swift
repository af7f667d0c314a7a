import Foundation
import Testing

@testable import FlashgateUpstream

/// The libcurl thread is named where `top -H` and `perf` look (it showed as `oot.default-qos`).
@Suite struct CurlThreadNameTests {
    static func threadNames() -> [String] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.compactMap { try? String(contentsOfFile: "/proc/self/task/\($0)/comm", encoding: .utf8) }
            .map { $0.trimmingCharacters(in: .newlines) }
    }

    @Test func theCurlThreadCarriesItsName() throws {
        let transport = try CurlTransport()
        defer { transport.shutdown() }
        #expect(Self.threadNames().contains("flashgate-curl"), "\(Self.threadNames())")
    }
}

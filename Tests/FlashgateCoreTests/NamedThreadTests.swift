import Foundation
import Synchronization
import Testing

@testable import FlashgateCore

/// Flashgate's own threads carry their names where the kernel shows them (`top -H`, `perf`).
@Suite struct NamedThreadTests {
    @Test func theKernelShowsTheName() async {
        let seen = await withCheckedContinuation { (continuation: CheckedContinuation<(String, String), Never>) in
            NamedThread.start("fg-test-thread") {
                let comm = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
                continuation.resume(returning: (NamedThread.currentName, comm))
            }
        }
        #expect(seen.0 == "fg-test-thread")
        #expect(seen.1 == "fg-test-thread\n")
    }
}

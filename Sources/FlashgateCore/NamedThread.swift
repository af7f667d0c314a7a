internal import CSpawn
import Foundation

/// Threads Flashgate starts for itself, named where the kernel shows it (`top -H`, `ps -L`,
/// `perf`, `/proc/<pid>/task/<tid>/comm`): on Linux, Foundation's `Thread.name` stays inside
/// Foundation, and every such thread showed as `oot.default-qos` beside NIO's named event loops.
package enum NamedThread {
    /// The kernel keeps at most 15 bytes of a thread's name.
    package static let maxNameBytes = 15

    /// Starts `body` on a new thread named `name` (at most `maxNameBytes` ASCII bytes) with the
    /// scheduling policy Flashgate chose (`ThreadScheduling`); returns once the thread carries its
    /// name.
    package static func start(_ name: String, _ body: @escaping @Sendable () -> Void) {
        precondition(name.utf8.count <= maxNameBytes, "thread name \(name) is longer than the kernel keeps")
        let named = DispatchSemaphore(value: 0)
        let thread = Thread {
            _ = cspawn_set_thread_name(name)
            ThreadScheduling.applyToCurrentThread()
            named.signal()
            body()
        }
        thread.name = name
        thread.start()
        named.wait()
    }

    /// The calling thread's name as the kernel has it.
    package static var currentName: String {
        var buffer = [CChar](repeating: 0, count: 64)
        guard cspawn_thread_name(&buffer, buffer.count) == 0 else { return "" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

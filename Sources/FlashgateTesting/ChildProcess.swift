import CSpawn
import Glibc

/// A child process for a test (a `redis-server`, a `flashgate` run to be killed), started with
/// `posix_spawn`, its standard output and error on one pipe the test reads, and nothing else of
/// the test process's open descriptors.
///
/// Foundation's `Process` is not used for this: it watches its children through `select(2)`,
/// whose descriptor sets hold descriptors below 1,024 only, and a test process with more open
/// (event loops, curl loops, LMDB stores of earlier tests) had it write past them and crash
/// (`Process.run`, a bad pointer in `memcpy`, once in about fifteen runs of the whole suite).
package final class ChildProcess: Sendable {
    package let pid: pid_t
    /// The read end of the output pipe; -1 when the output is discarded.
    private let output: Int32

    /// How the child ended.
    package enum Ending: Equatable, Sendable {
        case exited(Int32)
        case signalled(Int32)
    }

    /// Starts `path` with `arguments`; its output goes to the pipe `read` reads, or to
    /// /dev/null when `captureOutput` is false.
    package init(path: String, arguments: [String], captureOutput: Bool = true) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var ends: [Int32] = [-1, -1]
        if captureOutput {
            guard cspawn_pipe_cloexec(&ends) == 0 else { throw ChildProcessError.spawn(errno) }
            posix_spawn_file_actions_adddup2(&actions, ends[1], 1)
            posix_spawn_file_actions_adddup2(&actions, ends[1], 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        }
        // The child keeps 0, 1 and 2 only: no listening socket or store of the tests outlives them in it.
        cspawn_close_from(&actions, 3)
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for arg in argv { free(arg) } }
        var child: pid_t = 0
        let result = posix_spawn(&child, path, &actions, nil, argv, environ)
        if captureOutput { close(ends[1]) }
        guard result == 0 else {
            if captureOutput { close(ends[0]) }
            throw ChildProcessError.spawn(result)
        }
        pid = child
        output = captureOutput ? ends[0] : -1
    }

    deinit { if output >= 0 { close(output) } }

    /// The next bytes the child wrote; blocks until there are some, nil at the end (or when the
    /// output is discarded).
    package func read() -> [UInt8]? {
        guard output >= 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(output, $0.baseAddress, $0.count) }
            if count > 0 { return Array(buffer[..<count]) }
            if count == 0 || errno != EINTR { return nil }
        }
    }

    package func signal(_ signal: Int32) { _ = kill(pid, signal) }

    /// Waits for the child to end.
    @discardableResult
    package func wait() -> Ending {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // WIFEXITED / WTERMSIG, which Swift does not import (they are macros).
        let signal = status & 0x7f
        return signal == 0 ? .exited((status >> 8) & 0xff) : .signalled(signal)
    }
}

package enum ChildProcessError: Error, Equatable {
    case spawn(Int32)
}

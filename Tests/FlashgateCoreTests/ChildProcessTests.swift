import FlashgateTesting
import Glibc
import Testing

/// The tests' child processes (`redis-server`, a `flashgate` run killed mid-write) start with
/// `posix_spawn`, whatever the test process holds open. Foundation's `Process` watched children
/// through `select(2)`, whose sets end at descriptor 1,023, and crashed the whole suite twice
/// (`Process.run`, a bad pointer in `memcpy`) when earlier tests had left more open.
@Suite struct ChildProcessTests {
    @Test func aChildStartsWhileTheTestProcessHoldsMoreThan1024Descriptors() throws {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        if limit.rlim_cur < 2_048 {
            limit.rlim_cur = min(limit.rlim_max, 2_048)
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        var held: [Int32] = []
        defer { for fd in held { close(fd) } }
        while held.count < 1_100 {
            let fd = open("/dev/null", O_RDONLY)  // not close-on-exec: only the spawn's own closing keeps it out
            guard fd >= 0 else { break }
            held.append(fd)
        }
        #expect((held.last ?? 0) >= 1_024, "the test could not open enough descriptors")
        let child = try ChildProcess(path: "/bin/sh", arguments: ["-c", "echo ready; ls /proc/self/fd | wc -l"])
        var output: [UInt8] = []
        while let bytes = child.read() { output += bytes }
        #expect(child.wait() == .exited(0))
        let lines = String(decoding: output, as: UTF8.self).split(separator: "\n")
        #expect(lines.first == "ready")
        // 0, 1 and 2, and the directory `ls` reads: none of the test's 1,100.
        #expect((lines.last.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) } ?? 99) <= 4)
    }

    @Test func aKilledChildEndsSignalledAndItsOutputEnds() throws {
        let child = try ChildProcess(path: "/bin/sh", arguments: ["-c", "echo up; exec sleep 600"])
        #expect(child.read().map { String(decoding: $0, as: UTF8.self) } == "up\n")
        child.signal(SIGKILL)
        #expect(child.read() == nil)
        #expect(child.wait() == .signalled(SIGKILL))
    }
}

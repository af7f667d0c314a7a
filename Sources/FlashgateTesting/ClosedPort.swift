import Glibc

/// A loopback TCP port that refuses connections for as long as this value lives: a socket bound
/// to it but not listening. A port freed by a stopped server is no such thing: another test's
/// server may take it meanwhile, and a "dead" route then answers.
package final class ClosedPort: Sendable {
    package let port: Int
    private let fd: Int32

    package init() throws {
        (fd, port) = try Self.loopbackSocket(listening: false)
    }

    /// A TCP socket bound to a free loopback port, listening (a test's own server) or not (a
    /// closed port); the caller closes it.
    package static func loopbackSocket(listening: Bool) throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                bind(fd, raw, length) == 0 && getsockname(fd, raw, &length) == 0 && (!listening || listen(fd, 16) == 0)
            }
        }
        guard fd >= 0, bound else {
            if fd >= 0 { close(fd) }
            throw ClosedPortError(errno: errno)
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    deinit { close(fd) }

    package var baseURL: String { "http://127.0.0.1:\(port)" }
}

package struct ClosedPortError: Error {
    package let errno: Int32
}

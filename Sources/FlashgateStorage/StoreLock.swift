import Foundation
import Synchronization

/// One running Flashgate per store directory: an exclusive `flock` on `<store>/serve.lock`, held
/// for as long as the stores are open. A second server on the same store would otherwise take
/// the first one's open budget leases for what an unclean stop left behind, and charge them as
/// spent (recovery at start). `flock` is released by the kernel if the process dies.
final class StoreLock: Sendable {
    private let fd: Int32
    private let released = Atomic<Bool>(false)

    /// Takes the lock, or throws naming the store when another process holds it.
    init(directory: String) throws(StoreLockError) {
        let path = directory + "/serve.lock"
        let fd = Foundation.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StoreLockError(message: "cannot open \(path) (errno \(errno))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let busy = errno == EWOULDBLOCK
            _ = Foundation.close(fd)
            throw StoreLockError(
                message: busy
                    ? "the store \(directory) is in use by another flashgate serve; stop it first, or give this one its own --store"
                    : "cannot lock \(path) (errno \(errno))")
        }
        self.fd = fd
    }

    /// Lets go of the lock (at shutdown).
    func release() {
        guard !released.exchange(true, ordering: .acquiringAndReleasing) else { return }
        _ = Foundation.close(fd)
    }
}

struct StoreLockError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

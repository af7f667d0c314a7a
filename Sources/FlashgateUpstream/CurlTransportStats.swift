import Synchronization

/// Counters the transport keeps about itself, readable from any thread. They let tests and
/// metrics see that backpressure works (pauses happen, buffered bytes stay bounded) and that
/// cancelled transfers really leave the multi handle.
/// Invariant: only the loop thread writes `liveTransfers`; the others are monotonic or a running
/// maximum and may be written by the loop thread or a consumer.
package final class CurlTransportStats: Sendable {
    /// Transfers currently attached to the multi handle.
    let liveTransfersCounter = Atomic<Int>(0)
    let pausesCounter = Atomic<Int>(0)
    let resumesCounter = Atomic<Int>(0)
    let peakBufferedCounter = Atomic<Int>(0)
    /// Transfers that took a spare easy handle instead of creating one.
    let reusedHandlesCounter = Atomic<Int>(0)
    /// Transfers that took a URL libcurl had already parsed (`CurlParsedURLs`).
    let reusedURLsCounter = Atomic<Int>(0)
    /// Transfers that took a header list built for an earlier call (`CurlHeaderLists`).
    let reusedHeaderListsCounter = Atomic<Int>(0)
    /// libcurl's own resends of a request with a body that were stopped (`CurlTransfer.mayStartSending`).
    let resendsRefusedCounter = Atomic<Int>(0)
    /// libcurl's own resends of a request with a body let through (the connection died at once).
    let resendsCounter = Atomic<Int>(0)

    package var liveTransfers: Int { liveTransfersCounter.load(ordering: .acquiring) }
    package var pauses: Int { pausesCounter.load(ordering: .acquiring) }
    package var resumes: Int { resumesCounter.load(ordering: .acquiring) }
    package var reusedHandles: Int { reusedHandlesCounter.load(ordering: .acquiring) }
    package var reusedURLs: Int { reusedURLsCounter.load(ordering: .acquiring) }
    package var reusedHeaderLists: Int { reusedHeaderListsCounter.load(ordering: .acquiring) }
    package var resendsRefused: Int { resendsRefusedCounter.load(ordering: .acquiring) }
    package var resends: Int { resendsCounter.load(ordering: .acquiring) }
    /// The most body bytes any single response had handed to its consumer but not yet consumed.
    package var peakBufferedBytes: Int { peakBufferedCounter.load(ordering: .acquiring) }

    func noteBuffered(_ bytes: Int) {
        var current = peakBufferedCounter.load(ordering: .relaxed)
        while bytes > current {
            let (exchanged, original) = peakBufferedCounter.compareExchange(
                expected: current, desired: bytes, ordering: .acquiringAndReleasing)
            if exchanged { return }
            current = original
        }
    }
}

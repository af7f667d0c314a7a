import FlashgateCore
import FlashgateWire

/// Remote media on the chat path: the translation left placeholders for http(s) URLs; here
/// they are fetched concurrently, just before the upstream call, and filled in.
///
/// Invariant: a failed fetch is answered here, as a 400 naming the part: by then the response is
/// deferred, so the error cannot be thrown to `Gateway.handle`.
struct MediaFill: Sendable {
    let media: any MediaFetcher

    /// The chat request with every remote media part fetched and inlined, or nil when a fetch
    /// was refused or failed; then the 400 naming the part has already been answered, its field
    /// named by `rename` (a Responses request names `input[…]`, not `messages[…]`).
    func fill(
        _ chat: ChatRequest, writer: ResponseWriter,
        rename: (FlashgateError) -> FlashgateError = { $0 }
    ) async -> ChatRequest? {
        let pending = chat.pendingMedia
        guard !pending.isEmpty else { return chat }
        switch await fetchAll(pending) {
        case .success(let fetched):
            var chat = chat
            chat.fillMedia(fetched)
            return chat
        case .failure(let error):
            writer.record?.refuse(.badInput)
            if !Task.isCancelled { await writer.respond(.error(rename(error), dialect: .openAI)) }
            return nil
        }
    }

    /// Fetches all at once; the first failure cancels the rest and becomes a 400 on its field.
    private func fetchAll(_ pending: [PendingMedia]) async -> Result<[(PendingMedia, FetchedMedia)], FlashgateError> {
        let fetcher = media
        return await withTaskGroup(of: (Int, Result<FetchedMedia, MediaFetchError>).self) { group in
            for (index, item) in pending.enumerated() {
                group.addTask {
                    do throws(MediaFetchError) {
                        // Awaited into a local, never inside the tuple: in release builds Swift 6.3
                        // miscompiles a task's `return (index, .success(try await call()))` when
                        // `call` is in another module, and the group then read bytes of the
                        // fetched media as `index` (a trap, or a part filled with the wrong media).
                        // `Tests/e2e/test_media_fetch.py` runs against the release binary.
                        let media = try await fetcher.fetch(item.url)
                        return (index, .success(media))
                    } catch {
                        return (index, .failure(error))
                    }
                }
            }
            var fetched: [FetchedMedia?] = Array(repeating: nil, count: pending.count)
            for await (index, result) in group {
                switch result {
                case .success(let media):
                    fetched[index] = media
                case .failure(let error):
                    group.cancelAll()
                    let item = pending[index]
                    return .failure(.invalid("cannot use the media at '\(item.param)': \(error.reason)", param: item.param))
                }
            }
            return .success(zip(pending, fetched).compactMap { item, media in media.map { (item, $0) } })
        }
    }
}

/// The fetcher used when none is wired: every remote URL is refused, never fetched.
package struct RefusingMediaFetcher: MediaFetcher {
    package init() {}

    package func fetch(_ url: String) async throws(MediaFetchError) -> FetchedMedia {
        throw MediaFetchError("fetching remote media is not enabled")
    }
}

import FlashgateCore
import Foundation

/// Fetches client-named media over the upstream transport (libcurl in production), enforcing
/// `MediaConfig`: https only unless `allow_http`; every address the host resolves to must be
/// public unless `allow_private_networks`; no redirects (libcurl does not follow them here, and
/// a 3xx is refused); the body may not exceed `max_bytes`; the whole fetch has `timeout`; the
/// Content-Type must be a media type Gemini reads.
///
/// The host is resolved once, here, and the transfer connects to the first address that was
/// checked (`UpstreamRequest.connectAddress`): libcurl never resolves it again, so a DNS server
/// answering with a short TTL cannot pass the check with a public address and then hand the
/// connection a private one (DNS rebinding), and a URL libcurl would read differently from the
/// check still connects to the checked address. With `allow_private_networks` a host this
/// machine cannot resolve (one only a proxy can) is left to libcurl.
package struct UpstreamMediaFetcher: MediaFetcher {
    let transport: any UpstreamTransport
    let config: MediaConfig
    /// Resolves a host name to its addresses; injected so tests need no DNS.
    let resolve: @Sendable (String) async -> [NetworkAddress]

    package init(
        transport: any UpstreamTransport, config: MediaConfig,
        resolve: @escaping @Sendable (String) async -> [NetworkAddress] = HostResolver.resolve
    ) {
        self.transport = transport
        self.config = config
        self.resolve = resolve
    }

    package func fetch(_ url: String) async throws(MediaFetchError) -> FetchedMedia {
        let host = try checkURL(url)
        let addresses = await resolve(host)
        if !config.allowPrivateNetworks {
            guard !addresses.isEmpty else { throw MediaFetchError("cannot resolve the host '\(host)'") }
            for address in addresses {
                if let reason = address.nonPublicReason {
                    throw MediaFetchError(
                        "the host '\(host)' resolves to \(address), \(reason); fetching from private networks is refused")
                }
            }
        }
        let timeouts = UpstreamTimeouts(
            connect: config.timeout, firstByte: config.timeout, idle: config.timeout, total: config.timeout)
        let request = UpstreamRequest(
            method: "GET", url: url,
            headers: [("accept", "image/*, video/*, audio/*, application/pdf, text/*"), ("user-agent", "flashgate")],
            timeouts: timeouts, connectAddress: addresses.first)
        do {
            return try await collect(transport.send(request))
        } catch let error as MediaFetchError {
            throw error
        } catch let error as FlashgateError where error.kind == .upstreamTimeout {
            throw MediaFetchError("fetching it took longer than the \(config.timeout) limit")
        } catch let error as FlashgateError {
            throw MediaFetchError("fetching it failed: \(error.message)")
        } catch {
            throw MediaFetchError("fetching it failed")
        }
    }

    /// The scheme check; returns the host to resolve.
    private func checkURL(_ url: String) throws(MediaFetchError) -> String {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
            var host = components.host, !host.isEmpty
        else { throw MediaFetchError("it is not a valid URL") }
        switch scheme {
        case "https": break
        case "http":
            guard config.allowHTTP else { throw MediaFetchError("plain http:// URLs are refused; use https://") }
        default: throw MediaFetchError("only https:// URLs are fetched")
        }
        // Credentials in a URL are where URL parsers disagree about the host; refusing them keeps
        // the host checked here the one libcurl connects to.
        guard components.user == nil && components.password == nil else {
            throw MediaFetchError("URLs with credentials (user@host) are refused")
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host
    }

    private func collect(_ response: UpstreamResponse) async throws -> FetchedMedia {
        var mimeType = ""
        var bytes: [UInt8] = []
        var status = 0
        for try await event in response {
            switch event {
            case .head(let code, let headers):
                status = code
                guard (200..<300).contains(code) else {
                    let hint = (300..<400).contains(code) ? " (redirects are not followed)" : ""
                    throw MediaFetchError("the server answered HTTP \(code)\(hint)")
                }
                let contentType = headers.value(of: "content-type") ?? ""
                mimeType = MediaTypes.essence(contentType)
                guard MediaTypes.isInlinable(mimeType) else {
                    let shown = mimeType.isEmpty ? "no Content-Type" : "Content-Type \(mimeType)"
                    throw MediaFetchError(
                        "the server answered with \(shown); expected image/*, video/*, audio/*, application/pdf or text/*")
                }
                if let length = headers.first(where: { $0.name.lowercased() == "content-length" }).flatMap({ Int($0.value) }),
                    length > config.maxBytes
                {
                    throw tooLarge()
                }
            case .body(let chunk):
                bytes += chunk
                // Leaving the loop drops the response, which aborts the transfer.
                if bytes.count > config.maxBytes { throw tooLarge() }
            }
        }
        guard status != 0 else { throw MediaFetchError("the server closed the connection without answering") }
        return FetchedMedia(mimeType: mimeType, bytes: bytes)
    }

    private func tooLarge() -> MediaFetchError {
        MediaFetchError("it is larger than the \(config.maxBytes)-byte limit for fetched media")
    }
}

/// `getaddrinfo` off the event loop: it blocks, so it runs on a global queue.
package enum HostResolver {
    package static func resolve(_ host: String) async -> [NetworkAddress] {
        if let literal = NetworkAddress(host) { return [literal] }
        return await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: lookup(host)) }
        }
    }

    static func lookup(_ host: String) -> [NetworkAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else { return [] }
        defer { freeaddrinfo(first) }
        var addresses: [NetworkAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let entry = cursor {
            if let sockaddr = entry.pointee.ai_addr {
                switch entry.pointee.ai_family {
                case AF_INET:
                    let bytes = sockaddr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                        withUnsafeBytes(of: pointer.pointee.sin_addr) { Array($0) }
                    }
                    if let address = NetworkAddress(bytes: bytes) { addresses.append(address) }
                case AF_INET6:
                    let bytes = sockaddr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                        withUnsafeBytes(of: pointer.pointee.sin6_addr) { Array($0) }
                    }
                    if let address = NetworkAddress(bytes: bytes) { addresses.append(address) }
                default: break
                }
            }
            cursor = entry.pointee.ai_next
        }
        return addresses
    }
}

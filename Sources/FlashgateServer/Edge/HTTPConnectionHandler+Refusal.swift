import FlashgateCore
import NIOCore
import NIOHTTP1

/// What the HTTP parser refuses. NIO's decoder stops at the first error and reads no further
/// request from the connection, so the request gets one JSON error and the connection closes.
extension HTTPConnectionHandler {
    package func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        switch refusalTarget {
        case .alreadyRefused:
            return  // more bytes after the refusal: the connection is closing
        case .noHead:
            refuse(
                Self.refusal(for: parserError, limits: limits), method: "-", path: sniffedPath, requestID: nil,
                context: context)
        case .head(let head):
            refuse(
                Self.refusal(for: parserError, limits: limits), method: head.method.rawValue, path: head.uri,
                requestID: head.headers.first(name: "x-request-id"), context: context)
        }
    }

    /// The error a parser failure is answered with: a head over the decoder's size limit (set to
    /// `limits.max_header_bytes`) is 431 like one over the limit Flashgate checks itself; anything
    /// else is a 400 naming the parser's reason (a closed set, never the client's bytes).
    static func refusal(for error: HTTPParserError, limits: LimitsConfig) -> FlashgateError {
        switch error {
        case .headerOverflow: headersTooLarge(limits)
        default: .invalid("the request is not valid HTTP/1.1 (\(error))")
        }
    }

    static func headersTooLarge(_ limits: LimitsConfig) -> FlashgateError {
        FlashgateError(.headersTooLarge, "request headers exceed \(limits.maxHeaderBytes) bytes")
    }
}

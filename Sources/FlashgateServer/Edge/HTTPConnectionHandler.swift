import FlashgateCore
import Glibc

/// Linux's SO_PEERCRED: `struct ucred { pid_t pid; uid_t uid; gid_t gid; }`, which Swift's Glibc
/// module does not import (it needs _GNU_SOURCE); `PeerCredentials` has the same layout.
private let SO_PEERCRED: Int32 = 17
import NIOCore
import NIOHTTP1

/// Serves one client connection: reads each request within the size and time limits, answers
/// what needs no waiting right here on the event loop, and starts a task for the rest.
/// Invariant: at most one request is in progress per connection (pipelined requests wait in
/// `HTTPServerPipelineHandler`), and its task is cancelled when the client goes away. A request
/// refused at the edge (unparsable, over a limit, an unknown expectation) gets exactly one JSON
/// error in the caller's dialect, an access-log line and a count, and the connection closes after
/// it without reading on (see `HTTPConnectionHandler+Refusal.swift`).
package final class HTTPConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    package typealias InboundIn = HTTPServerRequestPart
    package typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case idle
        case readingBody(HTTPRequestHead)
        case rejected
        case responding
    }

    /// The current gateway; each request is handled to its end by the one current when it arrived.
    private let gateways: GatewayHolder
    let limits: LimitsConfig
    private let connections: ConnectionRegistry
    private var state: State = .idle
    /// The body of the request being read (`.readingBody`). Kept out of `State`: appending to a
    /// buffer bound out of an enum payload copied the whole buffer on every append while the
    /// switched-on value still held it, so a body of n reads cost n²/2 bytes of copying (60 MB
    /// took 50 s of a core).
    private var body = ByteBuffer()
    /// A parse error that arrived while the previous response was still being written; answered
    /// once that response is out.
    private var refusalAfterResponse: FlashgateError?
    /// The start of the current request's path, read from its first bytes before the head parses,
    /// so a head the parser refuses is still answered in the caller's dialect.
    var sniffedPath: String?
    private var timer: Scheduled<Void>?
    /// What the client leaving does to the current request's task (see `ClientDeparture`).
    private var departure: ClientDeparture?
    private var keepAlive = true
    private var draining = false
    /// Responses whose end is written and not yet flushed. `HTTPServerPipelineHandler` hands on
    /// the next pipelined request as an end is written, so by then the request that ended is
    /// already over here (`responseEnding`); only its flush is awaited (`responseEnded`).
    private var unflushedEnds = 0
    /// The connection closes once the last response is out: it said `Connection: close`, it was
    /// refused, or the server drains. Requests pipelined behind it are not read.
    private var closing = false
    /// Bytes of the current request seen before its head was parsed (set by `ByteActivityHandler`).
    var awaitingHead: Bool { if case .idle = state { return true } else { return false } }
    /// Bytes arrived while the current response was being made: the client pipelines, and the
    /// socket is left to `HTTPServerPipelineHandler`'s backpressure until the response ends.
    var pipelinedBytes = false

    /// Whether the socket stays registered for reads while the current response is being made
    /// (asked by `ByteActivityHandler` after each read). `HTTPServerPipelineHandler` holds reads
    /// back while a response is pending, which costs two `epoll_ctl` calls a request (reads off,
    /// then on again) for clients that wait for their answer; reading on changes nothing for them.
    /// Not once the client has sent more while we answer (then the pipeline handler's
    /// backpressure holds, so no more than one read's worth of pipelined requests is buffered),
    /// nor when the connection closes after this response.
    var readsAhead: Bool {
        guard case .responding = state else { return false }
        return !pipelinedBytes && keepAlive && !draining
    }

    init(gateways: GatewayHolder, limits: LimitsConfig, connections: ConnectionRegistry) {
        self.gateways = gateways
        self.limits = limits
        self.connections = connections
    }

    private var context: ChannelHandlerContext?
    private var executor: EventLoopTaskExecutor?

    package func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        executor = EventLoopTaskExecutor(context.eventLoop)
    }

    package func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    /// The peer's credentials on a Unix socket, read once when the connection opens.
    private var peer: PeerCredentials?

    package func channelActive(context: ChannelHandlerContext) {
        if context.channel.localAddress?.protocol == .unix, let provider = context.channel as? SocketOptionProvider {
            let future: EventLoopFuture<PeerCredentials> = provider.unsafeGetSocketOption(
                level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            future.whenSuccess { credentials in bound.value.peer = credentials }
        }
        arm(limits.idleTimeout, context: context, reason: .idle)
        context.fireChannelActive()
    }

    package func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        departure?.clientGone()
        departure = nil
        if case .responding = state { connections.requestFinished() }
        state = .rejected
        body = ByteBuffer()
        context.fireChannelInactive()
    }

    package func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is DrainEvent {
            draining = true
            if case .idle = state, unflushedEnds == 0 { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// What a parse error refers to now: no head yet (or a pipelined request after the one being
    /// answered), the head of the request whose body is being read, or a refusal already made.
    enum RefusalTarget {
        case noHead
        case head(HTTPRequestHead)
        case alreadyRefused
    }

    var refusalTarget: RefusalTarget {
        // Closing after the last answer: whatever came after it is not read, so not refused.
        if closing { return .alreadyRefused }
        return switch state {
        case .idle, .responding: .noHead
        case .readingBody(let head): .head(head)
        case .rejected: .alreadyRefused
        }
    }

    /// Called by `ByteActivityHandler` when the first bytes of a request arrive.
    func requestBytesArrived() {
        guard awaitingHead, timerReason != .header, !closing, let context else { return }
        arm(limits.headerTimeout, context: context, reason: .header)
    }

    package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // A request pipelined behind one the connection closes after is never answered.
        guard !closing else { return }
        switch unwrapInboundIn(data) {
        case .head(let head):
            sniffedPath = nil
            keepAlive = head.isKeepAlive && !draining
            if headerBytes(head) > limits.maxHeaderBytes {
                reject(Self.headersTooLarge(limits), head, context)
                return
            }
            // The framing fields, read in one pass over the head (each lookup by name is a pass).
            var length: String?
            var coding: String?
            var expectation: String?
            var upgrade = false
            for field in head.headers {
                let name = field.name.utf8
                switch name.count {
                case 14 where length == nil && ASCIICase.equals(name, "content-length"): length = field.value
                case 17 where coding == nil && ASCIICase.equals(name, "transfer-encoding"): coding = field.value
                case 6 where expectation == nil && ASCIICase.equals(name, "expect"): expectation = field.value
                case 7 where ASCIICase.equals(name, "upgrade"): upgrade = true
                default: break
                }
            }
            let declared = length.flatMap(Int.init)
            // A length the parser took but Int cannot hold (2^63 and up) is over any limit too.
            if length != nil, (declared ?? .max) > limits.maxBodyBytes {
                reject(tooLarge(), head, context)
                return
            }
            // The parser takes `gzip, chunked` as chunked and would hand on the coded bytes as
            // the body; only chunked itself is read.
            if let coding,
                String(decoding: coding.utf8.filter { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") }, as: UTF8.self)
                    .lowercased() != "chunked"
            {
                reject(.invalid("transfer codings other than chunked are not supported; send the body as it is"), head, context)
                return
            }
            // NIO's decoder reads nothing more after an upgrade request or CONNECT: answer it and
            // close, rather than keep a connection whose next request would never be parsed.
            if head.method == .CONNECT || upgrade { keepAlive = false }
            // HTTP/1.0 expectations are ignored (RFC 9110 §10.1.1).
            if head.version.major == 1 && head.version.minor >= 1, let expectation {
                guard expectation.lowercased().filter({ $0 != " " && $0 != "\t" }) == "100-continue" else {
                    let error = FlashgateError(.expectationFailed, "the expectation in the Expect header is not supported")
                    reject(error, head, context)
                    return
                }
                let interim = HTTPResponseHead(version: head.version, status: .continue)
                context.writeAndFlush(wrapOutboundOut(.head(interim)), promise: nil)
            }
            arm(limits.bodyTimeout, context: context, reason: .body)
            let capacity = min(declared ?? 0, limits.maxBodyBytes)
            body = context.channel.allocator.buffer(capacity: capacity)
            state = .readingBody(head)
        case .body(var part):
            guard case .readingBody(let head) = state else { break }
            if body.readableBytes + part.readableBytes > limits.maxBodyBytes {
                reject(tooLarge(), head, context)
                return
            }
            body.writeBuffer(&part)
        case .end:
            guard case .readingBody(let head) = state else { return }
            disarm()
            state = .responding
            let request = body
            body = ByteBuffer()
            dispatch(head: head, body: request, context: context)
        }
    }

    private func dispatch(head: HTTPRequestHead, body: ByteBuffer, context: ChannelHandlerContext) {
        let requestID = RequestID.accept(head.headers.first(name: "x-request-id"))
        var request = GatewayRequest(
            method: head.method, uri: head.uri, headers: head.headers, body: body, requestID: requestID)
        request.peer = peer
        let gateway = gateways.current
        let record = gateway.telemetry.map {
            RequestRecord(requestID: requestID, method: head.method.rawValue, endpoint: "other", sink: $0)
        }
        request.record = record
        let writer = ResponseWriter(
            context: context, handler: self, requestID: requestID, keepAlive: keepAlive, record: record,
            version: head.version)
        connections.requestStarted()
        switch gateway.handle(request) {
        case .immediate(let response):
            write(response, context: context, writer: writer)
        case .deferred(let work):
            let departure = writer.departure
            self.departure = departure
            departure.attach(
                Task(executorPreference: executor) {
                    await work(writer)
                    // A response that never started (the client left first) counts as aborted.
                    record?.finish(aborted: record?.summary.status == 0)
                })
        }
    }

    func write(_ response: GatewayResponse, context: ChannelHandlerContext, writer: ResponseWriter) {
        let head = writer.head(status: response.status, headers: response.headers, contentLength: response.body.count)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if !response.body.isEmpty {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: response.body)))), promise: nil)
        }
        let counted = responseEnding()
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { [self] result in
            // A response that could not be written whole (the client had left, or a field could
            // not be sent) never reached the client, whatever its status was going to be.
            if case .failure = result { writer.record?.finish(aborted: true) } else { writer.record?.finish() }
            responseEnded(context: context, counted: counted)
        }
    }

    /// The connection closes after the current response (an HTTP/1.0 client's streamed answer).
    func closeAfterResponse() { keepAlive = false }

    /// The current response's end is about to be written: its request is over. Called before the
    /// end goes out, because `HTTPServerPipelineHandler` delivers the next pipelined request
    /// inside that write; it must find this connection ready for it, not mistake it later for
    /// the request that ended (which dropped it, cut its stream at the idle timeout and leaked
    /// the in-flight count). Returns whether the request was counted in flight; it stays counted
    /// until its end is flushed, so a drain never closes a connection under an unsent answer.
    func responseEnding() -> Bool {
        departure = nil
        var counted = false
        if case .responding = state { counted = true }
        if case .rejected = state { closing = true }
        if !keepAlive || draining { closing = true }
        state = .idle
        pipelinedBytes = false
        unflushedEnds += 1
        return counted
    }

    /// A response's end is flushed (or failed to be). Once the last one is out: close, answer a
    /// refusal that waited for it, or wait for the next request.
    func responseEnded(context: ChannelHandlerContext, counted: Bool) {
        if counted { connections.requestFinished() }
        unflushedEnds -= 1
        guard unflushedEnds == 0 else { return }
        if !closing, let refusal = refusalAfterResponse {
            refusalAfterResponse = nil
            refuse(refusal, method: "-", path: nil, requestID: nil, context: context)
            return
        }
        if closing || (draining && awaitingHead) {
            context.close(promise: nil)
        } else if awaitingHead, timerReason != .header {
            arm(limits.idleTimeout, context: context, reason: .idle)
        }
    }

    /// Answers an over-limit request at once and closes the connection after it: the rest of its
    /// body is never read.
    private func reject(_ error: FlashgateError, _ head: HTTPRequestHead, _ context: ChannelHandlerContext) {
        refuse(
            error, method: head.method.rawValue, path: head.uri, requestID: head.headers.first(name: "x-request-id"),
            context: context)
    }

    /// Writes the one answer to a request refused at the edge, counted and logged like any other
    /// (endpoint `edge`), and closes the connection once it is out.
    func refuse(
        _ error: FlashgateError, method: String, path: String?, requestID: String?, context: ChannelHandlerContext
    ) {
        disarm()
        keepAlive = false
        if case .responding = state {
            refusalAfterResponse = error
            return
        }
        state = .rejected
        body = ByteBuffer()
        let id = RequestID.accept(requestID)
        let record = gateways.current.telemetry.map {
            RequestRecord(requestID: id, method: method, endpoint: "edge", sink: $0)
        }
        record?.refuse(RefusalReason(refusing: error) ?? .edgeLimit)
        let writer = ResponseWriter(context: context, handler: self, requestID: id, keepAlive: false, record: record)
        write(.error(error, dialect: Endpoint.dialect(ofPath: path)), context: context, writer: writer)
    }

    private func tooLarge() -> FlashgateError {
        FlashgateError(.payloadTooLarge, "request body exceeds the limit of \(limits.maxBodyBytes) bytes")
    }

    private func headerBytes(_ head: HTTPRequestHead) -> Int {
        head.headers.reduce(head.uri.utf8.count) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 }
    }

    // MARK: timers

    private enum TimerReason { case idle, header, body }
    private var timerReason: TimerReason?
    /// When the armed timeout runs out; nil when none is armed.
    private var deadline: NIODeadline?
    /// When the scheduled wake-up (`timer`) comes.
    private var wakeUp: NIODeadline?

    /// Arms one timeout in place of the last. The wake-up is scheduled lazily: a request on a
    /// kept-alive connection moves the deadline three times (header, body, idle), and a wake-up
    /// already due no later than the new deadline is kept — it re-checks the deadline when it
    /// comes — so most arms cost a clock read instead of a cancelled and a new scheduled task.
    private func arm(_ duration: Duration, context: ChannelHandlerContext, reason: TimerReason) {
        timerReason = reason
        let nanos = duration.wholeNanoseconds
        guard nanos > 0 else {
            deadline = nil
            return
        }
        let due = NIODeadline.now() + .nanoseconds(nanos)
        deadline = due
        if timer != nil, let wakeUp, wakeUp <= due { return }
        timer?.cancel()
        schedule(at: due, context: context)
    }

    /// No timeout while a response is being made (a pending wake-up finds nothing to do).
    private func disarm() { deadline = nil }

    private func schedule(at due: NIODeadline, context: ChannelHandlerContext) {
        wakeUp = due
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: due) {
            bound.value.0.wokeUp(context: bound.value.1)
        }
    }

    private func wokeUp(context: ChannelHandlerContext) {
        timer = nil
        wakeUp = nil
        guard let deadline, let reason = timerReason else { return }
        if NIODeadline.now() < deadline {
            schedule(at: deadline, context: context)
            return
        }
        self.deadline = nil
        timerFired(context: context, reason: reason)
    }

    private func timerFired(context: ChannelHandlerContext, reason: TimerReason) {
        switch reason {
        case .idle:
            if awaitingHead { context.close(promise: nil) }
        case .header:
            // No request head was parsed, so there is no request to answer: just close.
            if awaitingHead { context.close(promise: nil) }
        case .body:
            guard case .readingBody(let head) = state else { return }
            reject(FlashgateError(.requestTimeout, "the request body was not received in time"), head, context)
        }
    }
}

/// Sent to every connection at shutdown: close when idle, finish the current request otherwise.
struct DrainEvent {}

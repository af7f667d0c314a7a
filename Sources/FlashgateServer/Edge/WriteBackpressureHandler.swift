import NIOCore

/// Stops reading from a client while the answers already made for it wait to be written (the
/// channel is not writable: its outbound buffer is past the high-water mark). NIO's pipelining
/// handler lets the next request in as soon as a response's end is written, not flushed, so a
/// client that pipelines requests and never reads its answers had the server read, answer and
/// buffer without bound (1.4 GB after 200,000 requests on one connection). Reads resume when the
/// client has taken enough for the channel to be writable again. First in the pipeline, so every
/// read, whoever asks for it, passes here.
final class WriteBackpressureHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    /// A read was asked for while the channel was not writable.
    private var heldRead = false

    func read(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            context.read()
        } else {
            heldRead = true
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if heldRead, context.channel.isWritable {
            heldRead = false
            context.read()
        }
        context.fireChannelWritabilityChanged()
    }
}

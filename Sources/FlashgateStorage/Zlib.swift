internal import CZlib

/// Why a compressed body could not be restored.
package struct ZlibError: Error, Sendable, Equatable, CustomStringConvertible {
    package enum Reason: String, Sendable {
        /// The input is not a zlib stream, or its checksum is wrong.
        case corrupt
        /// The input ended before the stream did.
        case truncated
        /// Bytes follow the end of the stream.
        case trailingData = "trailing_data"
        /// The output would exceed `maxOutputBytes`.
        case outputTooLarge = "output_too_large"
        /// zlib could not get memory or refused its parameters.
        case `internal`
    }

    package var reason: Reason
    package var message: String

    package var description: String { "zlib \(reason.rawValue): \(message)" }
}

/// zlib (RFC 1950) compression for stored bodies. Level 1 is the default: on a 20 KB response it
/// costs half the CPU of level 6 for output only 8–15 % larger. Decompression is bounded, so a
/// corrupt or hostile stored body cannot balloon memory.
package enum Zlib {
    /// zlib format: 15-bit window, with header and Adler-32 trailer.
    private static let windowBits: Int32 = 15
    private static let chunkBytes = 64 << 10

    /// The window and hash-table sizes for an input of `count` bytes: the smallest window that
    /// still spans the whole input (up to zlib's 32 KiB), and a hash table scaled with it.
    /// Setting up and clearing the full-size tables costs ~200k instructions per call, most of
    /// a small entry's compression; a window that spans the input finds the same matches, and
    /// every stream still inflates with the 15-bit window `decompress` uses.
    static func parameters(forInputBytes count: Int) -> (windowBits: Int32, memLevel: Int32) {
        var bits: Int32 = 9
        while bits < windowBits && (1 << bits) < count { bits += 1 }
        return (bits, bits - 7)
    }

    /// Compresses `bytes` at `level` (0 to 9; out-of-range values are clamped).
    package static func compress(_ bytes: [UInt8], level: Int32 = 1) -> [UInt8] {
        var stream = z_stream()
        let sizes = parameters(forInputBytes: bytes.count)
        let rc = czlib_deflateInit2(&stream, min(max(level, 0), 9), sizes.windowBits, sizes.memLevel)
        // Only Z_MEM_ERROR is possible with valid parameters.
        precondition(rc == Z_OK, "deflateInit2 failed with \(rc)")
        defer { deflateEnd(&stream) }
        let bound = Int(deflateBound(&stream, uLong(bytes.count)))
        var output = [UInt8](repeating: 0, count: bound)
        var status: Int32 = Z_OK
        bytes.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { out in
                stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
                stream.next_out = out.baseAddress
                var inputLeft = input.count
                var outputLeft = out.count
                repeat {
                    let inChunk = min(inputLeft, Int(UInt32.max))
                    let outChunk = min(outputLeft, Int(UInt32.max))
                    stream.avail_in = uInt(inChunk)
                    stream.avail_out = uInt(outChunk)
                    let flush = inChunk == inputLeft ? Z_FINISH : Z_NO_FLUSH
                    status = deflate(&stream, flush)
                    inputLeft -= inChunk - Int(stream.avail_in)
                    outputLeft -= outChunk - Int(stream.avail_out)
                } while status == Z_OK
            }
        }
        // deflateBound guarantees room for a single Z_FINISH pass.
        precondition(status == Z_STREAM_END, "deflate failed with \(status)")
        output.removeLast(output.count - Int(stream.total_out))
        return output
    }

    /// Restores a zlib stream whose inflated size is known in advance (a cache entry records it),
    /// straight from borrowed bytes such as a memory-mapped value: one inflate call into an
    /// exactly sized array. Throws unless the stream is whole, checksummed, followed by nothing,
    /// and inflates to exactly `exactOutputBytes`.
    package static func decompress(_ bytes: UnsafeRawBufferPointer, exactOutputBytes: Int) throws(ZlibError) -> [UInt8] {
        guard exactOutputBytes >= 0, bytes.count <= Int(UInt32.max), exactOutputBytes < Int(UInt32.max) else {
            throw ZlibError(reason: .outputTooLarge, message: "sizes beyond 4 GiB are not supported")
        }
        var stream = z_stream()
        let initStatus = czlib_inflateInit2(&stream, windowBits)
        guard initStatus == Z_OK else { throw ZlibError(reason: .internal, message: "inflateInit2 failed with \(initStatus)") }
        defer { inflateEnd(&stream) }
        var status: Int32 = Z_OK
        // One spare byte tells "exactly the expected size" from "more than expected".
        let capacity = exactOutputBytes + 1
        let output = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, initialized in
            stream.next_in = UnsafeMutablePointer(mutating: bytes.baseAddress?.assumingMemoryBound(to: Bytef.self))
            stream.avail_in = uInt(bytes.count)
            stream.next_out = buffer.baseAddress
            stream.avail_out = uInt(capacity)
            status = inflate(&stream, Z_FINISH)
            initialized = capacity - Int(stream.avail_out)
        }
        switch status {
        case Z_STREAM_END where stream.avail_in != 0:
            throw ZlibError(reason: .trailingData, message: "\(stream.avail_in) bytes after the end of the stream")
        case Z_STREAM_END where output.count != exactOutputBytes:
            throw ZlibError(reason: .corrupt, message: "inflated to \(output.count) bytes, expected \(exactOutputBytes)")
        case Z_STREAM_END:
            return output
        case Z_BUF_ERROR where stream.avail_out == 0, Z_OK where stream.avail_out == 0:
            throw ZlibError(reason: .outputTooLarge, message: "output exceeds the expected \(exactOutputBytes) bytes")
        case Z_BUF_ERROR, Z_OK:
            throw ZlibError(reason: .truncated, message: "the input ended before the stream did")
        case Z_DATA_ERROR, Z_NEED_DICT:
            throw ZlibError(reason: .corrupt, message: stream.msg.map { String(cString: $0) } ?? "invalid data")
        default:
            throw ZlibError(reason: .internal, message: "inflate failed with \(status)")
        }
    }

    /// The CRC-32 (the zlib/PNG polynomial) of `bytes`.
    package static func crc32(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        UInt32(truncatingIfNeeded: CZlib.crc32(0, bytes.baseAddress?.assumingMemoryBound(to: Bytef.self), uInt(bytes.count)))
    }

    /// Restores a zlib stream made by `compress`. Throws when the stream is corrupt, truncated,
    /// followed by other bytes, or would inflate to more than `maxOutputBytes`.
    package static func decompress(_ bytes: [UInt8], maxOutputBytes: Int) throws(ZlibError) -> [UInt8] {
        var stream = z_stream()
        let initStatus = czlib_inflateInit2(&stream, windowBits)
        guard initStatus == Z_OK else { throw ZlibError(reason: .internal, message: "inflateInit2 failed with \(initStatus)") }
        defer { inflateEnd(&stream) }

        var output: [UInt8] = []
        output.reserveCapacity(min(maxOutputBytes, max(bytes.count * 4, 256)))
        var chunk = [UInt8](repeating: 0, count: max(1, min(chunkBytes, maxOutputBytes + 1)))
        let result: Result<Void, ZlibError> = bytes.withUnsafeBufferPointer { input in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
            var inputLeft = input.count
            while true {
                let inChunk = min(inputLeft, Int(UInt32.max))
                stream.avail_in = uInt(inChunk)
                let (status, produced) = chunk.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(out.count)
                    let status = inflate(&stream, Z_NO_FLUSH)
                    return (status, out.count - Int(stream.avail_out))
                }
                inputLeft -= inChunk - Int(stream.avail_in)
                if output.count + produced > maxOutputBytes {
                    return .failure(
                        ZlibError(reason: .outputTooLarge, message: "output exceeds the limit of \(maxOutputBytes) bytes"))
                }
                output.append(contentsOf: chunk[0..<produced])
                switch status {
                case Z_STREAM_END:
                    if inputLeft > 0 {
                        return .failure(ZlibError(reason: .trailingData, message: "\(inputLeft) bytes after the end of the stream"))
                    }
                    return .success(())
                case Z_OK:
                    continue
                case Z_BUF_ERROR where inputLeft == 0:
                    return .failure(ZlibError(reason: .truncated, message: "the input ended before the stream did"))
                case Z_BUF_ERROR:
                    continue
                case Z_DATA_ERROR, Z_NEED_DICT:
                    let text = stream.msg.map { String(cString: $0) } ?? "invalid data"
                    return .failure(ZlibError(reason: .corrupt, message: text))
                default:
                    return .failure(ZlibError(reason: .internal, message: "inflate failed with \(status)"))
                }
            }
        }
        try result.get()
        return output
    }
}

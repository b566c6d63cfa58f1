import Glibc
import NBDCore

/// A disk held in memory: a byte array, or a file's bytes cached in 64 KiB chunks with editable head and
/// tail regions (for mutation fuzzing without copying whole images).
final class MemoryDisk: BlockReader {
    let size: UInt64
    var head: [UInt8]
    var tail: [UInt8]
    private let base: BlockReader?
    private var chunks: [UInt64: [UInt8]] = [:]
    private static let chunkSize: UInt64 = 65536

    init(bytes: [UInt8]) {
        size = UInt64(bytes.count)
        head = bytes
        tail = []
        base = nil
    }

    /// `edge` bytes at each end are held as arrays; the rest is read from `base` once and cached.
    init(caching base: BlockReader, edge: Int) throws {
        size = base.size
        let edge = UInt64(min(UInt64(edge), base.size / 2))
        head = try base.read(at: 0, count: Int(edge))
        tail = try base.read(at: base.size - edge, count: Int(edge))
        self.base = base
    }

    func apply(_ writes: [DiskWrite]) {
        for write in writes {
            for (i, byte) in write.bytes.enumerated() { set(write.offset + UInt64(i), byte) }
        }
    }

    func read(at offset: UInt64, count: Int) throws -> [UInt8] {
        guard count >= 0, offset <= size, UInt64(count) <= size - offset else {
            throw SystemError("read", path: "memory disk at \(offset)+\(count)", errno: EINVAL)
        }
        var out: [UInt8] = []
        out.reserveCapacity(count)
        var position = offset
        let end = offset + UInt64(count)
        while position < end {
            if position < UInt64(head.count) {
                let stop = min(end, UInt64(head.count))
                out += head[Int(position)..<Int(stop)]
                position = stop
            } else if position >= tailStart {
                out += tail[Int(position - tailStart)..<Int(end - tailStart)]
                position = end
            } else {
                let key = position / MemoryDisk.chunkSize
                let chunk = try cachedChunk(key)
                let chunkStart = key * MemoryDisk.chunkSize
                let stop = min(end, tailStart, chunkStart + UInt64(chunk.count))
                out += chunk[Int(position - chunkStart)..<Int(stop - chunkStart)]
                position = stop
            }
        }
        return out
    }

    private var tailStart: UInt64 { size - UInt64(tail.count) }

    private func set(_ offset: UInt64, _ value: UInt8) {
        if offset < UInt64(head.count) { head[Int(offset)] = value } else if offset >= tailStart { tail[Int(offset - tailStart)] = value }
    }

    private func cachedChunk(_ key: UInt64) throws -> [UInt8] {
        if let chunk = chunks[key] { return chunk }
        let start = key * MemoryDisk.chunkSize
        let chunk = try base.map { try $0.read(at: start, count: Int(min(MemoryDisk.chunkSize, $0.size - start))) }
            ?? [UInt8](repeating: 0, count: Int(min(MemoryDisk.chunkSize, size - start)))
        chunks[key] = chunk
        return chunk
    }
}

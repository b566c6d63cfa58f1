/// Reads of one logical volume laid out in several linear pieces of the disk, as device-mapper would show it:
/// enough to probe the filesystem of a multi-segment LV before anything is mapped.
final class LVMVolumeReader: BlockReader {
    let size: UInt64
    private let disk: BlockReader
    private let pieces: [LVMDiskPiece]

    init(disk: BlockReader, pieces: [LVMDiskPiece]) {
        self.disk = disk
        self.pieces = pieces
        size = pieces.reduce(0) { $0 &+ $1.size }
    }

    func read(at offset: UInt64, count: Int) throws -> [UInt8] {
        guard offset <= size, UInt64(count) <= size - offset else {
            throw LayoutError("read of \(count) bytes at \(offset) is past the end of a \(size)-byte logical volume")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        var position = offset, base: UInt64 = 0
        for piece in pieces where bytes.count < count {
            defer { base += piece.size }
            guard position < base + piece.size else { continue }
            let within = position - base
            let take = Int(min(UInt64(count - bytes.count), piece.size - within))
            bytes += try disk.read(at: piece.offset + within, count: take)
            position += UInt64(take)
        }
        return bytes
    }
}

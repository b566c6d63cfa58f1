/// Writing: data (with FUA), flush, trim and zeroes, split into pipelined requests.
extension NBDConnection {
    public func write(_ bytes: [UInt8], at offset: UInt64, fua: Bool = false) throws {
        try bytes.withUnsafeBytes { try write($0, at: offset, fua: fua) }
    }

    /// Writes `bytes` at `offset`, split into pipelined requests; `fua` makes each durable before its reply.
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64, fua: Bool = false) throws {
        try operation {
            try check(offset: offset, length: UInt64(bytes.count), for: .write)
            try requireFUA(fua)
            try run(pieces(of: UInt64(bytes.count), by: UInt64(pieceLimit(requestSize))) { position, count in
                NBDRequest(.write, flags: fua ? NBDWire.commandFUA : 0, offset: offset + UInt64(position), length: UInt32(count),
                           payload: UnsafeRawBufferPointer(rebasing: bytes[position..<(position + count)]))
            })
        }
    }

    /// Makes every write already answered durable. A no-op when the server has no write cache to flush.
    public func flush() throws {
        try operation {
            guard export.transmissionFlags.contains(.sendFlush) else { return }
            try runOne(NBDRequest(.flush))
        }
    }

    /// Tells the server the range is no longer needed (with `--discard=unmap`, qcow2 frees the clusters).
    public func trim(at offset: UInt64, length: UInt64) throws {
        try operation {
            try check(offset: offset, length: length, for: .trim)
            guard export.transmissionFlags.contains(.sendTrim) else {
                throw NBDError(.unsupported, "the export '\(export.name)' does not support TRIM")
            }
            try runRanges(.trim, flags: 0, offset: offset, length: length)
        }
    }

    /// Makes the range read as zeroes; `noHole` asks the server to keep it allocated. Servers without
    /// WRITE_ZEROES get ordinary writes of zeroes.
    public func writeZeroes(at offset: UInt64, length: UInt64, noHole: Bool = false, fua: Bool = false) throws {
        try operation {
            try check(offset: offset, length: length, for: .writeZeroes)
            try requireFUA(fua)
            guard export.transmissionFlags.contains(.sendWriteZeroes) else {
                return try writeZeroBuffers(at: offset, length: length, fua: fua)
            }
            let flags = (noHole ? NBDWire.commandNoHole : 0) | (fua ? NBDWire.commandFUA : 0)
            try runRanges(.writeZeroes, flags: flags, offset: offset, length: length)
        }
    }

    func runRanges(_ command: NBDCommand, flags: UInt16, offset: UInt64, length: UInt64) throws {
        try run(pieces(of: length, by: rangeLimit) { position, count in
            NBDRequest(command, flags: flags, offset: offset + UInt64(position), length: UInt32(count))
        })
    }

    func writeZeroBuffers(at offset: UInt64, length: UInt64, fua: Bool) throws {
        let zeroes = [UInt8](repeating: 0, count: Int(min(length, UInt64(pieceLimit(requestSize)))))
        try zeroes.withUnsafeBytes { zero in
            try run(pieces(of: length, by: UInt64(zero.count)) { position, count in
                NBDRequest(.write, flags: fua ? NBDWire.commandFUA : 0, offset: offset + UInt64(position), length: UInt32(count),
                           payload: UnsafeRawBufferPointer(rebasing: zero[..<count]))
            })
        }
    }

    func requireFUA(_ fua: Bool) throws {
        if fua && !export.transmissionFlags.contains(.sendFUA) {
            throw NBDError(.unsupported, "the export '\(export.name)' does not support FUA writes; flush instead")
        }
    }
}

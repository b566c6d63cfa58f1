/// A loop device whose intent is in the run ledger before it is configured, so `cleanup` finds it after a kill -9.
struct RecordedLoopDevice {
    let device: LoopDevice
    /// The ledger entry to release after detaching; nil without a ledger.
    let ledgerEntry: Int?

    static func attach(backingFile: String, offset: UInt64, size: UInt64, readOnly: Bool,
                       ledger: RunLedger?) throws -> RecordedLoopDevice {
        var entry: Int?
        do {
            let device = try LoopDevice.attach(
                backingFile: backingFile, offset: offset, sizeLimit: size, readOnly: readOnly,
                willUse: { path in
                    let resource = LedgerResource.loop(device: path, backingFile: backingFile, offset: offset)
                    if let entry { try ledger?.revise(entry, resource) } else { entry = try ledger?.intend(resource) }
                })
            if let entry {
                try? ledger?.held(entry, .loop(device: device.path, backingFile: backingFile, offset: offset))
            }
            return RecordedLoopDevice(device: device, ledgerEntry: entry)
        } catch {
            if let entry { try? ledger?.released(entry) }
            throw error
        }
    }

    /// Detaches the device, then forgets the record.
    func detach(_ ledger: RunLedger?) throws {
        defer { if let ledgerEntry { try? ledger?.released(ledgerEntry) } }
        try device.detach()
    }
}

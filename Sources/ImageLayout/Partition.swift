/// One partition as Linux would expose it, with offsets in bytes.
public struct Partition: Equatable, Sendable {
    /// Linux numbering: GPT slot + 1; MBR primaries 1–4 and logicals from 5.
    public let number: Int
    public let start: UInt64
    public let size: UInt64
    public let type: PartitionType
    /// GPT partition name (empty names are nil); MBR partitions have none.
    public let name: String?
    /// GPT unique partition GUID, or for MBR the PARTUUID Linux derives ("disksig-NN").
    public let uuid: String?
    /// GPT attribute bits; for MBR, bit 2 (legacy BIOS bootable) mirrors the 0x80 boot flag.
    public let attributes: UInt64
    public let filesystem: FilesystemInfo?

    public var end: UInt64 { start + size }
    /// An MBR extended partition: it only holds the chain of logical partitions.
    public var isExtendedContainer: Bool { type.isExtendedContainer }

    func with(filesystem: FilesystemInfo?) -> Partition {
        Partition(number: number, start: start, size: size, type: type, name: name, uuid: uuid,
                  attributes: attributes, filesystem: filesystem)
    }
}

/// The kind of partition table a disk carries.
public enum PartitionTableType: String, Sendable {
    case gpt, mbr, none
}
